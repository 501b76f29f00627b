"""Reads about stores and who may act on them."""

import copy
import logging
import math
import threading
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic

from django.conf import settings
from django.db.models import QuerySet

from common.compiled import CompiledQuery
from stores.models import WEEKDAYS, StaffRole, Store, StoreMembership, parse_spans

log = logging.getLogger(__name__)


def active_stores() -> QuerySet[Store]:
    return Store.objects.filter(is_active=True)


# --- the store directory ---------------------------------------------------------------------
# Every write of the webshop names its store by code, and an order may need the warehouses: a
# process reads all stores at most every OMNIS_STORE_DIRECTORY_TTL_SECONDS (at once after a
# store is saved in it), instead of one query per call. Another process sees a change to a store
# (closed, new hours) within that time.

_directory: tuple[float, dict[str, Store]] | None = None
_directory_lock = threading.Lock()


def _store_directory() -> dict[str, Store]:
    global _directory
    cached = _directory
    if cached is not None and monotonic() < cached[0]:
        return cached[1]
    stores = {store.code: store for store in Store.objects.all()}
    with _directory_lock:
        _directory = (monotonic() + settings.OMNIS_STORE_DIRECTORY_TTL_SECONDS, stores)
    return stores


def forget_store_directory(**kwargs) -> None:
    global _directory
    with _directory_lock:
        _directory = None


def store_by_code(code: str) -> Store | None:
    """The active store of this code, or None; a copy the caller may change."""
    store = _store_directory().get(code)
    return copy.copy(store) if store is not None and store.is_active else None


def active_stores_by_code() -> list[Store]:
    """Every active store and warehouse by code (copies)."""
    stores = sorted(_store_directory().values(), key=lambda store: store.code)
    return [copy.copy(store) for store in stores if store.is_active]


def active_warehouses() -> list[Store]:
    """Active warehouses by code (copies): where delivery orders and transfers come from."""
    return [store for store in active_stores_by_code() if store.is_warehouse]


# Asked on every staff request: compiled once per process (common.compiled).
_MEMBERSHIPS = CompiledQuery(
    lambda user: StoreMembership.objects.filter(user_id=user).values_list("store_id", "role")
)


def memberships(user) -> list[tuple[int, str]]:
    """The login's (store id, role) pairs, read once per user object: a request's login is asked
    several times (the access rule, the store scope, the acting channel) and answered once.
    Whoever changes memberships of a login object they keep using calls `forget_memberships`."""
    cached = user.__dict__.get("_store_memberships")
    if cached is None:
        cached = _MEMBERSHIPS.rows(user=user.pk) if user.pk is not None else []
        user.__dict__["_store_memberships"] = cached
    return cached


def forget_memberships(user) -> None:
    user.__dict__.pop("_store_memberships", None)


def is_staff_member(user) -> bool:
    """A staff login: a superuser or anyone with a store membership."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    return user.is_superuser or bool(memberships(user))


def staff_roles(user) -> set[str]:
    if getattr(user, "pk", None) is None:
        return set()
    return {role for _, role in memberships(user)}


def is_service_agent(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or StaffRole.SERVICE_AGENT in staff_roles(
        user
    )


def store_ids_for_staff(user) -> set[int]:
    """The stores a staff member may act on: their memberships (all stores for a superuser)."""
    if getattr(user, "pk", None) is None:
        return set()
    if user.is_superuser:
        return set(Store.objects.values_list("id", flat=True))
    return {store_id for store_id, _ in memberships(user)}


def can_act_on_store(user, store: Store) -> bool:
    return store.pk in store_ids_for_staff(user)


def is_manager_of(user, store: Store) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return StoreMembership.objects.filter(user=user, store=store, role=StaffRole.MANAGER).exists()


EARTH_RADIUS_KM = 6371.0


def distance_km(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance (haversine), good enough to rank stores near a customer."""
    lat1, lon1, lat2, lon2 = (math.radians(float(v)) for v in (lat1, lon1, lat2, lon2))
    a = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def stores_by_distance(stores, lat: float | Decimal, lon: float | Decimal) -> list[Store]:
    """Stores sorted nearest first, each with a `distance_km` attribute."""
    result = list(stores)
    for store in result:
        store.distance_km = round(distance_km(lat, lon, store.latitude, store.longitude), 1)
    return sorted(result, key=lambda s: (s.distance_km, s.code))


# --- opening hours and the deadlines counted in them -------------------------------------------


def opening_spans(store: Store, day: date) -> list[tuple[datetime, datetime]]:
    """The store's opening spans on one local date as aware datetimes, latest closing first.

    Hours are validated when written; should unreadable ones be stored anyway (an old row, a raw
    UPDATE), that day counts as closed and a warning names the store, so no caller fails on them.
    """
    hours = store.opening_hours or {}
    weekday = WEEKDAYS[day.weekday()]
    raw = hours.get(weekday, []) if isinstance(hours, dict) else []
    try:
        spans = parse_spans(raw)
    except ValueError as exc:
        log.warning(
            "store %s: opening hours on %s unreadable (%r), read as closed: %s",
            store.code,
            weekday,
            raw,
            exc,
        )
        return []
    zone = store.zone
    return [
        (datetime.combine(day, opens, tzinfo=zone), datetime.combine(day, closes, tzinfo=zone))
        for opens, closes in reversed(spans)
    ]


# A pickup window longer than this many weeks of closed days is a data error, not a store.
LOOKAHEAD_DAYS = 7 * 8


def pickup_deadline(store: Store, ready_at: datetime) -> datetime:
    """When a click & collect order that became ready at `ready_at` must have been collected.

    Closing time (in the store's time zone) on the Nth opening day after the day it became ready,
    N being the store's pickup_window_days (at least 1). The ready day itself never counts, even
    when the order is ready before opening: "collect within 3 opening days" ends at closing time on
    the third opening day after today. A store without readable opening hours counts every
    calendar day and closes at local midnight.
    """
    days = max(store.pickup_window_days, 1)
    ready_day = ready_at.astimezone(store.zone).date()
    counted = 0
    for offset in range(1, days + LOOKAHEAD_DAYS + 1):
        spans = opening_spans(store, ready_day + timedelta(days=offset))
        if spans:
            counted += 1
            if counted == days:
                return spans[0][1]
    # No opening days found: calendar days, to local midnight after the last one.
    end = ready_day + timedelta(days=days + 1)
    return datetime.combine(end, time.min, tzinfo=store.zone)
