"""What erasing a customer does to orders, reservations and returns (customers.privacy.erasure).

The documents stay for the accounting retention; only what identifies the person goes: the
delivery address, free-text notes and reasons the customer may have written.
"""

from customers.privacy import erasure
from orders.models import Order, Reservation, Return, ReturnLine
from orders.models.discounts import DiscountRedemption

# Which order spent which code, for how much: accounting, no personal text.
erasure.keep(DiscountRedemption._meta.label_lower)


@erasure.register(Order._meta.label_lower)
def erase_orders(*, customer, actor) -> None:
    Order.objects.filter(customer=customer).exclude(shipping_address={}).update(
        shipping_address={"erased": True}
    )


@erasure.register(Reservation._meta.label_lower)
def erase_reservations(*, customer, actor) -> None:
    Reservation.objects.filter(customer=customer).exclude(note="").update(note=erasure.ERASED_TEXT)


@erasure.register(Return._meta.label_lower)
def erase_returns(*, customer, actor) -> None:
    ReturnLine.objects.filter(return_request__customer=customer).exclude(reason_text="").update(
        reason_text=erasure.ERASED_TEXT
    )
    Return.objects.filter(customer=customer).exclude(window_override_reason="").update(
        window_override_reason=erasure.ERASED_TEXT
    )
