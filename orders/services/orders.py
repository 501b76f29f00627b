"""Orders of every channel: placing, click & collect (ready, hand over), delivery, cancellation.

The workflow is Order.TRANSITIONS; `set_order_status` is the one place that moves it. Stock is only
touched through inventory.services, with CauseType.ORDER_LINE and the order line's id as cause.
"""

import logging
import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.compiled import CompiledQuery
from common.errors import Forbidden, IllegalTransition, InvalidInput, move_status
from common.models import Channel
from common.retry import retry_when_busy
from common.rows import as_prefetched, insert_rows, update_statement
from customers.models import Customer, TimelineEvent, TimelineKind
from customers.services import (
    add_store_credit_entry,
    lock_customer,
    record_timeline_event,
    store_credit_balance,
    timeline_entry,
)
from inventory import services as stock
from inventory.exceptions import InsufficientStock
from inventory.models import CauseType, Transfer, TransferStatus, Variant
from orders import webhooks
from orders.exceptions import (
    AwaitingTransfer,
    HandOverLocked,
    OrderConflict,
    WrongPickupCode,
)
from orders.models.insights import RefusalKind
from orders.models.orders import (
    NUMBER_PREFIX,
    Fulfilment,
    Order,
    OrderLine,
    OrderNumberCounter,
    OrderStatus,
    OrderStatusChange,
    PaymentStatus,
)
from orders.selectors.orders import available_by_store, shipping_warehouses
from orders.services import discounts, refunds
from orders.services.refusals import records_stock_refusals
from stores.models import Store
from stores.selectors import pickup_deadline

log = logging.getLogger(__name__)

# Unambiguous on a phone screen and when read aloud: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
PICKUP_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
PICKUP_CODE_LENGTH = 6
REMINDER_BEFORE_DEADLINE = timedelta(days=1)
# The ready e-mail's QR code holds "OMNIS-PICKUP:<order number>:<pickup code>".
PICKUP_QR_PREFIX = "OMNIS-PICKUP:"

TIMELINE_KIND = {
    OrderStatus.PLACED: TimelineKind.ORDER_PLACED,
    OrderStatus.READY_FOR_PICKUP: TimelineKind.ORDER_READY,
    OrderStatus.COLLECTED: TimelineKind.ORDER_COLLECTED,
    OrderStatus.SHIPPED: TimelineKind.ORDER_SHIPPED,
    OrderStatus.DELIVERED: TimelineKind.ORDER_DELIVERED,
    OrderStatus.CANCELLED: TimelineKind.ORDER_CANCELLED,
}

TIMESTAMP_FIELD = {
    OrderStatus.READY_FOR_PICKUP: "ready_at",
    OrderStatus.COLLECTED: "collected_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.CANCELLED: "cancelled_at",
}


# --- numbers and status ----------------------------------------------------------------------


def next_order_number(channel: str) -> str:
    """The next human order number of a channel: W-000123 (web), A- (app), P- (phone), S- (store).

    PostgreSQL draws from a per-channel sequence: unique under any concurrency and no lock is held
    until the order's transaction ends (a rolled-back order leaves a gap). Elsewhere a counter
    row is raised with one UPDATE, which locks it until the caller's transaction ends.
    """
    if channel not in NUMBER_PREFIX:
        raise InvalidInput(
            "Unknown channel.", errors={"channel": [f"Unknown channel '{channel}'."]}
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [f"orders_number_{channel}"])
            value = cursor.fetchone()[0]
    else:
        with transaction.atomic():
            raised = OrderNumberCounter.objects.filter(channel=channel).update(
                last_number=F("last_number") + 1
            )
            if not raised:
                try:
                    with transaction.atomic():
                        OrderNumberCounter.objects.create(channel=channel, last_number=1)
                except IntegrityError:
                    OrderNumberCounter.objects.filter(channel=channel).update(
                        last_number=F("last_number") + 1
                    )
            value = OrderNumberCounter.objects.get(channel=channel).last_number
    return f"{NUMBER_PREFIX[channel]}-{value:06d}"


def _actor_user(actor: Actor):
    return actor.user if getattr(actor.user, "pk", None) is not None else None


def _record_change(
    *, actor: Actor, order: Order, from_status: str, to_status: str, note: str = ""
) -> None:
    insert_rows(
        *_change_rows(
            actor=actor, order=order, from_status=from_status, to_status=to_status, note=note
        )
    )


def _change_rows(
    *, actor: Actor, order: Order, from_status: str, to_status: str, note: str = ""
) -> tuple[OrderStatusChange, TimelineEvent]:
    """The history row and the customer's timeline entry of one step, not yet written."""
    change = OrderStatusChange(
        order=order,
        from_status=from_status,
        to_status=to_status,
        channel=actor.channel,
        actor_user=_actor_user(actor),
        actor_client=actor.client,
        note=note[:255],
    )
    store = order.pickup_store or order.fulfilment_store
    label = OrderStatus(to_status).label.lower()
    event = timeline_entry(
        customer=order.customer,
        kind=TIMELINE_KIND[to_status],
        channel=actor.channel,
        summary=f"Order {order.number} {label}" + (f": {note}" if note else ""),
        actor=actor,
        store=store,
        subject_type="order",
        subject_id=order.number,
        data={"from_status": from_status, "to_status": to_status, "total": str(order.total)},
    )
    return change, event


