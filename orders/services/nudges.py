"""Nudges: "only one left" of something the customer wants and has not bought.

Two sources feed the sweep: an item on the customer's list (journey 5, the weekend nudge), and a
product the customer looked at twice within two weeks without buying it ("viewed again, not
bought"). Stock is counted at the preferred store, or online (the warehouses) for a customer
without one, and the message says which. A segment can be nudged about one variant by hand.

At most one nudge per customer, variant and week, whatever the source and however many sweeps
overlap: the Nudge row's unique constraint decides (insert, on conflict nothing); only the run
whose row went in writes the timeline entry and queues the message. It lives in orders because
"has not bought it since" is an order question.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.models import Channel
from customers.models import (
    Customer,
    Nudge,
    NudgeReason,
    Segment,
    TimelineEvent,
    TimelineKind,
)
from customers.selectors import (
    may_send_marketing,
    open_consents,
    wishlist_items_for_nudges,
    with_open_consents,
)
from customers.services import record_timeline_event
from inventory.models import Variant
from inventory.selectors import availability
from orders.models.orders import OrderLine, OrderStatus
from stores.models import Store

NUDGE_TOPIC = "orders.send_nudge"
NUDGE_SUBJECT = "nudge"
VIEWED_AGAIN_DAYS = 14
VIEWS_NEEDED = 2


def nudge_week(now: datetime) -> str:
    year, week, _ = timezone.localtime(now).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Candidate:
    customer: Customer
    variant: Variant
    reason: str
    # A purchase at or after this moment means "bought": of the variant, or of any variant of
    # the product when the customer looked at the product.
    since: datetime
    any_variant: bool = False


def _listed(*, now: datetime, lookback_days: int) -> list[Candidate]:
    return [
        Candidate(item.customer, item.variant, NudgeReason.LISTED, item.created_at)
        for item in wishlist_items_for_nudges(since=now - timedelta(days=lookback_days))
    ]


def _viewed_again(*, now: datetime, days: int) -> list[Candidate]:
    """Products (any variant) viewed at least twice in the last `days` days; the nudge is about
    the variant seen last (it carries the size and colour the customer chose)."""
    since = now - timedelta(days=days)
    views = (
        TimelineEvent.objects.filter(
            kind=TimelineKind.PRODUCT_VIEW,
            at__gte=since,
            at__lte=now,
            customer__merged_into__isnull=True,
        )
        .exclude(sku="")
        .annotate(
            product_id=Subquery(
                Variant.objects.filter(sku=OuterRef("sku")).values("product_id")[:1]
            )
        )
        .filter(product_id__isnull=False)
    )
    pairs = {
        (row["customer_id"], row["product_id"])
        for row in views.values("customer_id", "product_id")
        .annotate(views=Count("id"))
        .filter(views__gte=VIEWS_NEEDED)
    }
    if not pairs:
        return []
    last_seen: dict[tuple[int, int], str] = {}
    for customer_id, product_id, sku in (
        views.filter(customer_id__in={c for c, _ in pairs})
        .order_by("-at", "-id")
        .values_list("customer_id", "product_id", "sku")
    ):
        last_seen.setdefault((customer_id, product_id), sku)
    customers = Customer.objects.select_related("preferred_store").in_bulk({c for c, _ in pairs})
    variants = Variant.objects.select_related("product").in_bulk(
        [sku for pair, sku in last_seen.items() if pair in pairs], field_name="sku"
    )
    return [
        Candidate(
            customers[customer_id],
            variants[last_seen[(customer_id, product_id)]],
            NudgeReason.VIEWED_AGAIN,
            since,
            any_variant=True,
        )
        for (customer_id, product_id) in sorted(pairs)
    ]


class StockCounter:
    """Available units per variant at a store or online (the active warehouses), read at once."""

    def __init__(self, variants: list[Variant], stores: list[Store]):
        self.warehouses = list(Store.objects.filter(is_warehouse=True, is_active=True))
        rows = availability(variants=variants, stores=[*stores, *self.warehouses])
        self.by_pair = {(row.sku, row.store.pk): row.available for row in rows}

    def count(self, variant: Variant, store: Store | None) -> int:
        if store is not None:
            return self.by_pair.get((variant.sku, store.pk), 0)
        return sum(self.by_pair.get((variant.sku, w.pk), 0) for w in self.warehouses)


def _bought(candidates: list[Candidate]) -> set[tuple[int, int, bool]]:
    """Keys (customer, variant, any_variant) of the candidates bought at or after their
    `since` (orders not cancelled). One query."""
    if not candidates:
        return set()
    earliest = min(c.since for c in candidates)
    lines = (
        OrderLine.objects.filter(
            order__customer_id__in={c.customer.pk for c in candidates},
            variant__product_id__in={c.variant.product_id for c in candidates},
            order__created_at__gte=earliest,
        )
        .exclude(order__status=OrderStatus.CANCELLED)
        .values_list("order__customer_id", "variant_id", "variant__product_id", "order__created_at")
    )
    by_customer: dict[int, list[tuple[int, int, datetime]]] = {}
    for customer_id, variant_id, product_id, at in lines:
        by_customer.setdefault(customer_id, []).append((variant_id, product_id, at))
    bought = set()
    for c in candidates:
        for variant_id, product_id, at in by_customer.get(c.customer.pk, ()):
            same = (
                product_id == c.variant.product_id if c.any_variant else variant_id == c.variant.pk
            )
            if same and at >= c.since:
                bought.add((c.customer.pk, c.variant.pk, c.any_variant))
    return bought


def _is_send_time(customer: Customer, now: datetime, at: time) -> bool:
    """Is it the configured hour where the customer shops (the preferred store's time zone)?"""
    store = customer.preferred_store
    zone = store.zone if store is not None else timezone.get_default_timezone()
    return now.astimezone(zone).hour == at.hour


def claim_nudge(
    *,
    customer: Customer,
    variant: Variant,
    week: str,
    reason: str,
    store: Store | None,
    available: int,
    segment: Segment | None = None,
) -> int | None:
    """Insert the Nudge row unless the customer already had one for this variant this week.

    Returns the new row's id, or None when the row existed. INSERT … ON CONFLICT DO NOTHING: a
    concurrent sweep's insert of the same key waits for ours to commit and then inserts nothing,
    so "one per week" holds without looking first.
    """
    table = connection.ops.quote_name(Nudge._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} "  # noqa: S608 - the table name comes from the model
            "(customer_id, variant_id, week, reason, store_id, available, segment_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (customer_id, variant_id, week) DO NOTHING RETURNING id",
            [
                customer.pk,
                variant.pk,
                week,
                reason,
                store.pk if store else None,
                available,
                segment.pk if segment else None,
                timezone.now(),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _nudge(
    *,
    candidate: Candidate,
    week: str,
    store: Store | None,
    available: int,
    segment: Segment | None = None,
    actor: Actor | None = None,
) -> bool:
    customer, variant = candidate.customer, candidate.variant
    with transaction.atomic():
        nudge_id = claim_nudge(
            customer=customer,
            variant=variant,
            week=week,
            reason=candidate.reason,
            store=store,
            available=available,
            segment=segment,
        )
        if nudge_id is None:
            return False
        where = store.code if store else "online"
        record_timeline_event(
            customer=customer,
            kind=TimelineKind.TOUCHPOINT,
            channel=Channel.WEB,
            summary=f"Told: only {available} left of {variant.label} {where}"
            if available <= settings.OMNIS_NUDGE_LOW_STOCK
            else f"Told: {variant.label} available {where}",
            actor=actor or Actor.system(),
            store=store,
            sku=variant.sku,
            subject_type=NUDGE_SUBJECT,
            subject_id=nudge_id,
            data={"available": available, "reason": candidate.reason, "week": week},
        )
        outbox.enqueue(NUDGE_TOPIC, {"nudge_id": nudge_id}, key=f"nudge:{nudge_id}")
    return True


def send_nudges(
    *,
    now: datetime | None = None,
    threshold: int | None = None,
    lookback_days: int = 60,
    viewed_days: int = VIEWED_AGAIN_DAYS,
    at_local_time: time | None = None,
) -> int:
    """Queue one "only N left" message per listed or twice-viewed item that is down to
    1..threshold available where the customer shops and was not bought since.

    `at_local_time`: only customers for whom it is that hour now (the beat runs hourly).
    Safe to run twice or concurrently: see claim_nudge. Returns the number of messages queued.
    """
    now = now or timezone.now()
    threshold = settings.OMNIS_NUDGE_LOW_STOCK if threshold is None else threshold
    week = nudge_week(now)
    found = [
        *_listed(now=now, lookback_days=lookback_days),
        *_viewed_again(now=now, days=viewed_days),
    ]
    with_open_consents(c.customer for c in found)
    candidates = [
        c
        for c in found
        if may_send_marketing(c.customer)
        and (at_local_time is None or _is_send_time(c.customer, now, at_local_time))
    ]
    if not candidates:
        return 0
    stock = StockCounter(
        list({c.variant.pk: c.variant for c in candidates}.values()),
        list({s.pk: s for c in candidates if (s := c.customer.preferred_store)}.values()),
    )
    bought = _bought(candidates)
    queued = 0
    for candidate in candidates:
        store = candidate.customer.preferred_store
        available = stock.count(candidate.variant, store)
        if not 0 < available <= threshold:
            continue
        if (candidate.customer.pk, candidate.variant.pk, candidate.any_variant) in bought:
            continue
        if _nudge(candidate=candidate, week=week, store=store, available=available):
            queued += 1
    return queued


def send_low_stock_nudges(**kwargs) -> int:
    """The weekend nudge's name for send_nudges (management command, older callers)."""
    return send_nudges(**kwargs)


def nudge_segment(
    *, actor: Actor, segment: Segment, variant: Variant, now: datetime | None = None
) -> int:
    """Send the nudge message about `variant` to the segment's members who may get marketing,
    with the stock where each of them shops; members with none available there get nothing.
    A member nudged about the variant this week already is skipped (the Nudge constraint).
    Returns the number of messages queued."""
    from orders.selectors.segments import segment_members

    now = now or timezone.now()
    week = nudge_week(now)
    members = [
        m
        for m in segment_members(segment)
        .select_related("preferred_store")
        .prefetch_related(open_consents())
        if may_send_marketing(m)
    ]
    stock = StockCounter(
        [variant], list({s.pk: s for m in members if (s := m.preferred_store)}.values())
    )
    queued = 0
    for member in members:
        available = stock.count(variant, member.preferred_store)
        if available <= 0:
            continue
        candidate = Candidate(member, variant, NudgeReason.SEGMENT, now)
        if _nudge(
            candidate=candidate,
            week=week,
            store=member.preferred_store,
            available=available,
            segment=segment,
            actor=actor,
        ):
            queued += 1
    return queued
