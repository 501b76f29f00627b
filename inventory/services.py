"""Stock services: every change of on_hand or reserved, each with its ledger rows.

Only this module writes StockItem quantities and StockMovement rows. Every service is one
transaction. Rows of one store are always touched in StockItem id order, so two multi-line
operations can never wait on each other in a cycle (no deadlock). A reservation is a conditional
UPDATE that only succeeds while enough is available, so concurrent callers can never promise the
same unit twice.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from common.actor import Actor
from common.errors import move_status
from inventory.exceptions import InsufficientStock, InvalidStockRequest, StockConflict
from inventory.models import (
    CauseType,
    MovementKind,
    StockItem,
    StockMovement,
    Transfer,
    TransferLine,
    TransferStatus,
    Variant,
)
from stores.models import Store

# (variant, quantity) for goods in; (variant, quantity, cause_id) for promises and sales.
StockLine = tuple[Variant, int]
CausedStockLine = tuple[Variant, int, str]

_STOCK_TABLE = connection.ops.quote_name(StockItem._meta.db_table)
_MOVEMENT_TABLE = connection.ops.quote_name(StockMovement._meta.db_table)


# --- helpers ---------------------------------------------------------------------------------


def _actor_fields(actor: Actor) -> dict[str, Any]:
    user = actor.user if getattr(actor.user, "pk", None) is not None else None
    return {"actor_user": user, "actor_client": actor.client}


def _check_quantity(quantity: Any, field: str = "quantity", *, allow_zero: bool = False) -> int:
    minimum = 0 if allow_zero else 1
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < minimum:
        raise InvalidStockRequest(
            "Invalid stock quantity.",
            errors={field: [f"Must be a whole number of at least {minimum}."]},
        )
    return quantity


def _normalise_lines(lines: Iterable[Any], *, with_cause: bool) -> list[tuple[Variant, int, str]]:
    """Accept tuples (or objects with variant/quantity/cause_id); check every quantity."""
    result: list[tuple[Variant, int, str]] = []
    errors: list[str] = []
    for index, line in enumerate(lines):
        if isinstance(line, tuple | list):
            variant, quantity, *rest = line
            cause_id = rest[0] if rest else ""
        else:
            variant = line.variant
            quantity = line.quantity
            cause_id = getattr(line, "cause_id", "")
        if not isinstance(variant, Variant) or variant.pk is None:
            errors.append(f"Line {index + 1}: an existing SKU is needed.")
            continue
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            errors.append(f"Line {index + 1} ({variant.sku}): quantity must be at least 1.")
            continue
        result.append((variant, quantity, str(cause_id) if with_cause else ""))
    if errors:
        raise InvalidStockRequest("Invalid stock lines.", errors={"lines": errors})
    if not result:
        raise InvalidStockRequest("Invalid stock lines.", errors={"lines": ["At least one line."]})
    return result


def _items_for(
    store: Store, variant_ids: Iterable[int], *, create: bool, lock: bool
) -> dict[int, StockItem]:
    """The store's stock rows for these SKUs, by variant id; locked in id order if asked."""
    variant_ids = set(variant_ids)

    def fetch() -> dict[int, StockItem]:
        qs = StockItem.objects.filter(store=store, variant_id__in=variant_ids).order_by("pk")
        if lock:
            qs = qs.select_for_update()
        return {item.variant_id: item for item in qs}

    items = fetch()
    if create and len(items) < len(variant_ids):
        # A concurrent creator wins the unique index; ours is then silently skipped. Locks taken
        # by the first fetch are kept, and the second fetch takes the rest in id order too.
        StockItem.objects.bulk_create(
            [StockItem(store=store, variant_id=vid) for vid in sorted(variant_ids - set(items))],
            ignore_conflicts=True,
        )
        items = fetch()
    return items