def set_order_status(
    *,
    actor: Actor,
    order: Order,
    status: str,
    note: str = "",
    extra_fields: Sequence[str] = (),
    updates: Sequence[tuple[str, list]] = (),
) -> None:
    """Move the order one step through Order.TRANSITIONS; writes the history row and the timeline.

    Sets the step's timestamp (ready_at, collected_at, …) and saves the order (with
    `extra_fields` the caller changed on it, in the same UPDATE; `updates`, statements from
    common.rows.update_statement, travel with it). Raises
    IllegalTransition (409) for a step the table does not allow; nothing is written then.
    """
    previous = move_status(order, Order.TRANSITIONS, status, "order")
    # No savepoint: the step is checked before anything is written; a database error aborts
    # the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        order.updated_at = timezone.now()
        fields = ["status", "updated_at", *extra_fields]
        if status in TIMESTAMP_FIELD:
            setattr(order, TIMESTAMP_FIELD[status], order.updated_at)
            fields.append(TIMESTAMP_FIELD[status])
        saved = update_statement(
            Order.objects.filter(pk=order.pk), **{name: getattr(order, name) for name in fields}
        )
        # The order's UPDATE, its history row and the timeline entry: one statement.
        change_rows = _change_rows(
            actor=actor, order=order, from_status=previous, to_status=status, note=note
        )
        insert_rows(*change_rows, updates=[*updates, saved])
        webhooks.order_status_changed(order, previous)


# --- placing ---------------------------------------------------------------------------------


def _check_lines(lines: Sequence[tuple[Variant, int]]) -> dict[str, list]:
    if not lines:
        return {"lines": ["An order needs at least one line."]}
    problems: list[dict[str, list[str]]] = []
    for variant, quantity in lines:
        line_errors: dict[str, list[str]] = {}
        if not isinstance(variant, Variant) or variant.pk is None:
            line_errors["sku"] = ["Unknown SKU."]
        elif not variant.is_active:
            line_errors["sku"] = [f"{variant.sku} is no longer sold."]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            line_errors["quantity"] = ["Must be a whole number of at least 1."]
        problems.append(line_errors)
    return {"lines": problems} if any(problems) else {}


def _create_order(
    *,
    actor: Actor,
    customer: Customer,
    channel: str,
    fulfilment: str,
    fulfilment_store: Store,
    pickup_store: Store | None,
    lines: Sequence[tuple[Variant, int]],
    payment_status: str,
    payment_reference: str = "",
    shipping_address: dict | None = None,
    discount_code: str | None = None,
) -> tuple[Order, list[OrderLine], tuple[OrderStatusChange, TimelineEvent]]:
    """The order and its lines, written; its history row and timeline entry returned unwritten
    (the caller writes them with its other rows)."""
    subtotal = sum((variant.price * quantity for variant, quantity in lines), Decimal("0.00"))
    code, discount = discounts.take_discount(
        customer=customer, subtotal=subtotal, code=discount_code
    )
    order = Order(
        number=next_order_number(channel),
        channel=channel,
        fulfilment=fulfilment,
        status=OrderStatus.PLACED,
        customer=customer,
        pickup_store=pickup_store,
        fulfilment_store=fulfilment_store,
        shipping_address=shipping_address or {},
        payment_status=payment_status,
        payment_reference=payment_reference,
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        created_by_user=_actor_user(actor),
        created_by_client=actor.client,
    )
    order_lines = [
        OrderLine(
            order=order,
            variant=variant,
            sku=variant.sku,
            name=variant.label[:300],
            quantity=quantity,
            unit_price=variant.price,
        )
        for variant, quantity in lines
    ]
    # The order and its lines: one statement on PostgreSQL.
    insert_rows(order, *order_lines)
    rows = _change_rows(actor=actor, order=order, from_status="", to_status=OrderStatus.PLACED)
    if code is not None:
        discounts.record_redemption(actor=actor, order=order, code=code)
    webhooks.order_created(order)
    return order, order_lines, rows


