"""Reads about stock: availability per SKU and store, the ledger, transfers."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from common.compiled import CompiledQuery
from inventory.models import StockItem, StockMovement, Transfer, TransferLine, Variant
from stores.models import Store


@dataclass(frozen=True)
class StockAvailability:
    """One SKU at one store; available is what may still be promised (never below 0)."""

    sku: str
    store: Store
    on_hand: int
    reserved: int
    safety_stock: int
    distance_km: float | None = None

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.safety_stock, 0)


# Every order and hold resolves its SKUs: compiled once (common.compiled).
_ACTIVE_VARIANTS = CompiledQuery(
    lambda skus: Variant.objects.filter(sku__in=skus, is_active=True).select_related("product")
)


def variants_by_sku(skus: Iterable[str]) -> dict[str, Variant]:
    """Active SKUs among `skus`, each with its product; a missing key means unknown or no longer
    sold."""
    return {variant.sku: variant for variant in _ACTIVE_VARIANTS.objects(skus=list(skus))}


class SkuRef(NamedTuple):
    """A SKU and its variant's id: all availability needs of a variant."""

    pk: int
    sku: str


def sku_refs(skus: Iterable[str]) -> dict[str, SkuRef]:
    """Like `variants_by_sku`, without loading the variants (the availability check asks up to
    50 at a time and shows only their SKUs)."""
    rows = Variant.objects.filter(sku__in=set(skus), is_active=True).values_list("pk", "sku")
    return {sku: SkuRef(pk, sku) for pk, sku in rows}


def stock_items_for(*, store: Store, variants: Iterable[Variant]) -> dict[int, StockItem]:
    """The store's stock rows for these SKUs, by variant id (SKUs never stocked are missing)."""
    ids = {v.pk for v in variants}
    return {i.variant_id: i for i in StockItem.objects.filter(store=store, variant_id__in=ids)}


def available_quantity(*, store: Store, variant: Variant) -> int:
    row = (
        StockItem.objects.filter(store=store, variant=variant)
        .values("on_hand", "reserved", "safety_stock")
        .first()
    )
    if row is None:
        return 0
    return max(row["on_hand"] - row["reserved"] - row["safety_stock"], 0)


def availability(
    *, variants: Sequence[Variant | SkuRef], stores: Sequence[Store]
) -> list[StockAvailability]:
    """Every (SKU, store) pair in the order given (stores first, then SKUs), in one query.

    Pairs with no stock row count as 0. A store carrying `distance_km` (from
    stores.selectors.stores_by_distance) passes it on.
    """
    if not variants or not stores:
        return []
    rows = StockItem.objects.filter(
        variant_id__in=[v.pk for v in variants], store_id__in=[s.pk for s in stores]
    ).values_list("variant_id", "store_id", "on_hand", "reserved", "safety_stock")
    by_pair = {(vid, sid): (oh, res, ss) for vid, sid, oh, res, ss in rows}
    result = []
    for store in stores:
        for variant in variants:
            on_hand, reserved, safety = by_pair.get((variant.pk, store.pk), (0, 0, 0))
            result.append(
                StockAvailability(
                    sku=variant.sku,
                    store=store,
                    on_hand=on_hand,
                    reserved=reserved,
                    safety_stock=safety,
                    distance_km=getattr(store, "distance_km", None),
                )
            )
    return result


def stores_that_can_supply(
    *, lines: Sequence[tuple[Variant, int]], stores: QuerySet[Store]
) -> list[Store]:
    """Stores among `stores` where every line is available now (e.g. warehouses for a transfer).

    Not a promise: reserve (or create_transfer) decides under concurrency.
    """
    needed: dict[int, int] = {}
    for variant, quantity in lines:
        needed[variant.pk] = needed.get(variant.pk, 0) + quantity
    if not needed:
        return []
    candidates = list(stores)
    rows = StockItem.objects.filter(
        variant_id__in=needed, store_id__in=[s.pk for s in candidates]
    ).values_list("store_id", "variant_id", "on_hand", "reserved", "safety_stock")
    covered: dict[int, int] = {}
    for store_id, variant_id, on_hand, reserved, safety in rows:
        if on_hand - reserved - safety >= needed[variant_id]:
            covered[store_id] = covered.get(store_id, 0) + 1
    return [s for s in candidates if covered.get(s.pk) == len(needed)]


