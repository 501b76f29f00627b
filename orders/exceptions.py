"""Domain errors of the order workflows, each with a stable `code` (409 unless said otherwise)."""

from common.errors import ApplicationError, InvalidInput

# --- orders and click & collect


class AwaitingTransfer(ApplicationError):
    """The goods for this pickup order are still on their way from the warehouse."""

    code = "awaiting_transfer"


class WrongPickupCode(ApplicationError):
    code = "wrong_pickup_code"


class HandOverLocked(ApplicationError):
    """Too many wrong pickup codes: only a manager can unlock the hand-over."""

    code = "handover_locked"


class OrderConflict(ApplicationError):
    code = "order_conflict"


# --- reservations


class ReservationExpired(ApplicationError):
    code = "reservation_expired"


class ExtensionLimit(ApplicationError):
    code = "extension_limit"


class ReservationNotActive(ApplicationError):
    code = "reservation_not_active"


class InvalidReservation(InvalidInput):
    pass


class ReservationLimit(ApplicationError):
    """A customer holds as much as one customer may (active holds, or units in one line)."""

    code = "reservation_limit"


# --- returns and refunds


class ReturnWindowClosed(ApplicationError):
    code = "return_window_closed"


class AlreadyRefunded(ApplicationError):
    code = "already_refunded"


class NothingToRefund(ApplicationError):
    code = "nothing_to_refund"


class RefundFailed(ApplicationError):
    """The payment provider refused or failed; nothing was refunded and the return stays received."""

    code = "refund_failed"
    status = 502