def _reserve_for_pickup(*, actor: Actor, order: Order, order_lines: list[OrderLine]) -> None:
    """Reserve at the pickup store; lines it lacks come from a warehouse by one transfer."""
    store = order.fulfilment_store
    caused = [(line.variant, line.quantity, str(line.pk)) for line in order_lines]
    # A refused reservation writes nothing, but keeps the store's rows locked. When a warehouse
    # of a lower store id could make up the shortfall, a savepoint is set: rolling back to it
    # lets go of those rows before the warehouse's are taken (the lock order).
    lower = any(w.pk < store.pk for w in shipping_warehouses())
    try:
        with transaction.atomic() if lower else nullcontext():
            stock.reserve(actor=actor, store=store, lines=caused, cause_type=CauseType.ORDER_LINE)
        return
    except InsufficientStock as shortage:
        short_skus = {s["sku"] for s in shortage.short_lines}
        error = shortage
    from_store = [line for line in order_lines if line.sku not in short_skus]
    by_transfer = [line for line in order_lines if line.sku in short_skus]
    needed: dict[int, int] = {}
    for line in by_transfer:
        needed[line.variant_id] = needed.get(line.variant_id, 0) + line.quantity
    warehouses = [w for w in shipping_warehouses() if w.pk != store.pk]
    available = available_by_store(warehouses, list(needed))
    source = next(
        (
            w
            for w in warehouses
            if all(available.get((w.pk, vid), 0) >= qty for vid, qty in needed.items())
        ),
        None,
    )
    if source is None:
        raise error

    def reserve_here() -> None:
        if from_store:
            stock.reserve(
                actor=actor,
                store=store,
                lines=[(line.variant, line.quantity, str(line.pk)) for line in from_store],
                cause_type=CauseType.ORDER_LINE,
            )

    def send_from_warehouse() -> Transfer:
        try:
            return stock.create_transfer(
                actor=actor,
                from_store=source,
                to_store=store,
                lines=[(line.variant, line.quantity) for line in by_transfer],
                reason=f"For order {order.number}",
                destined_cause_type=CauseType.ORDER_LINE,
                destined_cause_ids=[str(line.pk) for line in by_transfer],
            )
        except InsufficientStock:
            # The warehouse sold out in the meantime: the customer learns what the store lacks.
            raise error

    # Stock rows store by store in id order (the global lock order).
    if source.pk < store.pk:
        transfer = send_from_warehouse()
        reserve_here()
    else:
        reserve_here()
        transfer = send_from_warehouse()
    OrderLine.objects.filter(pk__in=[line.pk for line in by_transfer]).update(via_transfer=True)
    for line in by_transfer:
        line.via_transfer = True
    order.transfer = transfer
    order.save(update_fields=["transfer", "updated_at"])


@records_stock_refusals(
    RefusalKind.ORDER, lambda kw: kw.get("pickup_store") or kw.get("shipping_store")
)
@retry_when_busy
def place_order(
    *,
    actor: Actor,
    customer: Customer,
    fulfilment: str,
    lines: Sequence[tuple[Variant, int]],
    pickup_store: Store | None = None,
    shipping_store: Store | None = None,
    channel: str | None = None,
    payment_status: str = PaymentStatus.PAID,
    payment_reference: str = "",
    shipping_address: dict | None = None,
    store_credit_amount: Decimal | None = None,
    discount_code: str | None = None,
) -> Order:
    """Place an order with captured prices and reserve its stock, all in one transaction.

    Pickup: stock is reserved at the pickup store; lines the store lacks but a warehouse has
    travel by one transfer (reserved at the warehouse now, at the store on arrival) and the order
    can only be marked ready once the transfer is received. Delivery: reserved at the shipping
    warehouse (the given one, else the first that has every line). Store credit (≤ balance,
    ≤ total) is spent at once. A discount code takes one use and lowers the total
    (customers.discounts). The confirmation e-mail is queued after commit.

    Raises InvalidInput (400, field errors) for bad lines, store, payment or store credit,
    InsufficientStock (409) naming each short line, CustomerConflict when the credit was spent
    concurrently, DiscountCodeInvalid (409) for a code that is unknown, expired, used up or
    another customer's. Nothing is written when it raises.
    """
    channel = channel or actor.channel
    errors: dict[str, list] = {}
    if channel not in NUMBER_PREFIX:
        errors["channel"] = [f"Unknown channel '{channel}'."]
    if customer is None or customer.pk is None or customer.merged_into_id:
        errors["customer"] = ["An existing customer is needed (merged records are aliases)."]
    errors.update(_check_lines(lines))
    if payment_status not in (PaymentStatus.PAID, PaymentStatus.PAY_AT_PICKUP):
        errors["payment_status"] = ["Use paid or pay_at_pickup."]
    if fulfilment == Fulfilment.PICKUP:
        if pickup_store is None:
            errors["pickup_store"] = ["A pickup order needs a pickup store."]
        elif not (pickup_store.offers_pickup and pickup_store.is_active):
            errors["pickup_store"] = [f"{pickup_store.code} offers no click & collect."]
    elif fulfilment == Fulfilment.DELIVERY:
        if payment_status == PaymentStatus.PAY_AT_PICKUP:
            errors["payment_status"] = ["Pay at pickup is only possible for pickup orders."]
        if pickup_store is not None:
            errors["pickup_store"] = ["A delivery order has no pickup store."]
        if shipping_store is not None and not (
            shipping_store.is_warehouse and shipping_store.is_active
        ):
            errors["shipping_store"] = [f"{shipping_store.code} does not ship orders."]
    else:
        errors["fulfilment"] = ["Use pickup or delivery."]
    credit = Decimal(store_credit_amount or 0)
    if credit < 0:
        errors["store_credit"] = ["Cannot be negative."]
    elif credit and not errors:
        total = sum((v.price * q for v, q in lines), Decimal("0.00"))
        balance = store_credit_balance(customer)
        if credit > balance:
            errors["store_credit"] = [f"Only {balance} store credit available."]
        elif credit > total:
            errors["store_credit"] = [f"More than the order total of {total}."]
    if errors:
        raise InvalidInput("Invalid order.", errors=errors)

    with transaction.atomic():
        if fulfilment == Fulfilment.PICKUP:
            fulfilment_store = pickup_store
        else:
            fulfilment_store = shipping_store or _warehouse_for(lines)
        order, order_lines, rows = _create_order(
            actor=actor,
            customer=customer,
            channel=channel,
            fulfilment=fulfilment,
            fulfilment_store=fulfilment_store,
            pickup_store=pickup_store if fulfilment == Fulfilment.PICKUP else None,
            lines=lines,
            payment_status=payment_status,
            payment_reference=payment_reference,
            shipping_address=shipping_address,
            discount_code=discount_code,
        )
        # Store credit first: the customer row is locked before any stock row, the same order an
        # exchange takes, so the two cannot deadlock.
        if credit > order.total:
            raise InvalidInput(
                "Invalid order.",
                errors={"store_credit": [f"More than the order total of {order.total}."]},
            )
        if credit:
            add_store_credit_entry(
                customer=customer,
                amount=-credit,
                reason=f"Spent on order {order.number}",
                cause_type="order",
                cause_id=order.number,
            )
            order.store_credit_used = credit
            if credit == order.total:
                order.payment_method = "store_credit"
            order.save(update_fields=["store_credit_used", "payment_method", "updated_at"])
        if fulfilment == Fulfilment.PICKUP:
            _reserve_for_pickup(actor=actor, order=order, order_lines=order_lines)
        else:
            stock.reserve(
                actor=actor,
                store=fulfilment_store,
                lines=[(line.variant, line.quantity, str(line.pk)) for line in order_lines],
                cause_type=CauseType.ORDER_LINE,
            )
        confirmation = outbox.new_message("orders.send_order_confirmation", {"order_id": order.pk})
        insert_rows(*rows, confirmation)
        outbox.written(confirmation)
        # The caller answers from what was written: no read-back.
        return as_prefetched(order, lines=order_lines, history=[rows[0]], refunds=[])