def movements_for_cause(*, cause_type: str, cause_ids: Iterable[str]) -> QuerySet[StockMovement]:
    """The ledger rows written for these causes (e.g. an order's lines), oldest first."""
    return (
        StockMovement.objects.filter(
            cause_type=cause_type, cause_id__in=[str(i) for i in cause_ids]
        )
        .select_related("stock_item__variant", "stock_item__store", "actor_user", "actor_client")
        .order_by("created_at", "id")
    )


def movements_of(*, store: Store, variant: Variant) -> QuerySet[StockMovement]:
    """One SKU's story at one store, newest first."""
    return StockMovement.objects.filter(
        stock_item__store=store, stock_item__variant=variant
    ).select_related("actor_user", "actor_client")


def transfers() -> QuerySet[Transfer]:
    return Transfer.objects.select_related("from_store", "to_store").prefetch_related(
        Prefetch("lines", queryset=TransferLine.objects.select_related("variant").order_by("id"))
    )


def transfers_for_stores(
    *, store_ids: Iterable[int], status: str | None = None
) -> QuerySet[Transfer]:
    """Transfers leaving or reaching any of these stores, newest first, lines prefetched."""
    ids = list(store_ids)
    qs = transfers().filter(Q(from_store_id__in=ids) | Q(to_store_id__in=ids))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def transfers_destined_for(*, cause_type: str, cause_ids: Iterable[str]) -> QuerySet[Transfer]:
    """Transfers travelling for these causes (transfer-wide or per line)."""
    ids = [str(i) for i in cause_ids]
    return (
        transfers()
        .filter(destined_cause_type=cause_type)
        .filter(Q(destined_cause_id__in=ids) | Q(lines__destined_cause_id__in=ids))
        .distinct()
    )


# --- invariant 1 -----------------------------------------------------------------------------

_OFFENDERS_SQL = """
SELECT si.id, v.sku, s.code, si.on_hand, si.reserved,
       COALESCE(m.on_hand_sum, 0), COALESCE(m.reserved_sum, 0)
FROM {stock} si
JOIN {variant} v ON v.id = si.variant_id
JOIN {store} s ON s.id = si.store_id
LEFT JOIN (
    SELECT stock_item_id, SUM(on_hand_delta) AS on_hand_sum, SUM(reserved_delta) AS reserved_sum
    FROM {movement} GROUP BY stock_item_id
) m ON m.stock_item_id = si.id
WHERE si.reserved < 0 OR si.reserved > si.on_hand
   OR si.on_hand <> COALESCE(m.on_hand_sum, 0)
   OR si.reserved <> COALESCE(m.reserved_sum, 0)
ORDER BY si.id
"""


@dataclass(frozen=True)
class StockOffender:
    stock_item_id: int
    sku: str
    store: str
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int

    @property
    def problems(self) -> list[str]:
        found = []
        if self.reserved < 0 or self.reserved > self.on_hand:
            found.append(f"reserved {self.reserved} outside 0..on_hand {self.on_hand}")
        if self.on_hand != self.ledger_on_hand:
            found.append(f"on_hand {self.on_hand} but ledger says {self.ledger_on_hand}")
        if self.reserved != self.ledger_reserved:
            found.append(f"reserved {self.reserved} but ledger says {self.ledger_reserved}")
        return found


def stock_offenders(*, chunk_size: int = 2000) -> Iterable[StockOffender]:
    """Stock items breaking invariant 1, found in one SQL pass and streamed.

    The ledger is summed by the database (one hash aggregate), so a million stock items cost
    one sequential scan of each table rather than a query per row.
    """
    sql = _OFFENDERS_SQL.format(
        stock=StockItem._meta.db_table,
        variant=Variant._meta.db_table,
        store=Store._meta.db_table,
        movement=StockMovement._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                yield StockOffender(*row)
