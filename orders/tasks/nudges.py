"""Celery tasks for the weekend nudge: the weekly sweep and one idempotent message per item, by
the customer's channel (a marketing message: by SMS only outside the quiet hours)."""

from celery import shared_task

from common import outbox
from customers.messaging import send_to_customer
from customers.models import WishlistItem
from stores.models import Store


@shared_task
def send_weekend_nudges() -> int:
    from orders.services.nudges import send_low_stock_nudges

    return send_low_stock_nudges()


@outbox.handler("orders.send_low_stock_nudge")
def send_low_stock_nudge(item_id: int, store_id: int, available: int, week: str) -> bool:
    item = (
        WishlistItem.objects.select_related("customer", "variant__product")
        .filter(pk=item_id)
        .first()
    )
    store = Store.objects.filter(pk=store_id).first()
    if item is None or store is None:
        return False
    return send_to_customer(
        customer=item.customer,
        key=f"wishlist-nudge:{item_id}:{week}",
        template="wishlist_low_stock",
        context={
            "customer": item.customer,
            "variant": item.variant,
            "store": store,
            "available": available,
        },
        marketing=True,
        store=store,
    )
