"""A discount code spent on an order: one use taken before the order row is written (so its total,
the confirmation and the order.created webhook already show the discount), then the redemption
and the customer's timeline — all inside the order's transaction."""

from decimal import Decimal

from common.actor import Actor
from customers.discounts import take_discount_code_use
from customers.models import Customer, DiscountCode, TimelineKind
from customers.services import record_timeline_event
from orders.models import DiscountRedemption, Order


def take_discount(
    *, customer: Customer, subtotal: Decimal, code: str | None
) -> tuple[DiscountCode | None, Decimal]:
    """One use of `code` for an order about to be created: (the code, the discount), or (None,
    0.00) without a code. Runs inside the order's transaction, before any stock row is locked.

    Raises customers.discounts.DiscountCodeInvalid (409 discount_code_invalid) when the code may
    not be used; the caller's transaction then writes nothing.
    """
    if not code:
        return None, Decimal("0.00")
    return take_discount_code_use(code=code, customer=customer, subtotal=subtotal)


def record_redemption(*, actor: Actor, order: Order, code: DiscountCode) -> DiscountRedemption:
    """Which order spent the code, on the redemption list and on the customer's timeline."""
    redemption = DiscountRedemption.objects.create(
        code=code, order=order, customer=order.customer, amount=order.discount
    )
    store = order.pickup_store or order.fulfilment_store
    record_timeline_event(
        customer=order.customer,
        kind=TimelineKind.DISCOUNT_CODE_REDEEMED,
        channel=order.channel,
        summary=(
            f"Discount code {code.code} spent on order {order.number} "
            f"({order.get_channel_display()}): {order.discount} off"
        ),
        actor=actor,
        store=store,
        subject_type="order",
        subject_id=order.number,
        data={
            "code": code.code,
            "order": order.number,
            "channel": order.channel,
            "discount": str(order.discount),
            "issued_at_store": code.issued_at_store.code if code.issued_at_store_id else None,
        },
        campaign=code.campaign,
    )
    return redemption