def _movement(
    item: StockItem,
    kind: str,
    *,
    actor: Actor,
    on_hand: int = 0,
    reserved: int = 0,
    cause_type: str,
    cause_id: str = "",
    reason: str = "",
) -> StockMovement:
    return StockMovement(
        stock_item=item,
        kind=kind,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        cause_type=cause_type,
        cause_id=str(cause_id)[:64],
        reason=(reason or "")[:255],
        **_actor_fields(actor),
    )


def _change(item: StockItem, *, on_hand: int = 0, reserved: int = 0) -> None:
    """Apply deltas in SQL (the row is locked by the caller) and mirror them on the instance."""
    StockItem.objects.filter(pk=item.pk).update(
        on_hand=F("on_hand") + on_hand,
        reserved=F("reserved") + reserved,
        updated_at=timezone.now(),
    )
    item.on_hand += on_hand
    item.reserved += reserved


def _totals(lines: Sequence[tuple[Variant, int, str]]) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for variant, quantity, _ in lines:
        totals[variant.pk] += quantity
    return totals


def _short_line(variant: Variant, store: Store, requested: int, available: int) -> dict:
    return {
        "sku": variant.sku,
        "store": store.code,
        "requested": requested,
        "available": max(available, 0),
    }


def _ordered(
    lines: Sequence[tuple[Variant, int, str]], items: dict[int, StockItem]
) -> list[tuple[Variant, int, str]]:
    return sorted(lines, key=lambda line: items[line[0].pk].pk if line[0].pk in items else 0)


# --- goods in and counts ---------------------------------------------------------------------


def receive(
    *,
    actor: Actor,
    store: Store,
    lines: list[StockLine],
    reason: str = "",
    cause_type: str = CauseType.MANUAL,
    cause_id: str = "",
) -> None:
    """Goods received at a store: on_hand goes up by each line's quantity (receipt movements).

    Raises InvalidStockRequest for an empty line list or a quantity below 1.
    """
    checked = _normalise_lines(lines, with_cause=False)
    with transaction.atomic():
        items = _items_for(store, (v.pk for v, _, _ in checked), create=True, lock=True)
        movements = []
        for variant, quantity, _ in _ordered(checked, items):
            item = items[variant.pk]
            _change(item, on_hand=quantity)
            movements.append(
                _movement(
                    item,
                    MovementKind.RECEIPT,
                    actor=actor,
                    on_hand=quantity,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    reason=reason,
                )
            )
        StockMovement.objects.bulk_create(movements)


def adjust_to_count(
    *,
    actor: Actor,
    store: Store,
    variant: Variant,
    counted: int,
    reason: str,
    cause_type: str = CauseType.MANUAL,
    cause_id: str = "",
) -> StockMovement | None:
    """A stock count sets on_hand; the difference is written as an adjustment movement.

    Returns None when the count matches (nothing written, so a repeated count changes nothing).
    Raises InvalidStockRequest for a negative count, StockConflict when the count is below what
    is reserved (those units are promised; the promises must be released first).
    """
    _check_quantity(counted, "counted", allow_zero=True)
    with transaction.atomic():
        item = _items_for(store, [variant.pk], create=True, lock=True)[variant.pk]
        if counted < item.reserved:
            raise StockConflict(
                f"{variant.sku} at {store.code}: counted {counted} but {item.reserved} are "
                "reserved; release those first.",
                code="count_below_reserved",
                extra={"sku": variant.sku, "store": store.code, "reserved": item.reserved},
            )
        delta = counted - item.on_hand
        if delta == 0:
            return None
        _change(item, on_hand=delta)
        movement = _movement(
            item,
            MovementKind.ADJUSTMENT,
            actor=actor,
            on_hand=delta,
            cause_type=cause_type,
            cause_id=cause_id,
            reason=reason,
        )
        movement.save()
        return movement


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


