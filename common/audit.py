"""Login events: every login (admin and desk), failed login, API token issued and logout, with the
caller's address, user agent and path (common.models.LoginEvent, read-only in the admin).

Django's own signals cover the session logins and every failure (`authenticate` reports those of
the token endpoint too, lock-outs included); the token endpoint names its success as a token
issued, and the API logout of a token records itself. The address follows the same trust rule as
django-axes (REMOTE_ADDR unless NUM_PROXIES proxies are trusted): one rule for both.
"""

from axes.helpers import get_client_ip_address
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed

from common.models import LoginEvent, LoginEventKind

# Set on the request by a view whose login is not a session login (the token endpoint).
KIND_ATTRIBUTE = "omnis_login_kind"


def record_login_event(*, kind: str, request, user=None, username: str = "") -> LoginEvent:
    """Writes one LoginEvent for `request` (None outside a request: no address, agent or path)."""
    if user is not None and not username:
        username = user.get_username()
    meta = getattr(request, "META", {})
    return LoginEvent.objects.create(
        kind=kind,
        username=(username or "")[:150],
        user=user if getattr(user, "pk", None) else None,
        ip=get_client_ip_address(request) if request is not None else None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:255],
        path=(getattr(request, "path", "") or "")[:255],
    )


def _logged_in(sender, request, user, **kwargs) -> None:
    kind = getattr(request, KIND_ATTRIBUTE, LoginEventKind.LOGIN)
    record_login_event(kind=kind, request=request, user=user)


def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`; only the username is kept.
    record_login_event(
        kind=LoginEventKind.LOGIN_FAILED,
        request=request,
        username=str(credentials.get("username", "")),
    )


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        record_login_event(kind=LoginEventKind.LOGOUT, request=request, user=user)


def connect_signals() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="omnis-login-event")
    user_login_failed.connect(_login_failed, dispatch_uid="omnis-login-failed-event")
    user_logged_out.connect(_logged_out, dispatch_uid="omnis-logout-event")