def _warehouse_for(lines: Sequence[tuple[Variant, int]]) -> Store:
    """The first active warehouse (by code) that has every line; raises InsufficientStock."""
    warehouses = shipping_warehouses()
    if not warehouses:
        raise InvalidInput(
            "Invalid order.", errors={"fulfilment": ["No warehouse ships orders at the moment."]}
        )
    needed: dict[int, int] = {}
    for variant, quantity in lines:
        needed[variant.pk] = needed.get(variant.pk, 0) + quantity
    available = available_by_store(warehouses, list(needed))
    for warehouse in warehouses:
        if all(available.get((warehouse.pk, vid), 0) >= qty for vid, qty in needed.items()):
            return warehouse
    # None has it all: let the first warehouse's reservation name every short line.
    return warehouses[0]


@retry_when_busy
def create_counter_sale(
    *,
    actor: Actor,
    customer: Customer,
    store: Store,
    lines: list[tuple[Variant, int]],
    payment_status: str = PaymentStatus.PAID,
    note: str = "",
    discount_code: str | None = None,
) -> Order:
    """Record a sale at the store counter: an order of channel store, fulfilment counter.

    The order goes placed → collected through the transition table (two history rows and
    timeline entries), with captured prices and every line handed over. It moves NO stock: the
    caller (e.g. collecting a reservation) sells the stock itself. Raises InvalidInput for bad
    lines.
    """
    errors = _check_lines(lines)
    if errors:
        raise InvalidInput("Invalid sale.", errors=errors)
    with transaction.atomic():
        order, _, rows = _create_order(
            actor=actor,
            customer=customer,
            channel=Channel.STORE,
            fulfilment=Fulfilment.COUNTER,
            fulfilment_store=store,
            pickup_store=None,
            lines=lines,
            payment_status=payment_status,
            discount_code=discount_code,
        )
        insert_rows(*rows)
        OrderLine.objects.filter(order=order).update(handed_over=F("quantity"))
        set_order_status(actor=actor, order=order, status=OrderStatus.COLLECTED, note=note)
        return order


# --- click & collect -------------------------------------------------------------------------


# Every step of an order locks it first: compiled once per process (common.compiled).
_LOCKED_ORDER = CompiledQuery(
    lambda pk: (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "pickup_store", "fulfilment_store", "transfer")
        .filter(pk=pk)
    )
)
_LOCKED_ORDER_LINES = CompiledQuery(
    lambda order: (
        OrderLine.objects.select_for_update(of=("order",))
        .select_related(
            "variant",
            "order__customer",
            "order__pickup_store",
            "order__fulfilment_store",
            "order__transfer",
        )
        .filter(order_id=order)
        .order_by("pk")
    )
)