def _rows_source(types: Sequence[str], rows: Sequence[tuple]) -> tuple[str, list]:
    """A derived table with columns column1…columnN holding `rows`, and its parameters.

    PostgreSQL gets one array per column (unnest): a 5,000-row batch is a handful of parameters
    instead of tens of thousands for the driver to splice into the SQL. `types` are PostgreSQL
    column types; a few rows (a reservation) and other databases use a plain VALUES list.
    """
    if connection.vendor == "postgresql" and len(rows) > 20:
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        names = ", ".join(f"column{i + 1}" for i in range(len(types)))
        return f"SELECT * FROM unnest({arrays}) AS v({names})", [
            list(c) for c in zip(*rows, strict=True)
        ]
    one = "(" + ", ".join(["%s"] * len(types)) + ")"
    first = one
    if connection.vendor == "postgresql":  # typed first row: a column of NULLs is not text
        first = "(" + ", ".join(f"CAST(%s AS {t})" for t in types) + ")"
    values = ", ".join([first] + [one] * (len(rows) - 1))
    return f"VALUES {values}", [v for row in rows for v in row]


def _chunks(items: Sequence, size: int = 2000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The ERP import moves a million rows; these few statements per batch keep it to seconds.
def _lock_pairs(keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int, int]]:
    """Lock the stock rows of these (store_id, variant_id) pairs in (store, id) order."""
    result: dict[tuple[int, int], tuple[int, int, int]] = {}
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        for chunk in _chunks(keys, 5000):
            source, params = _rows_source(["bigint", "bigint"], chunk)
            cursor.execute(
                f"SELECT id, store_id, variant_id, on_hand, reserved FROM {_STOCK_TABLE} "
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
                f"INSERT INTO {_STOCK_TABLE} "
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
                f"AS c) UPDATE {_STOCK_TABLE} SET on_hand = counted.on_hand, updated_at = %s "
                f"FROM counted WHERE {_STOCK_TABLE}.id = counted.item_id",
                [*params, now],
            )


def set_safety_stock(*, actor: Actor, store: Store, variant: Variant, quantity: int) -> StockItem:
    """Units kept back from online promises at this store (0 or more). Not a ledger change.

    Raises InvalidStockRequest for a negative quantity.
    """
    _check_quantity(quantity, allow_zero=True)
    with transaction.atomic():
        item = _items_for(store, [variant.pk], create=True, lock=True)[variant.pk]
        item.safety_stock = quantity
        item.save(update_fields=["safety_stock", "updated_at"])
        return item


# --- promises and sales ----------------------------------------------------------------------


def reserve(
    *,
    actor: Actor,
    store: Store,
    lines: list[CausedStockLine],
    cause_type: str,
    reason: str = "",
) -> None:
    """Promise stock at a store, all lines or none (one reserve movement per line).

    Each SKU's row is raised with a conditional UPDATE (only while on_hand - reserved -
    safety_stock covers it), in StockItem id order. A missing stock row is created (0 available).
    Raises InsufficientStock naming every short line with what is available, and
    InvalidStockRequest for bad lines; nothing is written in either case.
    """
    checked = _normalise_lines(lines, with_cause=True)
    totals = _totals(checked)
    with transaction.atomic():
        item_ids = _reserve_one_sku(store, totals) if len(totals) == 1 else None
        if item_ids is None:
            item_ids = _reserve_in_id_order(store, totals, {v.pk: v for v, _, _ in checked})
        _insert_movements(
            [
                (item_ids[variant.pk], MovementKind.RESERVE, 0, quantity, cause_type, cause_id)
                for variant, quantity, cause_id in checked
            ],
            actor=actor,
            reason=reason,
        )


# Reserving is the hottest write of every channel, so it is written as plain SQL: the same
# statements the ORM would send, without its per-call overhead (see docs/performance.md).
_RESERVE_BY_SKU = (
    "UPDATE {t} SET reserved = reserved + %s, updated_at = %s "
    "WHERE store_id = %s AND variant_id = %s AND on_hand - reserved - safety_stock >= %s "
    "RETURNING id"
)
_RESERVE_BY_ID = (
    "UPDATE {t} SET reserved = reserved + %s, updated_at = %s "
    "WHERE id = %s AND on_hand - reserved - safety_stock >= %s"
)


