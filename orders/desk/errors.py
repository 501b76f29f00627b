"""What the desk says when a domain rule refuses an action.

A domain error carries a stable `code` and an English `detail` written for the API (which stays
English, docs/api.md). The desk shows the detail to English users and, in any other language, the
text for the error's code below; a code without one falls back to the detail.
"""

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from common.errors import ApplicationError

MESSAGES = {
    "insufficient_stock": _("Not enough stock."),
    "illegal_transition": _("Not possible in its current state."),
    "wrong_pickup_code": _("Wrong pickup code."),
    "handover_locked": _("Too many wrong pickup codes: a manager must unlock the hand-over."),
    "not_a_pickup_order": _("This is not a click & collect order."),
    "awaiting_transfer": _("The goods are still on their way from another store."),
    "reservation_expired": _("The reservation has expired."),
    "reservation_not_active": _("The reservation is no longer active."),
    "reservation_limit": _("The customer already holds as much as one customer may."),
    "extension_limit": _("The reservation cannot be extended any further."),
    "not_reserved": _("Not reserved."),
    "return_window_closed": _("The return window has closed."),
    "quantity_not_returnable": _("More than can still be returned."),
    "nothing_to_refund": _("Nothing left to refund."),
    "already_refunded": _("Already refunded."),
    "refund_failed": _("The payment service refused the refund; try again or refund otherwise."),
    "refund_not_retryable": _("This refund cannot be tried again."),
    "insufficient_store_credit": _("Not enough store credit."),
    "discount_code_invalid": _("The discount code cannot be used."),
    "customer_conflict": _("The e-mail address and the phone number belong to two customers."),
    "already_erased": _("This customer's personal data was erased."),
    "stock_conflict": _("The stock changed at the same moment; try again."),
    "busy_try_again": _("Busy for a moment; try again."),
    "permission_denied": _("Your role may not do this."),
    "not_found": _("Not found."),
}


def desk_error(exc: ApplicationError) -> str:
    if (get_language() or "").startswith("en"):
        return exc.detail
    text = MESSAGES.get(exc.code)
    return str(text) if text is not None else exc.detail


def english() -> bool:
    """Field-by-field details of a domain error are written in English (for the API)."""
    return (get_language() or "").startswith("en")
