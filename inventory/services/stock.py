"""Stock in, counted, promised, sold, returned and written off: one transaction each, with its
ledger rows. A reservation is a conditional UPDATE, so concurrent callers can never promise the
same unit twice; an UPDATE that matches no row is a short line, whatever is read afterwards.

The global lock order (docs/architecture.md): the workflow row (order, reservation, return,
transfer), then customer rows in id order, then stock rows by (store id, stock item id). Each
service here touches one store's rows in stock item id order in a single pass (`sell` releases
what a partial hand-over leaves in the same pass); a caller that changes several rows through
several calls takes them first with `lock_stock_rows`. Deadlocks and serialization failures that
slip through are retried around the outermost transaction (`common.retry.retry_when_busy`).
"""

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from common.actor import Actor
from common.errors import ApplicationError
from common.retry import retry_when_busy
from inventory.exceptions import InsufficientStock, InvalidStockRequest, StockConflict
from inventory.models import (
    CauseType,
    MovementKind,
    SafetyStockChange,
    StockItem,
    StockMovement,
    Variant,
)
from inventory.services._ledger import (
    MOVEMENT_TABLE,
    STOCK_TABLE,
    CausedStockLine,
    StockLine,
    _actor_fields,
    _book,
    _check_quantity,
    _insert_movements,
    _items_for,
    _movement,
    _normalise_lines,
    _ordered,
    _require_reserved,
    _rows_source,
    _short_line,
    _totals,
    _write_bookings,
)
from inventory.webhooks import stock_changed
from stores.models import Store

# --- goods in and counts ---------------------------------------------------------------------


