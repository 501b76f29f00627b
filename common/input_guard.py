"""Text and numbers no database column can hold are refused at the door, in one place.

PostgreSQL rejects NUL characters in text, UTF-8 cannot encode a lone surrogate (JSON allows both
as `\\u0000` / `\\ud800`), and an integer beyond 64 bits overflows every integer column. Each of
them used to surface deep in a view as a 500. `RefuseUnstorableInput` checks the path, the query
string and form posts of every request; `common.parsers.JSONParser` checks API bodies as they are
parsed. Both answer 400 in the contract's error body (the API) or as a plain 400 page (the desk).
"""

from collections.abc import Iterator
from typing import Any

from django.http import Http404, HttpResponseBadRequest, JsonResponse

from common.exceptions import error_body

# The widest integer column (bigint); ids and quantities above it name nothing.
MAX_ID = 2**63 - 1
UNSTORABLE_TEXT = "NUL characters and unpaired surrogates are not allowed."
# Form posts Django parses itself (request.POST); the API's JSON is checked by its parser.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUMBER_TOO_LARGE = f"Numbers must be between {-MAX_ID - 1} and {MAX_ID}."


def is_unstorable_text(value: str) -> bool:
    if "\x00" in value:
        return True
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unstorable_values(data: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(field path, message) for each string or integer in `data` that cannot be stored."""
    if isinstance(data, str):
        if is_unstorable_text(data):
            yield where or "non_field_errors", UNSTORABLE_TEXT
    elif isinstance(data, bool):
        return
    elif isinstance(data, int):
        if not -MAX_ID - 1 <= data <= MAX_ID:
            yield where or "non_field_errors", NUMBER_TOO_LARGE
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and is_unstorable_text(key):
                yield (where or "non_field_errors"), UNSTORABLE_TEXT
            else:
                yield from unstorable_values(value, name)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from unstorable_values(value, f"{where}.{index}" if where else str(index))


def _first_problems(pairs: Iterator[tuple[str, str]]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field, message in pairs:
        errors.setdefault(field, [message])
        if len(errors) >= 10:
            break
    return errors


def _query_dict_items(query) -> Iterator[str]:
    for key, values in query.lists():
        yield key
        yield from values


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


class RefuseUnstorableInput:
    """400 for a path, query string or form post carrying NUL or an unpaired surrogate; 404 for a
    path id beyond the largest id (the database would overflow looking it up)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        errors: dict[str, list[str]] = {}
        if is_unstorable_text(request.path_info):
            errors["path"] = [UNSTORABLE_TEXT]
        if any(is_unstorable_text(v) for v in _query_dict_items(request.GET)):
            errors["query"] = [UNSTORABLE_TEXT]
        if request.method == "POST" and request.content_type in FORM_TYPES:
            bad = [k for k, vs in request.POST.lists() if any(map(is_unstorable_text, [k, *vs]))]
            for key in bad[:10]:
                errors[key if not is_unstorable_text(key) else "non_field_errors"] = [
                    UNSTORABLE_TEXT
                ]
        if errors:
            if _is_api(request):
                return JsonResponse(error_body(400, "Invalid input.", errors), status=400)
            return HttpResponseBadRequest(
                "Invalid input: " + UNSTORABLE_TEXT, content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        for value in [*view_args, *view_kwargs.values()]:
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
                if _is_api(request):
                    return JsonResponse(error_body(404, "Not found.", code="not_found"), status=404)
                raise Http404("No such object.")
        return None


def unstorable_input_errors(data: Any) -> dict[str, list[str]]:
    return _first_problems(unstorable_values(data))