def _reserve_one_sku(store: Store, totals: dict[int, int]) -> dict[int, int] | None:
    """One SKU: a single conditional UPDATE (one row, so no lock order to keep)."""
    ((variant_id, wanted),) = totals.items()
    with connection.cursor() as cursor:
        cursor.execute(
            _RESERVE_BY_SKU.format(t=_STOCK_TABLE),
            [wanted, timezone.now(), store.pk, variant_id, wanted],
        )
        row = cursor.fetchone()
    return {variant_id: row[0]} if row else None


def _reserve_in_id_order(
    store: Store, totals: dict[int, int], variants: dict[int, Variant]
) -> dict[int, int]:
    items = _items_for(store, totals, create=True, lock=False)
    short: list[dict] = []
    now = timezone.now()
    with connection.cursor() as cursor:
        for item in sorted(items.values(), key=lambda i: i.pk):
            wanted = totals[item.variant_id]
            if not short:
                cursor.execute(
                    _RESERVE_BY_ID.format(t=_STOCK_TABLE), [wanted, now, item.pk, wanted]
                )
                if cursor.rowcount == 1:
                    continue
            # Short (or an earlier line was): read what is there now, for the error.
            current = StockItem.objects.filter(pk=item.pk).values(
                "on_hand", "reserved", "safety_stock"
            )[0]
            available = current["on_hand"] - current["reserved"] - current["safety_stock"]
            if available < wanted:
                short.append(_short_line(variants[item.variant_id], store, wanted, available))
    if short:
        raise InsufficientStock(sorted(short, key=lambda s: s["sku"]))
    return {variant_id: item.pk for variant_id, item in items.items()}


def _insert_movements(
    rows: list[tuple[int, str, int, int, str, str]],
    *,
    actor: Actor,
    reason: str = "",
    reasons: list[str] | None = None,
) -> None:
    """Ledger rows (stock_item_id, kind, on_hand_delta, reserved_delta, cause_type, cause_id)."""
    if not rows:
        return
    fields = _actor_fields(actor)
    user_id = fields["actor_user"].pk if fields["actor_user"] else None
    client_id = fields["actor_client"].pk if fields["actor_client"] else None
    now = timezone.now()
    reasons = reasons or [reason] * len(rows)
    values = [
        (item_id, kind, on_hand, reserved, cause_type, str(cause_id)[:64], why[:255])
        + (user_id, client_id, now)
        for (item_id, kind, on_hand, reserved, cause_type, cause_id), why in zip(
            rows, reasons, strict=True
        )
    ]
    types = ["bigint", "text", "integer", "integer", "text", "text", "text", "bigint", "bigint"]
    with connection.cursor() as cursor:
        for chunk in _chunks(values):
            source, params = _rows_source([*types, "timestamptz"], chunk)
            cursor.execute(
                f"INSERT INTO {_MOVEMENT_TABLE} (stock_item_id, kind, on_hand_delta, "
                "reserved_delta, cause_type, cause_id, reason, actor_user_id, actor_client_id, "
                "created_at) SELECT column1, column2, column3, column4, column5, column6, "
                f"column7, column8, column9, column10 FROM ({source}) AS movements",
                params,
            )


def release(
    *,
    actor: Actor,
    store: Store,
    lines: list[CausedStockLine],
    cause_type: str,
    reason: str = "",
) -> None:
    """Give promised units back to the available stock (release movements).

    Raises StockConflict when a line releases more than is reserved at the store.
    """
    checked = _normalise_lines(lines, with_cause=True)
    totals = _totals(checked)
    with transaction.atomic():
        items = _items_for(store, totals, create=False, lock=True)
        _require_reserved(store, checked, totals, items)
        movements = []
        for variant, quantity, cause_id in _ordered(checked, items):
            item = items[variant.pk]
            _change(item, reserved=-quantity)
            movements.append(
                _movement(
                    item,
                    MovementKind.RELEASE,
                    actor=actor,
                    reserved=-quantity,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    reason=reason,
                )
            )
        StockMovement.objects.bulk_create(movements)


