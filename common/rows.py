"""Rows of several tables written in one round trip.

A workflow step ends by writing a few rows nobody reads back in the same transaction: its
history row, the customer's timeline entry, the outbox message. On PostgreSQL they travel as one
statement (each INSERT a data-modifying WITH query, the ids selected at the end); elsewhere as one
INSERT each. Like `bulk_create`, no save signals are sent, so this is not for audited models
(common.history), whose history rows come from those signals.
"""

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql import InsertQuery, UpdateQuery


def update_statement(queryset: QuerySet, **values) -> tuple[str, list]:
    """The UPDATE `queryset.update(**values)` would send, to travel with `insert_rows`."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def insert_rows(*rows: Model, updates: list[tuple[str, list]] = ()) -> None:
    """Run `updates` (from `update_statement`), then INSERT each unsaved instance and set its
    primary key: one statement on PostgreSQL."""
    if connection.vendor != "postgresql" or len(rows) + len(updates) == 1:
        with transaction.atomic(savepoint=False):
            with connection.cursor() as cursor:
                for sql, params in updates:
                    cursor.execute(sql, params)
            for row in rows:
                type(row)._base_manager.bulk_create([row])
        return
    parts, params, selects = [], [], []
    for n, (sql, update_params) in enumerate(updates):
        parts.append(f"changed{n} AS ({sql})")
        params.extend(update_params)
    quote = connection.ops.quote_name
    for n, row in enumerate(rows):
        meta = row._meta
        fields = [
            f
            for f in meta.local_concrete_fields
            if not f.generated and (f is not meta.auto_field or row.pk is not None)
        ]
        query = InsertQuery(type(row))
        query.insert_values(fields, [row])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [meta.pk]
        ((sql, row_params),) = compiler.as_sql()
        parts.append(f"row{n} AS ({sql})")
        params.extend(row_params)
        selects.append(f"(SELECT {quote(meta.pk.column)} FROM row{n})")
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {', '.join(selects) or 'NULL'}", params)
        ids = cursor.fetchone() if rows else ()
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = connection.alias


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
