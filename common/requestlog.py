"""One id per request, on every log line of that request, and one access line when it ends.

The id comes from the proxy's X-Request-ID when it sends a sane one (so the proxy's log and ours
join up), otherwise a new one; it goes back in the X-Request-ID response header and in API error
bodies as `request_id`.
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_current: ContextVar[str | None] = ContextVar("omnis_request_id", default=None)
access_logger = logging.getLogger("omnis.requests")


def current_request_id() -> str | None:
    return _current.get()


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record ("-" outside a request) for both log formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current.get() or "-"
        return True


def _who(request) -> dict:
    """The login or the API client behind the request, once authentication has run."""
    from common.models import ApiClient  # this module is loaded by LOGGING, before the apps

    who = {}
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiClient):
        who["client_id"] = auth.pk
    user = getattr(request, "user", None)
    # Anonymous users and API clients (ClientPrincipal) have no pk.
    if user is not None and getattr(user, "pk", None) is not None:
        who["user_id"] = user.pk
    return who


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Cleared when the response is closed (request_finished): Django logs 4xx/5xx after the
        # middleware has returned, and those lines belong to the request too.
        _current.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response[HEADER] = request_id
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            **_who(request),
        }
        access_logger.info(
            "%s %s %s %sms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra=fields,
        )
        return response


@receiver(request_finished)
def _forget_request_id(**kwargs) -> None:
    _current.set(None)
