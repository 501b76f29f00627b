"""Rows of several tables written in one round trip.

A workflow step ends by writing a few rows nobody reads back in the same transaction: its
history row, the customer's timeline entry, the outbox message. On PostgreSQL they travel as one
statement (each INSERT a data-modifying WITH query, the ids selected at the end); elsewhere as one
INSERT each. Like `bulk_create`, no save signals are sent, so this is not for audited models
(common.history), whose history rows come from those signals.
"""

from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery, UpdateQuery

from common.compiled import Statement


def update_statement(queryset: QuerySet, **values) -> tuple[str, list]:
    """The UPDATE `queryset.update(**values)` would send, to travel with `insert_rows`."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


class Written(NamedTuple):
    locked: int | None  # rows `locking` locked
    counted: int | None  # rows `counting` selects


def _select(query: QuerySet | Statement) -> tuple[str, list]:
    if isinstance(query, Statement):
        return query
    sql, params = query.order_by().values("pk").query.sql_with_params()
    return sql, list(params)


def insert_rows(
    *rows: Model,
    updates: list[tuple[str, list]] = (),
    locking: QuerySet | Statement | None = None,
    counting: QuerySet | Statement | None = None,
) -> Written:
    """Lock the rows of `locking` (a `select_for_update()` queryset, or its `Statement` from
    common.compiled), run `updates` (from `update_statement`), then INSERT each unsaved instance
    and set its primary key: one statement on PostgreSQL. A row may point at another row of the same call (a line at its reservation,
    the parent listed first). Returns how many rows were locked and how many rows `counting`
    selects, counted as the database stood before this call: the rows written by an earlier
    statement of the transaction count, those of this call do not. (A count that must see what
    was committed while a lock was awaited belongs in a later call than the lock.)"""
    pieces = len(rows) + len(updates) + (locking is not None) + (counting is not None)
    if connection.vendor != "postgresql" or pieces == 1:
        with transaction.atomic(savepoint=False):
            locked = counted = None
            with connection.cursor() as cursor:
                if locking is not None:
                    cursor.execute(*_select(locking))
                    locked = len(cursor.fetchall())
                if counting is not None:
                    sql, params = _select(counting)
                    cursor.execute(f"SELECT count(*) FROM ({sql}) AS counted", params)
                    counted = cursor.fetchone()[0]
                for sql, params in updates:
                    cursor.execute(sql, params)
            for row in rows:
                type(row)._base_manager.bulk_create([row])
        return Written(locked, counted)
    parts, params, selects = [], [], []
    if locking is not None:
        sql, lock_params = _select(locking)
        parts.append(f"locked AS MATERIALIZED ({sql})")
        params.extend(lock_params)
        selects.append("(SELECT count(*) FROM locked)")
    for n, (sql, update_params) in enumerate(updates):
        parts.append(f"changed{n} AS ({sql})")
        params.extend(update_params)
    quote = connection.ops.quote_name
    position = {id(row): n for n, row in enumerate(rows)}
    parents = [_parents_within(row, position) for row in rows]
    first_id = len(selects)
    for n, row in enumerate(rows):
        sql, row_params = _insert_statement(row, parents[n], position)
        parts.append(f"row{n} AS ({sql})")
        params.extend(row_params)
        selects.append(f"(SELECT {quote(row._meta.pk.column)} FROM row{n})")
    if counting is not None:
        sql, count_params = _select(counting)
        selects.append(f"(SELECT count(*) FROM ({sql}) AS counted)")
        params.extend(count_params)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {', '.join(selects)}", params)
        values = cursor.fetchone()
    for n, row in enumerate(rows):
        row.pk = values[first_id + n]
        row._state.adding = False
        row._state.db = connection.alias
        for field in parents[n]:
            # Past the descriptor, which would forget the parent it points at.
            row.__dict__[field.attname] = row._state.fields_cache[field.name].pk
    return Written(
        values[0] if locking is not None else None,
        values[-1] if counting is not None else None,
    )


def _parents_within(row: Model, position: dict[int, int]) -> list:
    """The foreign keys of `row` that point at an unsaved row of the same call."""
    cache = row._state.fields_cache
    return [
        field
        for field in row._meta.local_concrete_fields
        if field.is_relation
        and id(cache.get(field.name)) in position
        and getattr(row, field.attname) is None
    ]


def _insertable_fields(row: Model) -> list:
    meta = row._meta
    return [
        f
        for f in meta.local_concrete_fields
        if not f.generated and (f is not meta.auto_field or row.pk is not None)
    ]


def _reference(row: Model, field, position: dict[int, int]) -> str:
    """The id of the row `field` points at, as its INSERT in the same statement returns it."""
    parent = row._state.fields_cache[field.name]
    pk = connection.ops.quote_name(parent._meta.pk.column)
    return f"(SELECT {pk} FROM row{position[id(parent)]})"


def _insert_statement(row: Model, parents: list, position: dict[int, int]) -> tuple[str, list]:
    """`INSERT … RETURNING pk` of one unsaved row. Written out here rather than by Django's
    insert compiler, which costs more than the database's work for a row (values prepared the
    same way: `pre_save`, then `get_db_prep_save`); a value that is an expression (a database
    default, a function) or a field with its own placeholder goes through the compiler."""
    meta = row._meta
    quote = connection.ops.quote_name
    columns, placeholders, params = [], [], []
    for field in _insertable_fields(row):
        columns.append(quote(field.column))
        if field in parents:
            placeholders.append(_reference(row, field, position))
            continue
        value = field.pre_save(row, True)
        if hasattr(value, "resolve_expression") or hasattr(field, "get_placeholder"):
            return _compiled_insert_statement(row, parents, position)
        placeholders.append("%s")
        params.append(field.get_db_prep_save(value, connection=connection))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(placeholders)}) RETURNING {quote(meta.pk.column)}"
    )
    return sql, params


def _compiled_insert_statement(
    row: Model, parents: list, position: dict[int, int]
) -> tuple[str, list]:
    """The same INSERT by Django's compiler; a key that points at a row of the same statement
    is, while it compiles, the id that row's INSERT returns."""
    for field in parents:
        row.__dict__[field.attname] = RawSQL(_reference(row, field, position), ())
    try:
        query = InsertQuery(type(row))
        query.insert_values(_insertable_fields(row), [row])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [row._meta.pk]
        ((sql, params),) = compiler.as_sql()
    finally:
        for field in parents:
            row.__dict__[field.attname] = None
    return sql, list(params)


def as_prefetched(instance: Model, **related) -> Model:
    """Let `instance.<name>.all()` answer from these objects without a query, as if prefetched:
    a service hands back what it wrote, and the response is built from it."""
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, objects in related.items():
        cache.pop(name, None)
        queryset = getattr(instance, name).all()
        queryset._result_cache = list(objects)
        queryset._prefetch_done = True
        cache[name] = queryset
    return instance
