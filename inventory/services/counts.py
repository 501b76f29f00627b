"""Many absolute counts at once (the ERP import): a few set-based statements per batch."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from common.actor import Actor
from common.retry import retry_when_busy
from inventory.models import CauseType, MovementKind
from inventory.services._ledger import (
    STOCK_TABLE,
    _check_quantity,
    _chunks,
    _insert_movements,
    _rows_source,
)
from stores.models import Store


@dataclass
class StockCount:
    """One absolute count (e.g. a row of the ERP file); `ref` says where it came from."""

    store: Store
    variant_id: int
    counted: int
    ref: str = ""


@dataclass
class CountOutcome:
    changed: int = 0
    unchanged: int = 0
    below_reserved: list[tuple[StockCount, int]] = field(default_factory=list)


@retry_when_busy
def apply_counts(
    *,
    actor: Actor,
    counts: Sequence[StockCount],
    reason: str,
    cause_type: str = CauseType.IMPORT_BATCH,
    cause_id: str = "",
) -> CountOutcome:
    """Many absolute counts in one transaction (the ERP import's batches), as adjustments.

    Like adjust_to_count, row by row: a matching count writes nothing, a count below what is
    reserved is not applied but returned in `below_reserved` with the reserved quantity. The
    rows are locked in (store, StockItem id) order, like every other stock service.
    Raises InvalidStockRequest for a negative count. If a SKU appears twice for one store, the
    last count wins.
    """
    for count in counts:
        _check_quantity(count.counted, "counted", allow_zero=True)
    wanted: dict[tuple[int, int], StockCount] = {}
    for count in counts:
        wanted[(count.store.pk, count.variant_id)] = count
    outcome = CountOutcome()
    if not wanted:
        return outcome
    now = timezone.now()
    with transaction.atomic():
        rows = _lock_pairs(list(wanted))
        # Sorted, so that two imports creating the same rows wait on them in the same order.
        fresh = sorted(k for k, count in wanted.items() if k not in rows and count.counted > 0)
        created = _create_counted(fresh, wanted, now)
        if len(created) < len(fresh):
            # Someone else created some of these rows meanwhile: count those like the others.
            rows.update(_lock_pairs([key for key in fresh if key not in created]))
        movements = [
            (item_id, MovementKind.ADJUSTMENT, wanted[key].counted, 0, cause_type, cause_id, key)
            for key, item_id in created.items()
        ]
        changes: list[tuple[int, int]] = []
        for key, count in wanted.items():
            if key in created:
                continue
            if key not in rows:  # never stocked here and counted 0: nothing to record
                outcome.unchanged += 1
                continue
            item_id, on_hand, reserved = rows[key]
            if count.counted == on_hand:
                outcome.unchanged += 1
            elif count.counted < reserved:
                outcome.below_reserved.append((count, reserved))
            else:
                changes.append((item_id, count.counted))
                movements.append(
                    (
                        item_id,
                        MovementKind.ADJUSTMENT,
                        count.counted - on_hand,
                        0,
                        cause_type,
                        cause_id,
                        key,
                    )
                )
        _set_on_hand(changes, now)
        outcome.changed = len(created) + len(changes)
        _insert_movements(
            [m[:6] for m in movements],
            actor=actor,
            reasons=[_count_reason(reason, wanted[m[6]]) for m in movements],
        )
    return outcome


def _count_reason(reason: str, count: StockCount) -> str:
    return f"{reason} ({count.ref})" if count.ref else reason


# The ERP import moves a million rows; these few statements per batch keep it to seconds.
def _lock_pairs(keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int, int]]:
    """Lock the stock rows of these (store_id, variant_id) pairs in (store, id) order."""
    result: dict[tuple[int, int], tuple[int, int, int]] = {}
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        for chunk in _chunks(keys, 5000):
            source, params = _rows_source(["bigint", "bigint"], chunk)
            cursor.execute(
                f"SELECT id, store_id, variant_id, on_hand, reserved FROM {STOCK_TABLE} "
                "WHERE (store_id, variant_id) IN "
                f"(SELECT column1, column2 FROM ({source}) AS pairs) ORDER BY store_id, id{lock}",
                params,
            )
            for item_id, store_id, variant_id, on_hand, reserved in cursor.fetchall():
                result[(store_id, variant_id)] = (item_id, on_hand, reserved)
    return result


def _create_counted(
    keys: list[tuple[int, int]], wanted: dict[tuple[int, int], StockCount], now
) -> dict[tuple[int, int], int]:
    """Stock rows for SKUs first counted in a store, created with their count; returns ids.

    A row that someone else created meanwhile is skipped (and not returned).
    """
    created: dict[tuple[int, int], int] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(keys):
            source, params = _rows_source(
                ["bigint", "bigint", "integer"], [(*key, wanted[key].counted) for key in chunk]
            )
            # "WHERE true" lets SQLite tell ON CONFLICT from a join's ON.
            cursor.execute(
                f"INSERT INTO {STOCK_TABLE} "
                "(store_id, variant_id, on_hand, reserved, safety_stock, updated_at) "
                f"SELECT column1, column2, column3, 0, 0, %s FROM ({source}) AS counts WHERE true "
                "ON CONFLICT (variant_id, store_id) DO NOTHING RETURNING id, store_id, variant_id",
                [now, *params],
            )
            for item_id, store_id, variant_id in cursor.fetchall():
                created[(store_id, variant_id)] = item_id
    return created


def _set_on_hand(changes: list[tuple[int, int]], now) -> None:
    """on_hand = the counted value, for many locked rows in one statement."""
    with connection.cursor() as cursor:
        for chunk in _chunks(changes):
            source, params = _rows_source(["bigint", "integer"], chunk)
            cursor.execute(
                f"WITH counted AS (SELECT column1 AS item_id, column2 AS on_hand FROM ({source}) "
                f"AS c) UPDATE {STOCK_TABLE} SET on_hand = counted.on_hand, updated_at = %s "
                f"FROM counted WHERE {STOCK_TABLE}.id = counted.item_id",
                [*params, now],
            )
