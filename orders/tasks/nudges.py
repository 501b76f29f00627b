"""Celery tasks for nudges: the hourly sweep and one idempotent message per nudge, by the
customer's channel (a marketing message: by SMS only outside the quiet hours)."""

from celery import shared_task
from django.conf import settings

from common import outbox
from customers.messaging import send_to_customer
from customers.models import Customer, DiscountCode, Nudge, WishlistItem
from stores.models import Store


@shared_task
def send_nudges_task() -> int:
    from orders.services.nudges import send_nudges

    return send_nudges(at_local_time=settings.OMNIS_NUDGE_LOCAL_TIME)


def send_marketing_message(
    *, customer: Customer, key: str, template: str, context: dict, store: Store | None
) -> bool:
    """The one way a nudge reaches the customer: by their channel, as marketing (an SMS waits
    for the end of the quiet hours in the local time of `store` or the preferred store)."""
    return send_to_customer(
        customer=customer, key=key, template=template, context=context, marketing=True, store=store
    )


@outbox.handler("orders.send_nudge")
def send_nudge(nudge_id: int) -> bool:
    nudge = (
        Nudge.objects.select_related("customer", "variant__product", "store")
        .filter(pk=nudge_id)
        .first()
    )
    if nudge is None:
        return False
    return send_marketing_message(
        customer=nudge.customer,
        key=f"nudge:{nudge.pk}",
        template="nudge",
        context={
            "customer": nudge.customer,
            "variant": nudge.variant,
            "store": nudge.store,
            "available": nudge.available,
            "low": nudge.available <= settings.OMNIS_NUDGE_LOW_STOCK,
            "reason": nudge.reason,
        },
        store=nudge.store,
    )


@outbox.handler("orders.send_low_stock_nudge")
def send_low_stock_nudge(item_id: int, store_id: int, available: int, week: str) -> bool:
    """Messages queued before nudges were recorded as Nudge rows (same e-mail, same key)."""
    item = (
        WishlistItem.objects.select_related("customer", "variant__product")
        .filter(pk=item_id)
        .first()
    )
    store = Store.objects.filter(pk=store_id).first()
    if item is None or store is None:
        return False
    return send_marketing_message(
        customer=item.customer,
        key=f"wishlist-nudge:{item_id}:{week}",
        template="wishlist_low_stock",
        context={
            "customer": item.customer,
            "variant": item.variant,
            "store": store,
            "available": available,
        },
        store=store,
    )


@outbox.handler("orders.send_discount_offer")
def send_discount_offer(code_id: int) -> bool:
    """A segment campaign's code to its customer (marketing: consent and quiet hours count)."""
    code = (
        DiscountCode.objects.select_related("customer", "issued_at_store")
        .filter(pk=code_id, customer__isnull=False)
        .first()
    )
    if code is None:
        return False
    return send_marketing_message(
        customer=code.customer,
        key=f"discount-offer:{code.pk}",
        template="discount_offer",
        context={"code": code, "store": code.issued_at_store},
        store=code.issued_at_store,
    )
