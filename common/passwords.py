"""Django's password validators (AUTH_PASSWORD_VALIDATORS) for every service that sets a
password; their messages come back as the `password` field's errors."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from common.errors import InvalidInput


def check_new_password(password: str, *, user=None, detail: str = "Invalid password.") -> None:
    """Raises InvalidInput with every validator's message when the password is too weak."""
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(detail, errors={"password": list(exc.messages)})
