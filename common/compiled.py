"""Querysets compiled once per process, then run with new values.

Django compiles a queryset into SQL every time it runs. For the few statements of a busy write
(the customer's row to lock, the SKUs of an order) the compiling costs more than the database's
work: about half a millisecond each on a 2-vCPU machine, against 0.15–0.4 ms for the round trip.
A `CompiledQuery` compiles its queryset once per database and shape, with stand-in values, and
remembers where the stand-ins sit among the parameters; each later call puts its own values in
their places. The queryset stays the one definition of the statement.

A value the database adapter changes on its way (a datetime on SQLite becomes text) is not found
among the parameters; nor is one Django writes into the SQL itself, nor one beyond its column's
range (Django answers that with no rows instead of SQL). Such a statement is compiled on every
call, exactly as Django would, so the answer never depends on the cache.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators


class Statement(NamedTuple):
    """SQL and its parameters, as `cursor.execute` takes them."""

    sql: str
    params: list


# Longer lists are compiled per call: one shape per length would keep ever more SQL around.
_LONGEST_KEPT = 100


class _Slot(NamedTuple):
    name: str
    index: int | None  # the element of a list value; None for a single value


# Stand-ins: values no caller passes, of the caller's value's type, unlike each other.
# Within a 32-bit column's range: Django turns a lookup beyond a field's range into "no rows".
_BASE_INT = 2_147_483_647 - 7_919
_BASE_TIME = datetime(1901, 2, 3, 4, 5, 6, 7_000, tzinfo=UTC)


def _stand_in(kind: type, n: int) -> Any:
    if kind is int:
        return _BASE_INT - n
    if kind is str:
        return f"\x1fstand-in {n}\x1f"
    if kind is datetime:
        return _BASE_TIME + timedelta(microseconds=n)
    raise TypeError(f"CompiledQuery takes int, str, datetime or a list of them, not {kind}")


def _kind(value: Any) -> type:
    # bool is an int to Python but a constant to SQL (WHERE is_active = true): not a slot.
    if isinstance(value, bool) or not isinstance(value, int | str | datetime):
        raise TypeError(f"CompiledQuery takes int, str, datetime or a list of them, not {value!r}")
    return int if isinstance(value, int) else str if isinstance(value, str) else datetime


class _Compiled(NamedTuple):
    sql: str
    params: list  # as compiled: constants, and stand-ins where `slots` says
    slots: list[_Slot | None]
    converters: list[tuple[int, list, Any]]  # as Django's compiler converts each column
    instances: "_Instances | None"  # a queryset of model instances: how to build them


class _Instances(NamedTuple):
    """What Django's ModelIterable works out from the compiler before it reads any row."""

    model: type
    start: int
    end: int
    init_list: list[str]
    populators: list  # select_related: one per related model, each filling its own columns
    annotations: dict[str, int]