def _lock(order: Order) -> Order:
    locked = _LOCKED_ORDER.first(pk=order.pk)
    if locked is None:
        raise Order.DoesNotExist(f"Order {order.pk} does not exist.")
    return locked


def _lock_with_lines(order: Order) -> tuple[Order, list[OrderLine]]:
    """The order locked and its lines, in one statement. The lines come from the statement's
    snapshot, the order row as it is once locked: fine for a step that needs a given status,
    as every change to a line also moves the order out of that status."""
    order_lines = _LOCKED_ORDER_LINES.objects(order=order.pk)
    if not order_lines:
        return _lock(order), []
    locked = order_lines[0].order
    for line in order_lines:
        line.order = locked
    return locked, order_lines


def _refresh(original: Order, locked: Order) -> None:
    """Keep the caller's instance in step with the saved one."""
    for field in locked._meta.concrete_fields:
        setattr(original, field.attname, getattr(locked, field.attname))
    original._state.fields_cache.update(locked._state.fields_cache)  # stores, customer, transfer
    original.__dict__.pop("_prefetched_objects_cache", None)  # e.g. lines as placed


def pickup_qr_payload(order: Order) -> str:
    """What the QR code holds: the counter scanner reads the order number and the code."""
    return f"{PICKUP_QR_PREFIX}{order.number}:{order.pickup_code}"


def read_pickup_scan(raw: str) -> tuple[str | None, str]:
    """(order number or None, code) from what the counter typed or scanned: a bare code, or the
    QR code's payload, which also names the order."""
    text = (raw or "").strip()
    if text.upper().startswith(PICKUP_QR_PREFIX):
        number, _, code = text[len(PICKUP_QR_PREFIX) :].rpartition(":")
        return number.strip().upper(), code.strip().upper()
    return None, text.upper()


def _new_pickup_code() -> str:
    return "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))


@retry_when_busy
def mark_ready_for_pickup(*, actor: Actor, order: Order) -> Order:
    """Staff picked the goods: the order is ready, gets its pickup code and a deadline.

    The code is random (secrets), 6 characters, unique among the orders waiting for pickup. The
    deadline is closing time on the last opening day of the store's pickup window
    (stores.selectors.pickup_deadline). The e-mail with code and QR code is queued after commit.
    Raises IllegalTransition unless a placed pickup order, AwaitingTransfer
    while its warehouse transfer has not been received.
    """
    with transaction.atomic():
        locked = _lock(order)
        if locked.fulfilment != Fulfilment.PICKUP:
            raise OrderConflict(
                f"Order {locked.number} is not a click & collect order.", code="not_a_pickup_order"
            )
        transfer = locked.transfer
        if (
            locked.status == OrderStatus.PLACED
            and transfer
            and transfer.status != TransferStatus.RECEIVED
        ):
            raise AwaitingTransfer(
                f"Order {locked.number} waits for transfer {transfer.pk} ({transfer.status}) "
                "from the warehouse.",
                extra={"transfer": transfer.pk},
            )
        set_order_status(actor=actor, order=locked, status=OrderStatus.READY_FOR_PICKUP)
        locked.pickup_deadline = pickup_deadline(locked.pickup_store, locked.ready_at)
        for _attempt in range(5):
            locked.pickup_code = _new_pickup_code()
            try:
                with transaction.atomic():
                    locked.save(update_fields=["pickup_code", "pickup_deadline"])
                break
            except IntegrityError:
                continue  # the code is taken by another open order: draw again
        else:
            raise OrderConflict("No free pickup code could be drawn; try again.")
        _queue("send_ready_for_pickup", locked.pk)
    _refresh(order, locked)
    return order


@retry_when_busy
def hand_over(
    *,
    actor: Actor,
    order: Order,
    pickup_code: str,
    lines: Sequence[tuple[OrderLine, int]] | None = None,
) -> Order:
    """Hand a ready order over at the counter after checking its pickup code.

    The order row is locked, so of two staff handing over at once one succeeds and the other gets
    IllegalTransition (409). Without `lines` everything is handed over. Partial hand-over: the
    given quantities are sold from the reserved stock; what is not handed over is released back
    to the shelf (the customer did not want it) and counted in the line's `cancelled`; the order
    is collected either way and each line's `handed_over` shows what left the store. A paid order
    is refunded what was not handed over (orders.services.refunds); a pay at pickup order is paid
    at the counter for what the customer takes.

    Raises WrongPickupCode (409; the attempt is counted and kept even though the call fails; the
    OMNIS_PICKUP_CODE_ATTEMPTS-th wrong code locks the hand-over), HandOverLocked (409) until a
    manager unlocks it, IllegalTransition unless ready for pickup, InvalidInput for bad partial
    lines.
    """
    try:
        return _hand_over(actor=actor, order=order, pickup_code=pickup_code, lines=lines)
    except WrongPickupCode:
        # Outside the rolled-back transaction: the attempt stays counted.
        _count_wrong_pickup_code(actor=actor, order=order)
        raise