def _require_reserved(
    store: Store,
    lines: Sequence[tuple[Variant, int, str]],
    totals: dict[int, int],
    items: dict[int, StockItem],
) -> None:
    problems = []
    for variant in {v.pk: v for v, _, _ in lines}.values():
        item = items.get(variant.pk)
        reserved = item.reserved if item else 0
        if reserved < totals[variant.pk]:
            problems.append(
                {"sku": variant.sku, "requested": totals[variant.pk], "reserved": reserved}
            )
    if problems:
        names = ", ".join(f"{p['sku']} ({p['reserved']} reserved)" for p in problems)
        raise StockConflict(
            f"Not that much is reserved at {store.code}: {names}.",
            code="not_reserved",
            extra={"store": store.code, "lines": problems},
        )


def sell(
    *,
    actor: Actor,
    store: Store,
    lines: list[CausedStockLine],
    cause_type: str,
    from_reserved: bool = True,
    reason: str = "",
) -> None:
    """Units leave the store as a sale (sale movements: on_hand down).

    from_reserved=True turns a reservation into a sale (reserved goes down too) and raises
    StockConflict if not that much is reserved. from_reserved=False is a direct counter sale of
    unreserved shelf stock; raises InsufficientStock naming every short line. Safety stock is
    kept back from online promises only, so the customer at the counter may buy it.
    """
    checked = _normalise_lines(lines, with_cause=True)
    totals = _totals(checked)
    with transaction.atomic():
        items = _items_for(store, totals, create=False, lock=True)
        if from_reserved:
            _require_reserved(store, checked, totals, items)
        else:
            short = []
            for variant in {v.pk: v for v, _, _ in checked}.values():
                item = items.get(variant.pk)
                free = item.on_hand - item.reserved if item else 0
                if free < totals[variant.pk]:
                    short.append(_short_line(variant, store, totals[variant.pk], free))
            if short:
                raise InsufficientStock(sorted(short, key=lambda s: s["sku"]))
        movements = []
        reserved_delta = -1 if from_reserved else 0
        for variant, quantity, cause_id in _ordered(checked, items):
            item = items[variant.pk]
            _change(item, on_hand=-quantity, reserved=reserved_delta * quantity)
            movements.append(
                _movement(
                    item,
                    MovementKind.SALE,
                    actor=actor,
                    on_hand=-quantity,
                    reserved=reserved_delta * quantity,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    reason=reason,
                )
            )
        StockMovement.objects.bulk_create(movements)


# --- returns and damage ----------------------------------------------------------------------


def restock_return(
    *,
    actor: Actor,
    store: Store,
    variant: Variant,
    quantity: int,
    cause_id: str,
    reason: str = "",
) -> StockMovement:
    """A resellable returned item goes back on the receiving store's shelf (on_hand up).

    Raises InvalidStockRequest for a quantity below 1.
    """
    _check_quantity(quantity)
    with transaction.atomic():
        item = _items_for(store, [variant.pk], create=True, lock=True)[variant.pk]
        _change(item, on_hand=quantity)
        movement = _movement(
            item,
            MovementKind.RETURN_RESTOCK,
            actor=actor,
            on_hand=quantity,
            cause_type=CauseType.RETURN_LINE,
            cause_id=cause_id,
            reason=reason,
        )
        movement.save()
        return movement