class CompiledQuery:
    """`build(**values)` returns the queryset; `statement(**values)` is its SQL for these values,
    `rows(**values)` its rows (a `values_list` queryset: the values converted as Django would),
    `objects(**values)` its model instances (a model queryset, `select_related` included), as
    iterating the queryset would build them.

    Values are int, str or datetime, or a list of one of them (`sku__in=`); a list's length is
    part of the shape, so each length up to 100 is compiled once (longer ones every time).
    Duplicates in a list are dropped first, as Django's `__in` does; an empty list where Django
    needs a match gives no rows (`rows`, `objects`) or EmptyResultSet (`statement`), as compiling
    the queryset would."""

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self._shapes: dict[tuple, _Compiled | None] = {}

    def statement(self, using: str = "default", **values: Any) -> Statement:
        compiled, params = self._bind(using, values)
        return Statement(compiled.sql, params)

    def rows(self, using: str = "default", **values: Any) -> list[tuple]:
        try:
            compiled, params = self._bind(using, values)
        except EmptyResultSet:
            return []  # an empty list where a match is required: Django sends nothing either
        return self._fetch(using, compiled, params)

    @staticmethod
    def _fetch(using: str, compiled: _Compiled, params: list) -> list[tuple]:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for position, functions, expression in compiled.converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def objects(self, using: str = "default", **values: Any) -> list:
        try:
            compiled, params = self._bind(using, values)
        except EmptyResultSet:
            return []
        recipe = compiled.instances
        if recipe is None:
            raise TypeError("objects() needs a queryset of model instances, not of values")
        found = []
        for row in self._fetch(using, compiled, params):
            instance = recipe.model.from_db(using, recipe.init_list, row[recipe.start : recipe.end])
            for populator in recipe.populators:
                populator.populate(row, instance)
            for name, position in recipe.annotations.items():
                setattr(instance, name, row[position])
            found.append(instance)
        return found

    def first(self, using: str = "default", **values: Any):
        """The first instance `objects()` gives, or None."""
        found = self.objects(using, **values)
        return found[0] if found else None

    def _bind(self, using: str, values: dict) -> tuple[_Compiled, list]:
        values = {
            name: list(dict.fromkeys(value)) if isinstance(value, list | tuple | set) else value
            for name, value in values.items()
        }
        if any(
            isinstance(value, list) and not 0 < len(value) <= _LONGEST_KEPT
            for value in values.values()
        ):
            # An empty IN matches nothing: Django raises EmptyResultSet rather than compile it.
            # A long list (an import's chunk) costs more than its compiling: not kept either.
            compiled = self._compile(using, values)
            return compiled, compiled.params
        shape = (
            using,
            connections[using].vendor,
            tuple(
                (name, _kind(value[0]), len(value))
                if isinstance(value, list)
                else (name, _kind(value), None)
                for name, value in sorted(values.items())
            ),
        )
        if shape not in self._shapes:
            self._shapes[shape] = self._learn(using, shape[2])
        compiled = self._shapes[shape]
        if compiled is None:
            compiled = self._compile(using, values)
            return compiled, compiled.params
        params = [
            constant
            if slot is None
            else values[slot.name]
            if slot.index is None
            else values[slot.name][slot.index]
            for constant, slot in zip(compiled.params, compiled.slots, strict=True)
        ]
        return compiled, params

    def _compile(self, using: str, values: dict) -> _Compiled:
        queryset = self.build(**values)
        if queryset._known_related_objects:
            # A related manager's queryset sets the parent on each row; build from the model's.
            raise TypeError("CompiledQuery needs a queryset from the model's manager")
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = [
            (position, functions, expression)
            for position, (functions, expression) in compiler.get_converters(fields).items()
        ]
        return _Compiled(
            sql,
            list(params),
            [None] * len(params),
            converters,
            _instances(compiler, using) if queryset._iterable_class is ModelIterable else None,
        )

    def _learn(self, using: str, shape: Sequence[tuple]) -> _Compiled | None:
        """Compile with stand-ins and find them among the parameters; None when one is missing."""
        counter = iter(range(1_000_000))
        stand_ins: dict[str, Any] = {}
        where: dict[tuple[type, Any], _Slot] = {}
        for name, kind, length in shape:
            if length is None:
                value = _stand_in(kind, next(counter))
                where[(kind, value)] = _Slot(name, None)
            else:
                value = [_stand_in(kind, next(counter)) for _ in range(length)]
                for index, element in enumerate(value):
                    where[(kind, element)] = _Slot(name, index)
            stand_ins[name] = value
        try:
            compiled = self._compile(using, stand_ins)
        except (EmptyResultSet, FullResultSet):
            return None  # a stand-in beyond the field's range (a small integer): compile each time
        slots = [
            where.get((type(p), p)) if type(p) in (int, str, datetime) else None
            for p in compiled.params
        ]
        if {slot for slot in slots if slot is not None} != set(where.values()):
            return None
        return compiled._replace(slots=slots)


def _instances(compiler, using: str) -> _Instances:
    select_fields = compiler.klass_info["select_fields"]
    start, end = select_fields[0], select_fields[-1] + 1
    return _Instances(
        compiler.klass_info["model"],
        start,
        end,
        [column[0].target.attname for column in compiler.select[start:end]],
        get_related_populators(compiler.klass_info, compiler.select, using),
        dict(compiler.annotation_col_map or {}),
    )
