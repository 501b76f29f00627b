"""One exception handler: every error leaves the API as {"type", "detail", "errors"}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from common.errors import ApplicationError
from common.requestlog import current_request_id
from common.retry import Busy, is_retryable

ERROR_TYPES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "server_error",
    503: "busy",
}
# Every `type` an error body can carry ("error": a status without a name of its own).
ERROR_TYPE_VALUES = sorted({*ERROR_TYPES.values(), "error"})


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {field: _as_list(value) for field, value in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": _as_list(detail)}
    return {}


def _as_list(value):
    if isinstance(value, dict):
        return [_field_errors(value)]
    if isinstance(value, list):
        return [_as_list(v) if isinstance(v, dict | list) else str(v) for v in value]
    return [str(value)]


def error_body(status_code: int, detail: str, errors: dict | None = None, **extra) -> dict:
    body = {"type": ERROR_TYPES.get(status_code, "error"), "detail": detail, "errors": errors or {}}
    body.update(extra)
    # Quoted by the caller to support, it finds every log line of the failed request.
    if request_id := current_request_id():
        body.setdefault("request_id", request_id)
    return body


def server_error(request, *args, **kwargs):
    """handler500: API callers get the usual JSON error body (with its request id), not HTML."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(500, "Server error."), status=500)
    return defaults.server_error(request, *args, **kwargs)


# Errors Django answers before any API view runs (no URL matches, e.g. /customers/abc/; a body
# that cannot be parsed): API callers get the same JSON error body as from the views.


def bad_request(request, exception, *args, **kwargs):
    """handler400."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(400, "Bad request."), status=400)
    return defaults.bad_request(request, exception, *args, **kwargs)


def permission_denied(request, exception, *args, **kwargs):
    """handler403."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(403, "You may not do this."), status=403)
    return defaults.permission_denied(request, exception, *args, **kwargs)


def page_not_found(request, exception, *args, **kwargs):
    """handler404."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(404, "Not found."), status=404)
    return defaults.page_not_found(request, exception, *args, **kwargs)


def api_exception_handler(exc, context):
    if isinstance(exc, DatabaseError) and is_retryable(exc):
        # Only reached where no retry could run (it is done around the outermost transaction).
        exc = Busy("The records are busy right now; nothing was saved. Please try again.")
    if isinstance(exc, ApplicationError):
        body = error_body(exc.status, exc.detail, exc.errors, code=exc.code, **exc.extra)
        response = Response(body, status=exc.status)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(error_body(400, "Invalid input.", errors), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(400, "Invalid input.", _field_errors(exc.detail))
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
        response.data = error_body(response.status_code, str(detail), code=code)
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = "Token"
    return response
