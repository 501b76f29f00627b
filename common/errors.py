"""One error class for the whole domain. Business code raises these; the API maps them to HTTP."""

from typing import Any


class ApplicationError(Exception):
    """A domain rule refused the operation. Default: 409 conflict with a stable `code`."""

    code = "conflict"
    status = 409

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: dict[str, list[Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.errors = errors or {}
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    """Input that the domain refuses field by field (400)."""

    code = "invalid"
    status = 400


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class Forbidden(ApplicationError):
    code = "permission_denied"
    status = 403


class IllegalTransition(ApplicationError):
    code = "illegal_transition"

    def __init__(self, workflow: str, current: str, target: str) -> None:
        super().__init__(
            f"A {workflow} that is {current} cannot become {target}.",
            extra={"current_status": current, "requested_status": target},
        )


def move_status(obj, transitions: dict, target: str, workflow: str) -> str:
    """Check one step of a workflow's transition table; returns the previous status."""
    current = obj.status
    if target not in transitions.get(current, set()):
        raise IllegalTransition(workflow, current, target)
    obj.status = target
    return current