def mark_damaged(
    *,
    actor: Actor,
    store: Store,
    variant: Variant,
    quantity: int,
    cause_type: str = CauseType.MANUAL,
    cause_id: str = "",
    reason: str = "",
    returned: bool = False,
) -> StockMovement:
    """Write off damaged units (damage movement).

    returned=False: units on the shelf are written off (on_hand down); reserved units are
    promised and cannot be written off (StockConflict). returned=True: a damaged returned item
    never becomes stock, so the movement has no quantity change and names the return line.
    Raises InvalidStockRequest for a quantity below 1.
    """
    _check_quantity(quantity)
    with transaction.atomic():
        item = _items_for(store, [variant.pk], create=True, lock=True)[variant.pk]
        if returned:
            if cause_type == CauseType.MANUAL:
                cause_type = CauseType.RETURN_LINE
            movement = _movement(
                item,
                MovementKind.DAMAGE,
                actor=actor,
                cause_type=cause_type,
                cause_id=cause_id,
                reason=reason or f"{quantity} returned damaged, written off on arrival",
            )
            movement.save()
            return movement
        free = item.on_hand - item.reserved
        if free < quantity:
            raise StockConflict(
                f"{variant.sku} at {store.code}: only {free} unreserved on the shelf.",
                code="damage_exceeds_shelf_stock",
                extra={"sku": variant.sku, "store": store.code, "unreserved": max(free, 0)},
            )
        _change(item, on_hand=-quantity)
        movement = _movement(
            item,
            MovementKind.DAMAGE,
            actor=actor,
            on_hand=-quantity,
            cause_type=cause_type,
            cause_id=cause_id,
            reason=reason,
        )
        movement.save()
        return movement


# --- transfers -------------------------------------------------------------------------------


def create_transfer(
    *,
    actor: Actor,
    from_store: Store,
    to_store: Store,
    lines: list[StockLine],
    reason: str = "",
    destined_cause_type: str = "",
    destined_cause_ids: list[str] | None = None,
) -> Transfer:
    """Request goods from one store for another; the goods are reserved at the source.

    destined_cause_ids: one id for the whole transfer, or one per line (e.g. the order lines the
    goods travel for); with destined_cause_type they are reserved for that cause on arrival.
    Raises InsufficientStock (all or nothing) and InvalidStockRequest for bad input.
    """
    checked = _normalise_lines(lines, with_cause=False)
    errors: dict[str, list[str]] = {}
    if from_store.pk == to_store.pk:
        errors["to_store"] = ["A transfer goes between two different stores."]
    ids = [str(i) for i in (destined_cause_ids or [])]
    if ids and len(ids) not in (1, len(checked)):
        errors["destined_cause_ids"] = ["One id for the transfer or one per line."]
    if ids and not destined_cause_type:
        errors["destined_cause_type"] = ["Needed with destined_cause_ids."]
    if errors:
        raise InvalidStockRequest("Invalid transfer.", errors=errors)
    per_line = ids if len(ids) == len(checked) and len(ids) > 1 else [""] * len(checked)
    with transaction.atomic():
        transfer = Transfer.objects.create(
            from_store=from_store,
            to_store=to_store,
            reason=reason[:255],
            destined_cause_type=destined_cause_type if ids else "",
            destined_cause_id=ids[0] if len(ids) == 1 else "",
        )
        TransferLine.objects.bulk_create(
            [
                TransferLine(
                    transfer=transfer, variant=variant, quantity=quantity, destined_cause_id=cid
                )
                for (variant, quantity, _), cid in zip(checked, per_line, strict=True)
            ]
        )
        reserve(
            actor=actor,
            store=from_store,
            lines=[(v, q, str(transfer.pk)) for v, q, _ in checked],
            cause_type=CauseType.TRANSFER,
            reason=reason or f"Held for transfer to {to_store.code}",
        )
        return transfer


def _transfer_lines(transfer: Transfer) -> list[TransferLine]:
    return list(transfer.lines.select_related("variant").order_by("pk"))


def _lock_transfer(transfer: Transfer) -> Transfer:
    locked = (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("from_store", "to_store")
        .get(pk=transfer.pk)
    )
    return locked


