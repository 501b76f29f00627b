"""The desk's page for one customer: profile, sizes, timeline, notes, what is open, store credit.

One read per section, so the page costs the same number of queries for a customer with three
rows or three thousand; the timeline is paginated.
"""

import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch

from customers.models import Customer, ServiceNote, TimelineEvent, WishlistItem
from customers.services import store_credit_balance
from orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationLine,
    ReservationStatus,
    Return,
    ReturnStatus,
)
from orders.selectors.sizes import usual_sizes

TIMELINE_PAGE_SIZE = 25
NOTES_SHOWN = 50
OPEN_ORDER_STATUSES = [OrderStatus.PLACED, OrderStatus.READY_FOR_PICKUP, OrderStatus.SHIPPED]
OPEN_RETURN_STATUSES = [ReturnStatus.REQUESTED, ReturnStatus.RECEIVED]


@dataclass
class CustomerPage:
    customer: Customer
    sizes: dict[str, dict]
    timeline: Page
    notes: list[ServiceNote]
    open_orders: list[Order]
    holds: list[Reservation]
    open_returns: list[Return]
    store_credit: Decimal
    list_items: int
    active_hold_ids: set[int]


def customer_for_page(customer_id: int) -> Customer | None:
    """The customer, or None; a merged alias is returned as is (the view follows `merged_into`)."""
    return Customer.objects.select_related("preferred_store").filter(pk=customer_id).first()


def customer_page(customer: Customer, *, page: Any = 1) -> CustomerPage:
    """Everything the page shows, in 12 queries whatever the customer's history."""
    events = TimelineEvent.objects.filter(customer=customer).select_related("store", "actor_user")
    timeline = Paginator(events.order_by("-at", "-id"), TIMELINE_PAGE_SIZE).get_page(page)
    default_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    for event in timeline:
        # The time where it happened: the store's clock, else the retailer's.
        event.local_zone = event.store.zone if event.store else default_zone
        event.local_at = event.at.astimezone(event.local_zone)

    notes = list(
        ServiceNote.objects.filter(customer=customer)
        .select_related("store", "author_user", "author_client")
        .order_by("-created_at", "-pk")[:NOTES_SHOWN]
    )
    for note in notes:
        note.local_at = note.created_at.astimezone(note.store.zone if note.store else default_zone)

    holds = list(
        Reservation.objects.filter(customer=customer, status=ReservationStatus.ACTIVE)
        .select_related("store")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReservationLine.objects.select_related("variant__product").order_by("pk"),
            )
        )
        .order_by("expires_at", "pk")
    )
    return CustomerPage(
        customer=customer,
        sizes=usual_sizes(customer),
        timeline=timeline,
        notes=notes,
        open_orders=list(
            Order.objects.filter(customer=customer, status__in=OPEN_ORDER_STATUSES)
            .select_related("pickup_store", "fulfilment_store")
            .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
            .order_by("-created_at", "-pk")
        ),
        holds=holds,
        open_returns=list(
            Return.objects.filter(customer=customer, status__in=OPEN_RETURN_STATUSES)
            .select_related("order", "store")
            .order_by("-created_at", "-pk")
        ),
        store_credit=store_credit_balance(customer),
        list_items=WishlistItem.objects.filter(customer=customer).count(),
        active_hold_ids={hold.pk for hold in holds},
    )
