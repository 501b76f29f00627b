"""Domain errors as operator-readable CommandError messages."""

from django.core.management.base import CommandError

from common.errors import ApplicationError


def command_error(exc: ApplicationError) -> CommandError:
    details = "; ".join(
        f"{field}: {' '.join(map(str, messages))}" for field, messages in exc.errors.items()
    )
    return CommandError(f"{exc.detail} {details}".strip())