def _count_wrong_pickup_code(*, actor: Actor, order: Order) -> None:
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(pickup_code_attempts=F("pickup_code_attempts") + 1)
        locked = _lock(order)
        log.warning("Wrong pickup code for order %s by %s", order.number, actor.label)
        if (
            locked.pickup_code_attempts < settings.OMNIS_PICKUP_CODE_ATTEMPTS
            or locked.handover_locked_at
        ):
            return
        locked.handover_locked_at = timezone.now()
        locked.save(update_fields=["handover_locked_at", "updated_at"])
        record_timeline_event(
            customer=locked.customer,
            kind=TimelineKind.ORDER_READY,
            channel=actor.channel,
            summary=(
                f"Hand-over of order {locked.number} locked after "
                f"{locked.pickup_code_attempts} wrong pickup codes"
            ),
            actor=actor,
            store=locked.pickup_store,
            subject_type="order",
            subject_id=locked.pk,
        )


def unlock_hand_over(*, actor: Actor, order: Order) -> Order:
    """A manager of the pickup store lets the hand-over go on after the wrong codes were looked
    into (the customer showed ID, a colleague mistyped). Raises Forbidden for anyone else."""
    from stores.selectors import is_manager_of

    if actor.user is None or not is_manager_of(actor.user, order.pickup_store):
        raise Forbidden("Only a manager of the pickup store can unlock a hand-over.")
    with transaction.atomic():
        locked = _lock(order)
        if locked.handover_locked_at is None:
            return locked
        locked.handover_locked_at = None
        locked.pickup_code_attempts = 0
        locked.save(update_fields=["handover_locked_at", "pickup_code_attempts", "updated_at"])
        record_timeline_event(
            customer=locked.customer,
            kind=TimelineKind.ORDER_READY,
            channel=actor.channel,
            summary=f"Hand-over of order {locked.number} unlocked by {actor.label}",
            actor=actor,
            store=locked.pickup_store,
            subject_type="order",
            subject_id=locked.pk,
        )
    _refresh(order, locked)
    return order


def _hand_over(
    *,
    actor: Actor,
    order: Order,
    pickup_code: str,
    lines: Sequence[tuple[OrderLine, int]] | None,
) -> Order:
    with transaction.atomic():
        locked, order_lines = _lock_with_lines(order)
        if locked.status != OrderStatus.READY_FOR_PICKUP:
            # Only a ready order is handed over (placed → collected is the counter sale's step).
            raise IllegalTransition("order", locked.status, OrderStatus.COLLECTED)
        if locked.handover_locked_at:
            raise HandOverLocked(
                f"Order {locked.number}: too many wrong pickup codes; a manager must unlock the "
                "hand-over first.",
                extra={"locked_at": locked.handover_locked_at.isoformat()},
            )
        number, given = read_pickup_scan(pickup_code)
        if number is not None and number != locked.number.upper():
            given = ""  # the QR code of another order: a wrong code for this one
        # Bytes: compare_digest refuses non-ASCII text, and a typed "Ä" is just a wrong code.
        if not locked.pickup_code or not secrets.compare_digest(
            given.encode(), locked.pickup_code.encode()
        ):
            raise WrongPickupCode(
                "The pickup code does not match this order.",
                errors={"pickup_code": ["Wrong code."]},
            )
        handed = _handed_quantities(order_lines, lines)
        sold = [(ln.variant, handed[ln.pk], str(ln.pk)) for ln in order_lines if handed[ln.pk]]
        kept = [
            (ln.variant, ln.quantity - handed[ln.pk], str(ln.pk))
            for ln in order_lines
            if ln.quantity - handed[ln.pk]
        ]
        if kept:
            lock_customer(locked.customer)  # the refund below may credit them: before the stock
        # One pass: sold and given-back rows are locked together, in the global order.
        stock.sell(
            actor=actor,
            store=locked.fulfilment_store,
            lines=sold,
            cause_type=CauseType.ORDER_LINE,
            reason=f"Handed over, order {locked.number}",
            released=kept,
            release_reason=f"Not taken at pickup, order {locked.number}",
        )
        for line in order_lines:
            line.handed_over = handed[line.pk]
            line.cancelled = line.quantity - handed[line.pk]
        # Written with the order's step below; until then the refund reads them from here.
        as_prefetched(locked, lines=order_lines)
        lines_saved = update_statement(
            OrderLine.objects.filter(pk__in=[line.pk for line in order_lines]),
            handed_over=Case(*[When(pk=ln.pk, then=Value(ln.handed_over)) for ln in order_lines]),
            cancelled=Case(*[When(pk=ln.pk, then=Value(ln.cancelled)) for ln in order_lines]),
        )
        # A ready order has no refund yet: what this hand-over refunds is all there is.
        paid_back = []
        if kept and locked.payment_status == PaymentStatus.PAID:
            paid_back = refunds.refund_not_handed_over(
                actor=actor, order=locked, reason="not taken at pickup"
            )
        paid_now = []
        if locked.payment_status == PaymentStatus.PAY_AT_PICKUP:
            locked.payment_status = PaymentStatus.PAID
            paid_now = ["payment_status"]
        note = "" if not kept else "partly handed over; the rest went back to the shelf"
        set_order_status(
            actor=actor,
            order=locked,
            status=OrderStatus.COLLECTED,
            note=note,
            extra_fields=paid_now,
            updates=[lines_saved],
        )
    _refresh(order, locked)
    return as_prefetched(order, lines=order_lines, refunds=paid_back)


