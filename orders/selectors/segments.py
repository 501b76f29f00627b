"""Segments: a saved list of conditions becomes one SQL query over customers.

Each condition is an EXISTS (or a column filter) on the customer; all must hold. The format is in
customers.segment_rules; the admin refuses rules that do not follow it, and a rule that slipped
through anyway matches nobody rather than everybody.
"""

import csv
import io
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, Segment, TimelineEvent, TimelineKind
from customers.segment_rules import validate_rules
from inventory.models import Variant
from orders.models.orders import Order, OrderLine, OrderStatus
from orders.models.reservations import Reservation, ReservationStatus

CSV_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "preferred_store",
    "contact_channel",
)


def _condition(rule: dict, now: datetime) -> Q:
    name = rule["rule"]
    since = now - timedelta(days=rule["days"]) if "days" in rule else None
    if name == "bought_in_channel":
        # Bought in every channel named (e.g. in the store and online), each within the period.
        q = Q()
        for channel in rule["channels"]:
            q &= Q(
                Exists(
                    Order.objects.filter(
                        customer=OuterRef("pk"), channel=channel, created_at__gte=since
                    ).exclude(status=OrderStatus.CANCELLED)
                )
            )
        return q
    if name == "reserved_not_collected":
        # Released (expired or cancelled) without being collected.
        return Q(
            Exists(
                Reservation.objects.filter(
                    customer=OuterRef("pk"),
                    status=ReservationStatus.RELEASED,
                    created_at__gte=since,
                )
            )
        )
    if name == "preferred_store":
        return Q(preferred_store__code=rule["store"])
    if name == "size":
        # The size given in the profile; without one for the category, a size bought and kept.
        category, size = rule["category"], rule["size"]
        bought = OrderLine.objects.filter(
            order__customer=OuterRef("pk"),
            variant__product__category__slug=category,
            variant__attributes__size=size,
            quantity__gt=F("returned"),
        ).exclude(order__status=OrderStatus.CANCELLED)
        return Q(**{f"sizes__{category}": size}) | (~Q(sizes__has_key=category) & Q(Exists(bought)))
    if name == "viewed_product":
        # Any variant of the product the SKU belongs to.
        skus = Variant.objects.filter(product__variants__sku=rule["sku"]).values("sku")
        return Q(
            Exists(
                TimelineEvent.objects.filter(
                    customer=OuterRef("pk"),
                    kind=TimelineKind.PRODUCT_VIEW,
                    sku__in=skus,
                    at__gte=since,
                )
            )
        )
    raise ValueError(f"unknown segment rule {name!r}")


def segment_members(segment: Segment, *, now: datetime | None = None) -> QuerySet[Customer]:
    """The customers (not merged aliases) who meet every condition of the segment, by id."""
    now = now or timezone.now()
    customers = Customer.objects.filter(merged_into__isnull=True)
    if validate_rules(segment.rules):
        return customers.none()
    for rule in segment.rules:
        customers = customers.filter(_condition(rule, now))
    return customers.order_by("pk")


def _cell(value) -> str:
    if value is None:
        return ""
    value = str(value)
    # A name starting like a formula must not run in the spreadsheet that opens the file
    # (phone numbers start with "+" and stay as they are).
    if value[:1] in ("=", "@", "-") or (value[:1] == "+" and not value[1:].isdigit()):
        return "'" + value
    return value


def members_csv(segment: Segment) -> str:
    """The members as CSV, one row per customer (the columns a mailing or a call list needs)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in segment_members(segment).values_list(
        "pk",
        "first_name",
        "last_name",
        "email",
        "phone",
        "preferred_store__code",
        "contact_channel",
    ):
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()
