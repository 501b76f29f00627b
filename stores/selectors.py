"""Reads about stores and who may act on them."""

import math
from decimal import Decimal

from django.db.models import QuerySet

from stores.models import StaffRole, Store, StoreMembership


def active_stores() -> QuerySet[Store]:
    return Store.objects.filter(is_active=True)


def is_staff_member(user) -> bool:
    """A staff login: a superuser or anyone with a store membership."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    return user.is_superuser or StoreMembership.objects.filter(user=user).exists()


def staff_roles(user) -> set[str]:
    if getattr(user, "pk", None) is None:
        return set()
    return set(StoreMembership.objects.filter(user=user).values_list("role", flat=True))


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
    return set(StoreMembership.objects.filter(user=user).values_list("store_id", flat=True))


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