@retry_when_busy
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
            movements.append(
                _book(
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


@retry_when_busy
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
        movement = _book(
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


@retry_when_busy
def set_safety_stock(*, actor: Actor, store: Store, variant: Variant, quantity: int) -> StockItem:
    """Units kept back from online promises at this store (0 or more). Not a ledger change: a
    SafetyStockChange row records who changed it from what (nothing is written when unchanged).

    Raises InvalidStockRequest for a negative quantity.
    """
    _check_quantity(quantity, allow_zero=True)
    with transaction.atomic():
        item = _items_for(store, [variant.pk], create=True, lock=True)[variant.pk]
        if item.safety_stock == quantity:
            return item
        SafetyStockChange.objects.create(
            stock_item=item,
            old_quantity=item.safety_stock,
            new_quantity=quantity,
            **_actor_fields(actor),
        )
        item.safety_stock = quantity
        item.save(update_fields=["safety_stock", "updated_at"])
        return item


# --- promises and sales ----------------------------------------------------------------------


@retry_when_busy
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
    safety_stock covers it), rows locked in StockItem id order. A SKU without a stock row at the
    store has nothing to promise. Raises InsufficientStock naming every short line with what is
    available, and InvalidStockRequest for bad lines; nothing is written in either case, so a
    caller may catch InsufficientStock and go on in the same transaction (no savepoint needed).
    """
    checked = _normalise_lines(lines, with_cause=True)
    totals = _totals(checked)
    rows = [(variant.pk, quantity, cause_id) for variant, quantity, cause_id in checked]
    if connection.vendor == "postgresql":
        # No savepoint: nothing is left written when a line is short (the raised rows are put
        # back under their locks), and the error leaves the block before it is raised.
        with transaction.atomic(savepoint=False):
            booked = _reserve_and_book(store, rows, cause_type, actor=actor, reason=reason)
            if booked is not None:
                _undo_reservation(booked)
                short = _refused_lines(store, totals, {v.pk: v for v, _, _ in checked}, booked)
        if booked is not None:
            raise InsufficientStock(short)
        return
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


# Reserving is the hottest write of every channel, so it is written as plain SQL (see
# docs/performance.md). On PostgreSQL one statement does it all, whatever the number of lines:
# the store's rows for the SKUs are locked in id order (the global lock order), each is raised
# only while it covers its lines, and a ledger row is written for every line of a raised row.
_RESERVE_AND_BOOK = """
WITH wanted (variant_id, quantity, cause_id, position) AS ({wanted}),
totals AS (SELECT variant_id, SUM(quantity) AS quantity FROM wanted GROUP BY variant_id),
locked AS MATERIALIZED (
    SELECT id FROM {stock} WHERE store_id = %s
    AND variant_id IN (SELECT variant_id FROM totals) ORDER BY id FOR UPDATE
),
raised AS (
    UPDATE {stock} AS s SET reserved = s.reserved + t.quantity, updated_at = %s
    FROM locked, totals AS t
    WHERE s.id = locked.id AND s.variant_id = t.variant_id
    AND s.on_hand - s.reserved - s.safety_stock >= t.quantity
    RETURNING s.id, s.variant_id
)
INSERT INTO {movement} (stock_item_id, kind, on_hand_delta, reserved_delta, cause_type,
    cause_id, reason, actor_user_id, actor_client_id, created_at)
SELECT raised.id, %s, 0, w.quantity, %s, w.cause_id, %s, %s, %s, %s
FROM raised JOIN wanted AS w ON w.variant_id = raised.variant_id
ORDER BY raised.id, w.position
RETURNING id, stock_item_id, reserved_delta
"""


def _reserve_and_book(
    store: Store, rows: list[tuple[int, int, str]], cause_type: str, *, actor: Actor, reason: str
) -> list[tuple[int, int, int]] | None:
    """PostgreSQL: raise the rows and write the ledger in one statement. Returns None when every
    SKU was raised, else the ledger rows written for the SKUs that were (to be undone)."""
    now = timezone.now()
    fields = _actor_fields(actor)
    wanted, params = _rows_source(
        ["bigint", "integer", "text", "integer"],
        [(vid, quantity, str(cause)[:64], n) for n, (vid, quantity, cause) in enumerate(rows)],
    )
    params += [store.pk, now, MovementKind.RESERVE, cause_type, (reason or "")[:255]]
    params += [
        getattr(fields["actor_user"], "pk", None),
        getattr(fields["actor_client"], "pk", None),
    ]
    params += [now]
    sql = _RESERVE_AND_BOOK.format(wanted=wanted, stock=STOCK_TABLE, movement=MOVEMENT_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        booked = cursor.fetchall()
    if len({item_id for _, item_id, _ in booked}) == len({vid for vid, _, _ in rows}):
        stock_changed(item_id for _, item_id, _ in booked)
        return None
    return booked


def _undo_reservation(booked: list[tuple[int, int, int]]) -> None:
    """A line was short: take back what the statement raised and booked for the other lines (the
    rows stay locked by this transaction, so the undo is exact)."""
    if not booked:
        return
    undone: dict[int, int] = {}
    for _, item_id, quantity in booked:
        undone[item_id] = undone.get(item_id, 0) + quantity
    StockMovement.objects.filter(pk__in=[movement_id for movement_id, _, _ in booked]).delete()
    for item_id, quantity in sorted(undone.items()):
        StockItem.objects.filter(pk=item_id).update(reserved=F("reserved") - quantity)


def _refused_lines(
    store: Store,
    totals: dict[int, int],
    variants: dict[int, Variant],
    booked: list[tuple[int, int, int]],
) -> list[dict]:
    """Every line the statement refused, with what is available. A refusal is final whatever is
    read now: at the UPDATE there were fewer than wanted."""
    raised = {item_id for _, item_id, _ in booked}
    now = _available_by_variant(store, list(totals))
    short = []
    for vid, wanted in totals.items():
        item_id, available = now.get(vid, (None, 0))
        if item_id not in raised:
            short.append(_short_line(variants[vid], store, wanted, min(available, wanted - 1)))
    return sorted(short, key=lambda s: s["sku"])


def _available_by_variant(store: Store, variant_ids: list[int]) -> dict[int, tuple[int, int]]:
    """variant id → (stock row id, what it offers for promises now); for messages only."""
    return {
        row["variant_id"]: (row["id"], row["on_hand"] - row["reserved"] - row["safety_stock"])
        for row in StockItem.objects.filter(store=store, variant_id__in=variant_ids).values(
            "id", "variant_id", "on_hand", "reserved", "safety_stock"
        )
    }


# Elsewhere (SQLite) one statement per SKU: a conditional UPDATE each.
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
            _RESERVE_BY_SKU.format(t=STOCK_TABLE),
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
            variant = variants[item.variant_id]
            if not short:
                cursor.execute(_RESERVE_BY_ID.format(t=STOCK_TABLE), [wanted, now, item.pk, wanted])
                if cursor.rowcount == 1:
                    continue
                # An UPDATE that matched no row is a short line, full stop: stock given back
                # since then does not count, `reserved` did not rise. The re-read only feeds the
                # message; at the UPDATE there were fewer than `wanted`.
                available = min(_available_now(item.pk), wanted - 1)
                short.append(_short_line(variant, store, wanted, available))
                continue
            # An earlier line was short: the rest are only read, to name every short line.
            available = _available_now(item.pk)
            if available < wanted:
                short.append(_short_line(variant, store, wanted, available))
    if short:
        raise InsufficientStock(sorted(short, key=lambda s: s["sku"]))
    return {variant_id: item.pk for variant_id, item in items.items()}


def _available_now(item_id: int) -> int:
    """What the row offers for promises at this moment (not locked: for messages only)."""
    current = StockItem.objects.filter(pk=item_id).values("on_hand", "reserved", "safety_stock")[0]
    return current["on_hand"] - current["reserved"] - current["safety_stock"]


@retry_when_busy
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
    # No savepoint: the check comes before any write and its error is raised outside the block.
    with transaction.atomic(savepoint=False):
        items = _items_for(store, totals, create=False, lock=True)
        refusal = _refusal(_require_reserved, store, checked, totals, items)
        if refusal is None:
            _write_bookings(
                [
                    (items[v.pk], MovementKind.RELEASE, 0, -quantity, cause_type, cause_id, reason)
                    for v, quantity, cause_id in _ordered(checked, items)
                ],
                actor=actor,
            )
    if refusal is not None:
        raise refusal


def _refusal(check, *args) -> ApplicationError | None:
    """The domain error a check raises, to be raised once the transaction block is left (a
    block without savepoint would otherwise doom the caller's whole transaction)."""
    try:
        check(*args)
    except ApplicationError as error:
        return error
    return None


@retry_when_busy
def sell(
    *,
    actor: Actor,
    store: Store,
    lines: list[CausedStockLine],
    cause_type: str,
    from_reserved: bool = True,
    reason: str = "",
    released: list[CausedStockLine] | None = None,
    release_reason: str = "",
) -> None:
    """Units leave the store as a sale (sale movements: on_hand down).

    from_reserved=True turns a reservation into a sale (reserved goes down too) and raises
    StockConflict if not that much is reserved. from_reserved=False is a direct counter sale of
    unreserved shelf stock; raises InsufficientStock naming every short line. Safety stock is
    kept back from online promises only, so the customer at the counter may buy it.

    `released`: promised units the customer did not take (a partial hand-over) go back to the
    shelf in the same pass (release movements), so the rows are locked once, in the global order.
    """
    checked = _normalise_lines(lines, with_cause=True)
    if released and not from_reserved:
        raise InvalidStockRequest(
            "Invalid stock lines.", errors={"released": ["Only a sale of reserved units."]}
        )
    given_back = _normalise_lines(released, with_cause=True) if released else []
    totals = _totals(checked + given_back)
    # No savepoint: the checks come before any write and their error is raised outside the block.
    with transaction.atomic(savepoint=False):
        items = _items_for(store, totals, create=False, lock=True)
        if from_reserved:
            refusal = _refusal(_require_reserved, store, checked + given_back, totals, items)
        else:
            refusal = _refusal(_require_shelf_stock, store, checked, totals, items)
        if refusal is None:
            reserved_delta = -1 if from_reserved else 0
            changes = [(MovementKind.SALE, line) for line in checked]
            changes += [(MovementKind.RELEASE, line) for line in given_back]
            changes.sort(key=lambda change: items[change[1][0].pk].pk)
            _write_bookings(
                [
                    (
                        items[variant.pk],
                        kind,
                        -quantity if kind == MovementKind.SALE else 0,
                        reserved_delta * quantity if kind == MovementKind.SALE else -quantity,
                        cause_type,
                        cause_id,
                        reason if kind == MovementKind.SALE else release_reason or reason,
                    )
                    for kind, (variant, quantity, cause_id) in changes
                ],
                actor=actor,
            )
    if refusal is not None:
        raise refusal


def _require_shelf_stock(store: Store, checked, totals: dict[int, int], items) -> None:
    short = []
    for variant in {v.pk: v for v, _, _ in checked}.values():
        item = items.get(variant.pk)
        free = item.on_hand - item.reserved if item else 0
        if free < totals[variant.pk]:
            short.append(_short_line(variant, store, totals[variant.pk], free))
    if short:
        raise InsufficientStock(sorted(short, key=lambda s: s["sku"]))


# --- returns and damage ----------------------------------------------------------------------


def lock_stock_rows(*, store: Store, variants: list[Variant]) -> None:
    """Lock this store's rows for these SKUs (created if missing) in the global lock order.

    For a caller that then changes them one service call at a time, in an order of its own (a
    return's lines), inside its one transaction: taking the locks up front keeps the order.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_stock_rows only makes sense inside the caller's transaction.")
    _items_for(store, {variant.pk for variant in variants}, create=True, lock=True)


@retry_when_busy
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
        movement = _book(
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


@retry_when_busy
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
        movement = _book(
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
