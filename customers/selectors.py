"""Reads about customers: the phone desk's look-up and the single customer view."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery, prefetch_related_objects

from common.compiled import CompiledQuery
from customers.messaging import marketing_channels
from customers.models import Consent, Customer, TimelineEvent, TimelineKind, WishlistItem
from customers.normalise import normalise_email, normalise_phone
from inventory.models import Variant
from stores.models import StaffRole
from stores.selectors import staff_roles

RECENT_MAX = 50


# Every order placed by a webshop or the desk looks its customer up: compiled once.
_CUSTOMER = CompiledQuery(lambda pk: Customer.objects.filter(pk=pk, merged_into__isnull=True))


def customer_by_id(pk: int) -> Customer | None:
    """The customer with this id, unless unknown or merged into another record."""
    return _CUSTOMER.first(pk=pk)


def open_consents() -> Prefetch:
    """Prefetch of the consents not withdrawn, where consents.current_consents looks first."""
    return Prefetch(
        "consents",
        queryset=Consent.objects.filter(withdrawn_at__isnull=True).order_by("purpose", "channel"),
        to_attr="open_consents",
    )


def with_open_consents(customers: Iterable[Customer]) -> None:
    """Read the open consents of many customers in one query (before asking each one's)."""
    prefetch_related_objects(list(customers), open_consents())


def find_customers(
    *, phone: str | None = None, email: str | None = None, q: str | None = None
) -> QuerySet[Customer]:
    """Look up customers by phone in any format, e-mail (any case), or a name fragment."""
    qs = (
        Customer.objects.filter(merged_into__isnull=True)
        .select_related("preferred_store")
        .prefetch_related(open_consents())
    )
    # Contact data left on a merged alias still finds the surviving customer.
    if phone:
        try:
            phone = normalise_phone(phone)
        except ValidationError:
            return qs.none()
        qs = qs.filter(Q(phone=phone) | Q(aliases__phone=phone))
    if email:
        try:
            email = normalise_email(email)
        except ValidationError:
            return qs.none()
        qs = qs.filter(Q(email=email) | Q(aliases__email=email))
    if q:
        for word in q.split():
            qs = qs.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
    return qs.distinct()


def may_search_by_name(user) -> bool:
    """A name search lists many people's contact data: service agents and managers only (the
    customer API's `q` and the desk's search box)."""
    if getattr(user, "is_superuser", False):
        return True
    return bool(staff_roles(user) & {StaffRole.SERVICE_AGENT, StaffRole.MANAGER})


def customer_timeline(customer: Customer) -> QuerySet[TimelineEvent]:
    return (
        TimelineEvent.objects.filter(customer=customer)
        .select_related("store", "actor_user", "actor_client")
        .order_by("-at", "-id")
    )


def wishlist_of(customer: Customer) -> QuerySet[WishlistItem]:
    return (
        WishlistItem.objects.filter(customer=customer)
        .select_related("variant__product", "added_by_user", "store")
        .order_by("-created_at", "-id")
    )


def may_send_marketing(customer: Customer) -> bool:
    """May we send this customer a marketing message (a nudge)? The one place that decides.

    Only by a channel with a marketing consent that counts (e-mail: confirmed by the link; SMS:
    given) and an address we can use; a merged alias or a customer who wants no contact gets
    none. customers.messaging sends a marketing message by the first such channel.
    """
    return customer.merged_into_id is None and bool(marketing_channels(customer))


def wishlist_items_for_nudges(*, since) -> QuerySet[WishlistItem]:
    """List items added since `since`: candidates for an "only a few left" message (whether the
    customer may get one is may_send_marketing's question)."""
    return (
        WishlistItem.objects.filter(created_at__gte=since, customer__merged_into__isnull=True)
        .select_related("customer__preferred_store", "variant__product")
        .order_by("pk")
    )


def recently_viewed(customer: Customer, *, limit: int = 20) -> list[dict]:
    """Products the customer looked at, newest first, one entry per product (the variant seen
    last): {"sku", "name", "category", "at"} for the webshop's "continue shopping"."""
    variant = Variant.objects.filter(sku=OuterRef("sku"))
    views = (
        TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.PRODUCT_VIEW)
        .exclude(sku="")
        .annotate(
            product_id=Subquery(variant.values("product_id")[:1]),
            name=Subquery(variant.values("product__name")[:1]),
            category=Subquery(variant.values("product__category__slug")[:1]),
        )
        .filter(product_id__isnull=False)
        .order_by("-at", "-id")
        .values("sku", "name", "category", "at", "product_id")
    )
    seen: set[int] = set()
    result = []
    # Read in pages: a customer who viewed one product a hundred times still gets `limit` products.
    for row in views.iterator(chunk_size=200):
        if row["product_id"] in seen:
            continue
        seen.add(row["product_id"])
        result.append({key: row[key] for key in ("sku", "name", "category", "at")})
        if len(result) == limit:
            break
    return result


def has_timeline_event(*, customer: Customer, subject_type: str, subject_id: str) -> bool:
    return TimelineEvent.objects.filter(
        customer=customer, subject_type=subject_type, subject_id=subject_id
    ).exists()
