"""The API's JSON parser: refuses what no column can hold before any view sees it (see
common.input_guard)."""

from rest_framework import parsers
from rest_framework.exceptions import ValidationError

from common.input_guard import unstorable_input_errors


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        errors = unstorable_input_errors(data)
        if errors:
            raise ValidationError(errors)
        return data
