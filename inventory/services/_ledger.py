"""The ledger's building blocks, shared by the stock services: row look-up and locking, ledger
rows, input checks. Private to inventory.services."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from common.actor import Actor
from common.compiled import CompiledQuery
from inventory.exceptions import InvalidStockRequest, StockConflict
from inventory.models import StockItem, StockMovement, Variant
from inventory.webhooks import stock_changed
from stores.models import Store

# (variant, quantity) for goods in; (variant, quantity, cause_id) for promises and sales.
StockLine = tuple[Variant, int]
CausedStockLine = tuple[Variant, int, str]

STOCK_TABLE = connection.ops.quote_name(StockItem._meta.db_table)
MOVEMENT_TABLE = connection.ops.quote_name(StockMovement._meta.db_table)


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


# Every sale, release and receipt reads its stock rows: compiled once (common.compiled).
_ITEMS = CompiledQuery(
    lambda store, variants: StockItem.objects.filter(
        store_id=store, variant_id__in=variants
    ).order_by("pk")
)
_LOCKED_ITEMS = CompiledQuery(
    lambda store, variants: (
        StockItem.objects.filter(store_id=store, variant_id__in=variants)
        .order_by("pk")
        .select_for_update()
    )
)


def _items_for(
    store: Store, variant_ids: Iterable[int], *, create: bool, lock: bool
) -> dict[int, StockItem]:
    """The store's stock rows for these SKUs, by variant id; locked in id order if asked."""
    variant_ids = set(variant_ids)

    def fetch() -> dict[int, StockItem]:
        rows = (_LOCKED_ITEMS if lock else _ITEMS).objects(store=store.pk, variants=variant_ids)
        return {item.variant_id: item for item in rows}

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
    stock_changed([item.pk])
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


def _book(
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
    """Change the quantities and return the ledger row for exactly that change (to be saved by
    the caller, in the same transaction): the two can never disagree."""
    _change(item, on_hand=on_hand, reserved=reserved)
    return _movement(
        item,
        kind,
        actor=actor,
        on_hand=on_hand,
        reserved=reserved,
        cause_type=cause_type,
        cause_id=cause_id,
        reason=reason,
    )


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
    stock_changed(row[0] for row in rows)
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
                f"INSERT INTO {MOVEMENT_TABLE} (stock_item_id, kind, on_hand_delta, "
                "reserved_delta, cause_type, cause_id, reason, actor_user_id, actor_client_id, "
                "created_at) SELECT column1, column2, column3, column4, column5, column6, "
                f"column7, column8, column9, column10 FROM ({source}) AS movements",
                params,
            )


# (locked stock row, kind, on_hand delta, reserved delta, cause_type, cause_id, reason)
Booking = tuple[StockItem, str, int, int, str, str, str]


def _write_bookings(bookings: Sequence[Booking], *, actor: Actor) -> None:
    """Apply each booking to its stock row (locked by the caller) and write its ledger row.

    PostgreSQL: one statement for any number of rows (the rows' UPDATE as a WITH query, the
    ledger's INSERT as the main one); elsewhere an UPDATE per row and one INSERT.
    """
    if connection.vendor != "postgresql":
        StockMovement.objects.bulk_create(
            [
                _book(
                    item,
                    kind,
                    actor=actor,
                    on_hand=on_hand,
                    reserved=reserved,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    reason=reason,
                )
                for item, kind, on_hand, reserved, cause_type, cause_id, reason in bookings
            ]
        )
        return
    deltas: dict[int, list[int]] = {}
    for item, _, on_hand, reserved, *_ in bookings:
        delta = deltas.setdefault(item.pk, [0, 0])
        delta[0] += on_hand
        delta[1] += reserved
        item.on_hand += on_hand
        item.reserved += reserved
    fields = _actor_fields(actor)
    user_id = fields["actor_user"].pk if fields["actor_user"] else None
    client_id = fields["actor_client"].pk if fields["actor_client"] else None
    now = timezone.now()
    changed, changed_params = _rows_source(
        ["bigint", "integer", "integer"], [(pk, oh, res) for pk, (oh, res) in deltas.items()]
    )
    written, written_params = _rows_source(
        ["bigint", "text", "integer", "integer", "text", "text", "text", "bigint", "bigint"]
        + ["timestamptz"],
        [
            (item.pk, kind, on_hand, reserved, cause_type, str(cause_id)[:64], (why or "")[:255])
            + (user_id, client_id, now)
            for item, kind, on_hand, reserved, cause_type, cause_id, why in bookings
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS (UPDATE {STOCK_TABLE} AS s SET on_hand = s.on_hand + d.column2, "
            "reserved = s.reserved + d.column3, updated_at = %s "
            f"FROM ({changed}) AS d WHERE s.id = d.column1) "
            f"INSERT INTO {MOVEMENT_TABLE} (stock_item_id, kind, on_hand_delta, reserved_delta, "
            "cause_type, cause_id, reason, actor_user_id, actor_client_id, created_at) "
            "SELECT column1, column2, column3, column4, column5, column6, column7, column8, "
            f"column9, column10 FROM ({written}) AS movements",
            [now, *changed_params, *written_params],
        )
    stock_changed(list(deltas))
