"""Reads about reservations, shaped for the API, the phone desk and the store desk."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, ServiceNote
from inventory.models import StockItem, Variant
from orders.models import Reservation, ReservationLine, ReservationStatus
from stores.models import Store
from stores.selectors import is_service_agent, store_ids_for_staff, stores_by_distance


def reservations() -> QuerySet[Reservation]:
    """Reservations with everything their API body and desk rows show, in a fixed query count."""
    return Reservation.objects.select_related(
        "store", "customer", "order", "created_by_user", "created_by_client"
    ).prefetch_related(
        Prefetch(
            "lines",
            queryset=ReservationLine.objects.select_related("variant__product").order_by("pk"),
        ),
        "history",
    )


def reservations_of_customer(customer: Customer) -> QuerySet[Reservation]:
    """A customer's reservations, newest first."""
    return reservations().filter(customer=customer).order_by("-created_at", "-id")


def active_reservations_in_stores(store_ids) -> QuerySet[Reservation]:
    """Active holds in these stores, the one expiring first on top."""
    return (
        reservations()
        .filter(status=ReservationStatus.ACTIVE, store_id__in=store_ids)
        .order_by("expires_at", "id")
    )


def expires_today(reservation: Reservation, now: datetime | None = None) -> bool:
    """Does the hold end today, in the store's own time zone?"""
    zone = reservation.store.zone
    today = (now or timezone.now()).astimezone(zone).date()
    return reservation.expires_at.astimezone(zone).date() == today


def reservation_stores_for(user) -> QuerySet[Store]:
    """Stores this staff member may reserve in: their own, or every one for a service agent."""
    stores = Store.objects.filter(is_active=True, takes_reservations=True, is_warehouse=False)
    if is_service_agent(user):
        return stores
    return stores.filter(pk__in=store_ids_for_staff(user))


def staff_may_see(user, reservation: Reservation) -> bool:
    """Staff see holds in their stores; service agents (who reserve anywhere) see all."""
    return is_service_agent(user) or reservation.store_id in store_ids_for_staff(user)


def staff_may_reserve_in(user, store: Store) -> bool:
    return is_service_agent(user) or store.pk in store_ids_for_staff(user)


# --- the phone desk --------------------------------------------------------------------------


def customer_for_desk(customer_id: int) -> Customer | None:
    """A customer with their service notes (newest first) and preferred store."""
    return (
        Customer.objects.filter(pk=customer_id, merged_into__isnull=True)
        .select_related("preferred_store")
        .prefetch_related(
            Prefetch(
                "notes",
                queryset=ServiceNote.objects.select_related("store", "author_user").order_by(
                    "-created_at"
                ),
            )
        )
        .first()
    )


def search_variants(q: str, *, limit: int = 20) -> QuerySet[Variant]:
    """Active SKUs by product name, SKU or barcode (EAN-13)."""
    q = (q or "").strip()
    if not q:
        return Variant.objects.none()
    words = Q()
    for word in q.split():
        words &= Q(product__name__icontains=word)
    match = Q(ean=q) | Q(sku__icontains=q) | words
    return (
        Variant.objects.filter(match, is_active=True, product__is_active=True)
        .select_related("product__category")
        .order_by("product__name", "sku")[:limit]
    )


def _postcode_point(postcode: str, stores: list[Store]) -> tuple | None:
    """A rough position for a German postcode: the store sharing the longest postcode prefix.

    German postcodes are grouped by region in their leading digits, so a store whose postcode
    starts alike is near; good enough to rank stores without a geocoder.
    """
    postcode = (postcode or "").strip()
    if not postcode[:1].isdigit():
        return None
    for length in (3, 2, 1):
        for store in stores:
            if store.postcode.startswith(postcode[:length]):
                return store.latitude, store.longitude
    return None


def _caller_point(stores: list[Store], *, customer: Customer | None, postcode: str) -> tuple | None:
    """Where the caller is: the postcode given, else the customer's preferred store, else their
    postcode; None when nothing says."""
    point = _postcode_point(postcode, stores) if postcode else None
    if point is None and customer is not None and customer.preferred_store_id:
        preferred = customer.preferred_store
        point = preferred.latitude, preferred.longitude
    if point is None and customer is not None and customer.postcode:
        point = _postcode_point(customer.postcode, stores)
    return point


def stores_near(
    stores, *, customer: Customer | None = None, postcode: str = "", limit: int = 5
) -> list[Store]:
    """Stores nearest to a postcode or the customer's preferred store (or postcode); each with
    `distance_km` (None when there is no point to measure from, then in code order)."""
    stores = list(stores)
    point = _caller_point(stores, customer=customer, postcode=postcode)
    if point is None:
        for store in stores:
            store.distance_km = None
        return sorted(stores, key=lambda s: s.code)[:limit]
    return stores_by_distance(stores, *point)[:limit]


def stock_stores_for_desk(
    user, *, customer: Customer | None = None, postcode: str = ""
) -> list[Store]:
    """Every active store with a counter, for the phone desk's availability table.

    Seeing stock anywhere is a read every staff role may do; where one may reserve stays
    `reservation_stores_for`. The staff member's own stores come first (not for service agents,
    who answer for every store), then the rest nearest the caller (postcode, preferred store,
    customer postcode) or, when nothing says where the caller is, nearest the own store. Each
    store carries `distance_km` (None without a point), `is_own` and `may_reserve`.
    """
    stores = list(Store.objects.filter(is_active=True, is_warehouse=False).order_by("code"))
    own = set() if is_service_agent(user) else store_ids_for_staff(user)
    reservable = set(reservation_stores_for(user).values_list("pk", flat=True))
    point = _caller_point(stores, customer=customer, postcode=postcode)
    if point is None:
        home = next((s for s in stores if s.pk in own), None)
        point = (home.latitude, home.longitude) if home else None
    if point is None:
        for store in stores:
            store.distance_km = None
    else:
        stores = stores_by_distance(stores, *point)
    for store in stores:
        store.is_own = store.pk in own
        store.may_reserve = store.pk in reservable
    return sorted(stores, key=lambda s: not s.is_own)  # stable: distance order kept within


def sorted_by_sizes(variants: list[Variant], sizes: dict[str, dict]) -> list[Variant]:
    """The caller's sizes first (`sizes` as orders.selectors.sizes.usual_sizes gives them), each
    variant marked `in_callers_size`; otherwise the order found."""
    for variant in variants:
        usual = sizes.get(variant.product.category.slug)
        size = (variant.attributes or {}).get("size")
        variant.in_callers_size = bool(usual and size is not None and str(size) == usual["size"])
    return sorted(variants, key=lambda v: not v.in_callers_size)


def stock_by_variant_and_store(variants, stores) -> dict[tuple[int, int], StockItem]:
    """{(variant id, store id): StockItem} for the availability table (one query)."""
    items = StockItem.objects.filter(
        variant__in=[v.pk for v in variants], store__in=[s.pk for s in stores]
    )
    return {(item.variant_id, item.store_id): item for item in items}
