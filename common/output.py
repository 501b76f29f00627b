"""Serializers of the busiest endpoints that set up their fields cheaply.

DRF gives every serializer instance its own deep copy of the declared fields, and a field's deep
copy runs its `__init__` again with deep copies of its arguments (querysets, choices): on a
reservation that is a tenth of the request. The only state a field gains per instance is what
`bind()` sets on it (name, parent, source), so each field is copied shallowly. A nested
serializer builds its own fields when first asked (from its class, not from the one copied),
and the child of a list is copied with it and points at the new list.
"""

from rest_framework import serializers

# What a serializer works out once per instance (cached properties): never carried to a copy.
_PER_INSTANCE = ("fields", "_readable_fields", "_writable_fields")


def _copy(field: serializers.Field) -> serializers.Field:
    # Cheaper than copy.copy, which goes through __reduce_ex__ for every field.
    new = object.__new__(type(field))
    state = field.__dict__.copy()
    for name in _PER_INSTANCE:
        state.pop(name, None)
    new.__dict__ = state
    if isinstance(field, serializers.ListSerializer):
        new.child = _copy(field.child)
        new.child.parent = new  # the rest of what bind() set is the same for every copy
    return new


def _copies(fields: dict) -> dict:
    return {name: _copy(field) for name, field in fields.items()}


class Input(serializers.Serializer):
    """An input serializer whose declared fields are copied shallowly per instance. Its fields
    must not be changed in place (set attributes on `self.fields[...]`, never mutate them)."""

    def get_fields(self):
        return _copies(self._declared_fields)


class ModelOutput(serializers.ModelSerializer):
    """A ModelSerializer reads the model's fields and builds a field object for each, every time
    it is instantiated (once per answer, once per nested list). The result only depends on the
    class, so it is built once and copied afterwards."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        return _copies(built)
