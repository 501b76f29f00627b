"""Password logins: the lock-out answer after too many failures (django-axes), and tokens that end
when a login's password changes.

Lock-out: axes counts failed logins per username and address on every password login (the admin's
login page, which the desk uses too, and POST /api/v1/auth/token/); after AXES_FAILURE_LIMIT
failures the pair is refused for AXES_COOLOFF_TIME, even with the right password. The API answers
403 with code "locked_out" in the standard error body, the admin and desk a plain 403 page.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.http import HttpResponse, JsonResponse

from common.errors import ApplicationError
from common.exceptions import error_body

log = logging.getLogger(__name__)

LOCKED_OUT = "Too many failed logins: this login is locked for {minutes} minutes from here."


def _cool_off_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


class LockedOut(ApplicationError):
    code = "locked_out"
    status = 403


def locked_out_error() -> LockedOut:
    return LockedOut(LOCKED_OUT.format(minutes=_cool_off_minutes()))


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked-out login attempt answers."""
    minutes = _cool_off_minutes()
    retry_after = str(minutes * 60)
    if request.path_info.startswith("/api/"):
        exc = locked_out_error()
        response = JsonResponse(error_body(403, exc.detail, code=exc.code), status=403)
    else:
        response = HttpResponse(
            LOCKED_OUT.format(minutes=minutes) + " Ask a manager if it cannot wait.",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = retry_after
    return response


# --- a new password ends every token of the login ---------------------------------------------


def _password_changing(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    instance._omnis_password_changed = False
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    # check_password() re-hashing with a newer hasher saves only the password and leaves
    # `_password` unset: the same password, so the tokens stay.
    rehash = update_fields is not None and set(update_fields) == {"password"}
    if rehash and getattr(instance, "_password", None) is None:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True)
    instance._omnis_password_changed = stored.first() not in (None, instance.password)


def _password_changed(sender, instance, created=False, raw=False, **kwargs) -> None:
    if created or raw or not getattr(instance, "_omnis_password_changed", False):
        return
    instance._omnis_password_changed = False
    from common.services import revoke_tokens_of_login

    count = revoke_tokens_of_login(user=instance)
    if count:
        log.info("Password of %s changed: %d API token(s) revoked", instance.get_username(), count)


def connect_signals() -> None:
    """Every path that stores a new password (admin, commands, Django's password change view,
    set_password + save anywhere) saves the user: one place catches them all."""
    user_model = get_user_model()
    pre_save.connect(_password_changing, sender=user_model, dispatch_uid="omnis-password-changing")
    post_save.connect(_password_changed, sender=user_model, dispatch_uid="omnis-password-changed")