def _handed_quantities(
    order_lines: list[OrderLine], lines: Sequence[tuple[OrderLine, int]] | None
) -> dict[int, int]:
    if lines is None:
        return {line.pk: line.quantity for line in order_lines}
    by_id = {line.pk: line for line in order_lines}
    handed = {line.pk: 0 for line in order_lines}
    problems: list[str] = []
    for line, quantity in lines:
        line_id = getattr(line, "pk", line)
        if line_id not in by_id:
            problems.append(f"Line {line_id} is not part of this order.")
        elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            problems.append(f"Line {line_id}: quantity must be a whole number of at least 0.")
        elif handed[line_id] + quantity > by_id[line_id].quantity:
            problems.append(f"Line {line_id}: only {by_id[line_id].quantity} ordered.")
        else:
            handed[line_id] += quantity
    if not problems and not any(handed.values()):
        problems.append("Nothing would be handed over; cancel the order instead.")
    if problems:
        raise InvalidInput("Invalid hand-over.", errors={"lines": problems})
    return handed


# --- delivery --------------------------------------------------------------------------------


@retry_when_busy
def ship_order(*, actor: Actor, order: Order) -> Order:
    """A delivery order leaves the warehouse: its reserved stock is sold there.

    Raises IllegalTransition unless a placed delivery order.
    """
    with transaction.atomic():
        locked = _lock(order)
        if locked.fulfilment != Fulfilment.DELIVERY:
            raise OrderConflict(
                f"Order {locked.number} is not a delivery order.", code="not_a_delivery_order"
            )
        set_order_status(actor=actor, order=locked, status=OrderStatus.SHIPPED)
        order_lines = list(locked.lines.select_related("variant").order_by("pk"))
        stock.sell(
            actor=actor,
            store=locked.fulfilment_store,
            lines=[(ln.variant, ln.quantity, str(ln.pk)) for ln in order_lines],
            cause_type=CauseType.ORDER_LINE,
            reason=f"Shipped, order {locked.number}",
        )
    _refresh(order, locked)
    return order


@retry_when_busy
def deliver_order(*, actor: Actor, order: Order) -> Order:
    """The carrier delivered: the order is complete and every line counts as handed over.

    Raises IllegalTransition unless shipped.
    """
    with transaction.atomic():
        locked = _lock(order)
        set_order_status(actor=actor, order=locked, status=OrderStatus.DELIVERED)
        locked.lines.update(handed_over=F("quantity"))
    _refresh(order, locked)
    return order


# --- cancelling ------------------------------------------------------------------------------


@retry_when_busy
def cancel_order(*, actor: Actor, order: Order, reason: str = "") -> Order:
    """Cancel an order that is not yet collected or shipped and give its stock back.

    Reserved units at the fulfilment store are released. Lines travelling by a warehouse transfer:
    a transfer not yet dispatched is called off (released at the warehouse); one in transit is
    released at the store when it arrives (`on_transfer_received`). A paid order is refunded in
    full (orders.services.refunds: store credit back at once, the payment through the provider
    after commit); a pay at pickup order gets back the store credit it spent. The cancellation
    e-mail is queued after commit. Raises
    IllegalTransition for a collected, shipped, delivered or already cancelled order.
    """
    with transaction.atomic():
        locked = _lock(order)
        set_order_status(actor=actor, order=locked, status=OrderStatus.CANCELLED, note=reason)
        order_lines = list(locked.lines.select_related("variant").order_by("pk"))
        # Read afresh now that the order is ours: a receipt that settled this order committed
        # while we waited for the lock, and the joined row above is from before that.
        transfer = Transfer.objects.filter(pk=locked.transfer_id).first()
        arrived = transfer is None or transfer.status == TransferStatus.RECEIVED
        releasable = [ln for ln in order_lines if not ln.via_transfer or arrived]
        # The global lock order: the customer's row (the refund below may credit it) before any
        # stock row, then stock rows store by store in id order (the warehouse may come first).
        lock_customer(locked.customer)

        def release_here() -> None:
            if releasable:
                _release_lines(
                    actor=actor,
                    order=locked,
                    lines=releasable,
                    reason=f"Order {locked.number} cancelled",
                )

        def call_off_transfer() -> None:
            if transfer is not None and transfer.status == TransferStatus.REQUESTED:
                stock.cancel_transfer(
                    actor=actor, transfer=transfer, reason=f"Order {locked.number} cancelled"
                )
                locked.lines.filter(via_transfer=True).update(cancelled=F("quantity"))

        steps = [release_here, call_off_transfer]
        if transfer is not None and transfer.from_store_id < locked.fulfilment_store_id:
            steps.reverse()
        for step in steps:
            step()
        refunds.refund_not_handed_over(actor=actor, order=locked, reason="cancelled")
        _queue("send_order_cancelled", locked.pk)
    _refresh(order, locked)
    return order