def dispatch_transfer(*, actor: Actor, transfer: Transfer) -> Transfer:
    """The goods leave the source: transfer_out (on_hand and reserved down), status in_transit.

    Raises IllegalTransition unless the transfer is requested.
    """
    with transaction.atomic():
        locked = _lock_transfer(transfer)
        move_status(locked, Transfer.TRANSITIONS, TransferStatus.IN_TRANSIT, "transfer")
        lines = _transfer_lines(locked)
        items = _items_for(
            locked.from_store, {ln.variant_id for ln in lines}, create=False, lock=True
        )
        movements = []
        for line in sorted(lines, key=lambda ln: items[ln.variant_id].pk):
            item = items[line.variant_id]
            _change(item, on_hand=-line.quantity, reserved=-line.quantity)
            movements.append(
                _movement(
                    item,
                    MovementKind.TRANSFER_OUT,
                    actor=actor,
                    on_hand=-line.quantity,
                    reserved=-line.quantity,
                    cause_type=CauseType.TRANSFER,
                    cause_id=str(locked.pk),
                    reason=f"Sent to {locked.to_store.code}",
                )
            )
        StockMovement.objects.bulk_create(movements)
        locked.shipped_at = timezone.now()
        locked.save(update_fields=["status", "shipped_at", "updated_at"])
        _refresh(transfer, locked)
        return locked


def receive_transfer(*, actor: Actor, transfer: Transfer) -> Transfer:
    """The goods arrive: transfer_in at the destination (on_hand up), status received.

    If the transfer travels for a cause (e.g. order lines), the arrived units are reserved for
    it in the same transaction, so nobody else can promise them. Raises IllegalTransition
    unless the transfer is in transit.
    """
    with transaction.atomic():
        locked = _lock_transfer(transfer)
        move_status(locked, Transfer.TRANSITIONS, TransferStatus.RECEIVED, "transfer")
        lines = _transfer_lines(locked)
        items = _items_for(locked.to_store, {ln.variant_id for ln in lines}, create=True, lock=True)
        movements = []
        for line in sorted(lines, key=lambda ln: items[ln.variant_id].pk):
            item = items[line.variant_id]
            destined = bool(locked.destined_cause_type)
            _change(item, on_hand=line.quantity, reserved=line.quantity if destined else 0)
            movements.append(
                _movement(
                    item,
                    MovementKind.TRANSFER_IN,
                    actor=actor,
                    on_hand=line.quantity,
                    cause_type=CauseType.TRANSFER,
                    cause_id=str(locked.pk),
                    reason=f"Received from {locked.from_store.code}",
                )
            )
            if destined:
                movements.append(
                    _movement(
                        item,
                        MovementKind.RESERVE,
                        actor=actor,
                        reserved=line.quantity,
                        cause_type=locked.destined_cause_type,
                        cause_id=line.destined_cause_id or locked.destined_cause_id,
                        reason=f"Arrived by transfer {locked.pk}",
                    )
                )
        StockMovement.objects.bulk_create(movements)
        locked.received_at = timezone.now()
        locked.save(update_fields=["status", "received_at", "updated_at"])
        _refresh(transfer, locked)
        return locked


def cancel_transfer(*, actor: Actor, transfer: Transfer, reason: str = "") -> Transfer:
    """Call off a requested transfer: the goods held at the source are released.

    Raises IllegalTransition once the transfer is on its way or done.
    """
    with transaction.atomic():
        locked = _lock_transfer(transfer)
        move_status(locked, Transfer.TRANSITIONS, TransferStatus.CANCELLED, "transfer")
        lines = _transfer_lines(locked)
        release(
            actor=actor,
            store=locked.from_store,
            lines=[(ln.variant, ln.quantity, str(locked.pk)) for ln in lines],
            cause_type=CauseType.TRANSFER,
            reason=reason or "Transfer cancelled",
        )
        locked.save(update_fields=["status", "updated_at"])
        _refresh(transfer, locked)
        return locked


def _refresh(original: Transfer, locked: Transfer) -> None:
    """Keep the caller's instance in step with the saved one."""
    for name in ("status", "shipped_at", "received_at", "updated_at"):
        setattr(original, name, getattr(locked, name))
