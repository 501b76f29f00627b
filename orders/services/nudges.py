"""The weekend nudge (journey 5): a listed item that is nearly gone in the customer's store.

A customer who put something on the list and has not bought it since gets one message a week per
item when the preferred store has only a few left ("only one pair left in your size"). It lives in
orders because "has not bought it since" is an order question.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.models import Channel
from customers.models import TimelineKind
from customers.selectors import has_timeline_event, wishlist_items_for_nudges
from customers.services import record_timeline_event
from inventory.selectors import availability
from orders.models.orders import OrderLine, OrderStatus

NUDGE_SUBJECT = "wishlist_nudge"


def nudge_week(now: datetime) -> str:
    year, week, _ = timezone.localtime(now).isocalendar()
    return f"{year}-W{week:02d}"


def send_low_stock_nudges(
    *, now: datetime | None = None, threshold: int = 1, lookback_days: int = 60
) -> int:
    """Queue one "only N left" e-mail per listed item that is down to 1..threshold available at
    the customer's preferred store and was not bought since it was listed.

    Safe to run twice or concurrently in the same week: the timeline entry (subject
    `wishlist_nudge`, id `<item>:<week>`) marks an item as nudged, and the e-mail has the same key.
    Returns the number of messages queued.
    """

    now = now or timezone.now()
    week = nudge_week(now)
    items = list(wishlist_items_for_nudges(since=now - timedelta(days=lookback_days)))
    if not items:
        return 0
    stores = {item.customer.preferred_store_id: item.customer.preferred_store for item in items}
    stock = {
        (row.sku, row.store.pk): row.available
        for row in availability(
            variants=list({item.variant_id: item.variant for item in items}.values()),
            stores=list(stores.values()),
        )
    }
    bought = set(
        OrderLine.objects.filter(
            order__customer_id__in={item.customer_id for item in items},
            variant_id__in={item.variant_id for item in items},
            order__created_at__gte=now - timedelta(days=lookback_days),
        )
        .exclude(order__status=OrderStatus.CANCELLED)
        .values_list("order__customer_id", "variant_id", "order__created_at")
    )
    queued = 0
    for item in items:
        store = item.customer.preferred_store
        available = stock.get((item.variant.sku, store.pk), 0)
        if not 0 < available <= threshold:
            continue
        if any(
            customer_id == item.customer_id
            and variant_id == item.variant_id
            and at >= item.created_at
            for customer_id, variant_id, at in bought
        ):
            continue
        subject_id = f"{item.pk}:{week}"
        with transaction.atomic():
            if has_timeline_event(
                customer=item.customer, subject_type=NUDGE_SUBJECT, subject_id=subject_id
            ):
                continue
            record_timeline_event(
                customer=item.customer,
                kind=TimelineKind.TOUCHPOINT,
                channel=Channel.WEB,
                summary=f"Told: only {available} left of {item.variant.label} at {store.code}",
                actor=Actor.system(),
                store=store,
                sku=item.variant.sku,
                subject_type=NUDGE_SUBJECT,
                subject_id=subject_id,
                data={"available": available},
            )
            outbox.enqueue(
                "orders.send_low_stock_nudge",
                {"item_id": item.pk, "store_id": store.pk, "available": available, "week": week},
                key=f"wishlist-nudge:{item.pk}:{week}",
            )
        queued += 1
    return queued