def lock_orders_of_transfer(*, transfer: Transfer) -> None:
    """Lock the orders a transfer travels for, before its receipt touches stock (the global lock
    order: workflow rows before stock rows). Inside the receipt's transaction only."""
    list(
        Order.objects.select_for_update(of=("self",))
        .filter(transfer=transfer)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@retry_when_busy
def _release_lines(*, actor: Actor, order: Order, lines: list[OrderLine], reason: str) -> None:
    """Give these lines' reserved units back at the order's store; the lines count as cancelled."""
    stock.release(
        actor=actor,
        store=order.fulfilment_store,
        lines=[(ln.variant, ln.quantity, str(ln.pk)) for ln in lines],
        cause_type=CauseType.ORDER_LINE,
        reason=reason,
    )
    OrderLine.objects.filter(pk__in=[ln.pk for ln in lines]).update(cancelled=F("quantity"))


def on_transfer_received(*, actor: Actor, transfer: Transfer) -> int:
    """After a warehouse transfer arrived: settle the orders it travelled for.

    Called (in the receipt's transaction) through inventory's `transfer_received` event, and
    again by the pickup-window sweep, so it must be safe to run twice. Goods for an order
    cancelled while they were on the road are released at the store (they were reserved for the
    order lines on arrival); a waiting order gets a timeline entry saying it can now be picked.
    Returns the number of order lines released.
    """
    released = 0
    if transfer.status != TransferStatus.RECEIVED:
        return released
    with transaction.atomic():
        for order in (
            Order.objects.select_for_update(of=("self",))
            .select_related("customer", "fulfilment_store")
            .filter(transfer=transfer)
        ):
            pending = list(
                order.lines.select_related("variant").filter(via_transfer=True, cancelled=0)
            )
            if order.status == OrderStatus.CANCELLED and pending:
                _release_lines(
                    actor=actor,
                    order=order,
                    lines=pending,
                    reason=f"Arrived for cancelled order {order.number}",
                )
                released += len(pending)
            elif (
                order.status == OrderStatus.PLACED
                and not order.customer.timeline.filter(
                    kind=TimelineKind.TOUCHPOINT,
                    subject_type="transfer",
                    subject_id=str(transfer.pk),
                ).exists()
            ):
                record_timeline_event(
                    customer=order.customer,
                    kind=TimelineKind.TOUCHPOINT,
                    channel=Channel.STORE,
                    summary=(
                        f"Goods for order {order.number} arrived at {order.fulfilment_store.code} "
                        "from the warehouse: the order can be picked"
                    ),
                    actor=actor,
                    store=order.fulfilment_store,
                    subject_type="transfer",
                    subject_id=transfer.pk,
                )
    return released


# --- the pickup window -----------------------------------------------------------------------


@retry_when_busy
def expire_uncollected_orders(*, now: datetime | None = None) -> dict[str, int]:
    """Remind a day before the pickup deadline, cancel after it (releasing the stock).

    Each order is handled in its own short transaction with select_for_update(skip_locked=True),
    so two runs at the same time never handle the same order and a second run finds nothing left
    to do. Also releases goods that arrived for orders cancelled while in transit. Returns the
    counts of reminded and cancelled orders.
    """
    now = now or timezone.now()
    system = Actor.system()
    reminded = cancelled = 0
    due_reminders = Order.objects.filter(
        status=OrderStatus.READY_FOR_PICKUP,
        reminder_sent_at__isnull=True,
        pickup_deadline__gt=now,
        pickup_deadline__lte=now + REMINDER_BEFORE_DEADLINE,
    ).values_list("pk", flat=True)
    for pk in list(due_reminders):
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=OrderStatus.READY_FOR_PICKUP, reminder_sent_at__isnull=True)
                .first()
            )
            if order is None:
                continue
            order.reminder_sent_at = now
            order.save(update_fields=["reminder_sent_at", "updated_at"])
            _queue("send_pickup_reminder", order.pk)
            reminded += 1
    overdue = Order.objects.filter(
        status=OrderStatus.READY_FOR_PICKUP, pickup_deadline__lte=now
    ).values_list("pk", flat=True)
    for pk in list(overdue):
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=OrderStatus.READY_FOR_PICKUP)
                .first()
            )
            if order is None:
                continue
            cancel_order(actor=system, order=order, reason="not collected within the pickup window")
            cancelled += 1
    received = Transfer.objects.filter(
        status=TransferStatus.RECEIVED,
        orders__status=OrderStatus.CANCELLED,
        orders__lines__via_transfer=True,
        orders__lines__cancelled=0,
    ).distinct()
    for transfer in received:
        on_transfer_received(actor=system, transfer=transfer)
    return {"reminded": reminded, "cancelled": cancelled}


# --- side effects ----------------------------------------------------------------------------


def _queue(message: str, order_id: int) -> None:
    """The customer's message as an outbox row in this transaction (sent only if it commits)."""
    outbox.enqueue(f"orders.{message}", {"order_id": order_id})
