"""Serializers of the busiest endpoints that set up their fields cheaply.

DRF gives every serializer instance its own deep copy of the declared fields, and a field's deep
copy runs its `__init__` again with deep copies of its arguments (querysets, choices): on a
reservation that is a tenth of the request. The only state a field gains per instance is what
`bind()` sets on it (name, parent, source), so a plain field is copied shallowly; a nested
serializer is still copied deeply, because its own fields and child are bound to it.
"""

import copy

from rest_framework import serializers


def _copies(fields: dict) -> dict:
    return {
        name: copy.deepcopy(field)
        if isinstance(field, serializers.BaseSerializer)
        else copy.copy(field)
        for name, field in fields.items()
    }


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
