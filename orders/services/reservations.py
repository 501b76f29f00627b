"""Reserve & collect: stock held in one store for one customer until a deadline.

The one status mover is `_move`: it checks Reservation.TRANSITIONS, writes the history row and the
customer's timeline entry. Stock changes only through inventory.services, with the reservation line
as the ledger cause. E-mails leave through Celery tasks queued on commit.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.compiled import CompiledQuery, Statement
from common.errors import move_status
from common.retry import retry_when_busy
from common.rows import as_prefetched, insert_rows
from customers.models import Customer, TimelineKind
from customers.normalise import normalise_email, normalise_phone
from customers.services import find_or_create_customer, record_timeline_event, timeline_entry
from inventory import services as stock
from inventory.models import CauseType, Variant
from orders import webhooks
from orders.exceptions import (
    ExtensionLimit,
    InvalidReservation,
    ReservationExpired,
    ReservationLimit,
    ReservationNotActive,
)
from orders.models import (
    ReleaseReason,
    Reservation,
    ReservationLine,
    ReservationStatus,
    ReservationStatusChange,
)
from orders.models.insights import RefusalKind
from orders.services.refusals import records_stock_refusals
from stores.models import Store
from stores.selectors import opening_spans

# The reminder goes out this long before the deadline (if the hold is long enough for it).
REMINDER_BEFORE = timedelta(hours=3)
WORKFLOW = "reservation"


# --- deadlines -------------------------------------------------------------------------------


def latest_deadline_within_hours(store: Store, deadline: datetime) -> datetime:
    """The deadline itself while the store is open then, else the last closing time before it.

    A store without opening hours keeps the deadline as it is.
    """
    if not store.opening_hours:
        return deadline
    local = deadline.astimezone(store.zone)
    for days_back in range(0, 15):
        day = local.date() - timedelta(days=days_back)
        for opens, closes in opening_spans(store, day):
            if opens <= deadline <= closes:
                return deadline
            if closes <= deadline:
                return closes
    return deadline


def default_expiry(store: Store, *, start: datetime) -> datetime:
    """The store's default hold, ending at the latest at its closing time on the last day."""
    candidate = start + timedelta(hours=store.default_hold_hours)
    capped = latest_deadline_within_hours(store, candidate)
    # A hold made after closing with a short default would end before it starts: keep it whole.
    return capped if capped > start else candidate


def latest_possible_expiry(reservation: Reservation) -> datetime:
    return reservation.created_at + timedelta(hours=reservation.store.max_hold_hours)


def _remind_at(expires_at: datetime, now: datetime) -> datetime | None:
    remind = expires_at - REMINDER_BEFORE
    return remind if remind > now else None


# --- the one status mover --------------------------------------------------------------------


def _record_history(
    reservation: Reservation, *, actor: Actor, from_status: str, to_status: str, note: str = ""
) -> None:
    _history_row(
        reservation, actor=actor, from_status=from_status, to_status=to_status, note=note
    ).save(force_insert=True)


def _history_row(
    reservation: Reservation, *, actor: Actor, from_status: str, to_status: str, note: str = ""
) -> ReservationStatusChange:
    return ReservationStatusChange(
        reservation=reservation,
        from_status=from_status,
        to_status=to_status,
        channel=actor.channel,
        actor_user=actor.user if getattr(actor.user, "pk", None) else None,
        actor_client=actor.client,
        note=note[:255],
    )


def _move(
    reservation: Reservation,
    target: str,
    *,
    actor: Actor,
    kind: str,
    summary: str,
    note: str = "",
    now: datetime,
) -> None:
    previous = move_status(reservation, Reservation.TRANSITIONS, target, WORKFLOW)
    reservation.save()
    _record_history(reservation, actor=actor, from_status=previous, to_status=target, note=note)
    webhooks.reservation_status_changed(reservation, previous)
    record_timeline_event(
        customer=reservation.customer,
        kind=kind,
        channel=actor.channel,
        summary=summary,
        actor=actor,
        store=reservation.store,
        subject_type="reservation",
        subject_id=reservation.pk,
        at=now,
    )


def _lock(reservation: Reservation | int) -> Reservation:
    pk = reservation.pk if isinstance(reservation, Reservation) else reservation
    return (
        Reservation.objects.select_for_update(of=("self",))
        .select_related("store", "customer")
        .get(pk=pk)
    )


def _lines(reservation: Reservation) -> list[ReservationLine]:
    return list(reservation.lines.select_related("variant__product").order_by("pk"))


def _release_stock(
    reservation: Reservation, quantities: dict[int, int], *, actor: Actor, reason: str
) -> None:
    lines = [
        (line.variant, quantities[line.pk], str(line.pk))
        for line in _lines(reservation)
        if quantities.get(line.pk, 0) > 0
    ]
    if lines:
        stock.release(
            actor=actor,
            store=reservation.store,
            lines=lines,
            cause_type=CauseType.RESERVATION_LINE,
            reason=reason,
        )


def _queue(message: str, reservation_id: int) -> None:
    """The customer's message as an outbox row in this transaction (sent only if it commits)."""
    outbox.enqueue(f"orders.{message}", {"reservation_id": reservation_id})


def _local(value: datetime, store: Store) -> str:
    return value.astimezone(store.zone).strftime("%a %d.%m.%Y %H:%M")


# --- creating a hold -------------------------------------------------------------------------


def _check_store(store: Store | None, errors: dict[str, list[str]]) -> None:
    if store is None:
        errors["store"] = ["A store is needed."]
    elif not store.is_active or store.is_warehouse or not store.takes_reservations:
        errors["store"] = [f"{store.code} takes no reservations."]


def _check_lines(lines: Sequence[tuple[Variant, int]], errors: dict) -> list[tuple[Variant, int]]:
    if not lines:
        errors["lines"] = ["At least one line is needed."]
        return []
    merged: dict[int, list[Any]] = {}
    problems = []
    for index, (variant, quantity) in enumerate(lines, start=1):
        if not isinstance(variant, Variant) or variant.pk is None:
            problems.append(f"Line {index}: an existing SKU is needed.")
        elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            problems.append(f"Line {index} ({variant.sku}): quantity must be at least 1.")
        elif not variant.is_active:
            problems.append(f"Line {index}: {variant.sku} is no longer sold.")
        else:
            merged.setdefault(variant.pk, [variant, 0])[1] += quantity
    if problems:
        errors["lines"] = problems
    return [(variant, quantity) for variant, quantity in merged.values()]


def _check_expiry(
    store: Store | None, expires_at: datetime | None, now: datetime, errors: dict
) -> None:
    if expires_at is None or store is None:
        return
    if timezone.is_naive(expires_at):
        errors["expires_at"] = ["Give the time with its offset, e.g. 2026-05-02T20:00:00+02:00."]
    elif expires_at <= now:
        errors["expires_at"] = ["The deadline must be in the future."]
    elif expires_at > now + timedelta(hours=store.max_hold_hours):
        errors["expires_at"] = [
            f"{store.code} holds items for at most {store.max_hold_hours} hours "
            f"(until {_local(now + timedelta(hours=store.max_hold_hours), store)})."
        ]


def _check_customer_details(details: dict[str, Any], errors: dict) -> None:
    for field, normalise in (("phone", normalise_phone), ("email", normalise_email)):
        try:
            normalise(details.get(field))
        except ValidationError as exc:
            errors[field] = exc.messages
    nothing_given = not details.get("phone") and not details.get("email")
    if nothing_given and "phone" not in errors and "email" not in errors:
        errors["customer"] = ["Give a customer, or a phone number or e-mail address."]


@records_stock_refusals(RefusalKind.RESERVATION, lambda kw: kw.get("store"))
@retry_when_busy
@transaction.atomic
def reserve_for_customer(
    *,
    actor: Actor,
    store: Store,
    lines: Sequence[tuple[Variant, int]],
    customer: Customer | None = None,
    customer_id: int | None = None,
    customer_details: dict[str, Any] | None = None,
    channel: str | None = None,
    expires_at: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Reservation:
    """Hold stock in a store for a customer until a deadline; the confirmation goes out on commit.

    Either `customer`, or `customer_id` (the customer is then only read as its row is locked:
    unknown or merged is a 400 on customer), or `customer_details` (phone, email, first_name,
    last_name) to find the customer by phone/e-mail in any format or create them. Without
    `expires_at` the store's default hold applies, ending at the latest at its closing time on
    the last day.
    Raises InvalidReservation (400: store, lines, expires_at, phone, email, customer) and
    InsufficientStock (409, with every short line); nothing is written in either case.
    """
    explicit_now = now is not None
    now = now or timezone.now()
    if customer is None and customer_id is not None:
        customer = Customer(pk=customer_id)  # known by its id: the lock below finds the row
    errors: dict[str, list[str]] = {}
    _check_store(store, errors)
    checked = _check_lines(lines, errors)
    _check_expiry(store, expires_at, now, errors)
    if customer is None:
        _check_customer_details(customer_details or {}, errors)
    if errors:
        raise InvalidReservation("Invalid reservation.", errors=errors)

    channel = channel or actor.channel
    if customer is None:
        details = customer_details or {}
        customer, _ = find_or_create_customer(
            actor=actor,
            email=details.get("email"),
            phone=details.get("phone"),
            first_name=details.get("first_name") or "",
            last_name=details.get("last_name") or "",
            channel=channel,
        )
    _check_units_per_line(checked)
    deadline = expires_at or default_expiry(store, start=now)
    reservation = Reservation(
        customer=customer,
        store=store,
        channel=channel,
        status=ReservationStatus.ACTIVE,
        expires_at=deadline,
        remind_at=_remind_at(deadline, now),
        note=note[:500],
        created_by_user=actor.user if getattr(actor.user, "pk", None) else None,
        created_by_client=actor.client,
    )
    created = [
        ReservationLine(reservation=reservation, variant=variant, quantity=quantity)
        for variant, quantity in checked
    ]
    # The customer's row is locked first (the global order: customers before stock), so two
    # holds at once cannot both pass the limit counted below; the hold and its lines go in the
    # same statement.
    if not insert_rows(reservation, *created, locking=_customer_lock(customer)).locked:
        raise InvalidReservation(
            "Invalid reservation.",
            errors={"customer": [f'Invalid pk "{customer.pk}" - object does not exist.']},
        )
    if explicit_now:
        # The maximum hold counts from the moment the caller says the hold was made.
        Reservation.objects.filter(pk=reservation.pk).update(created_at=now)
        reservation.created_at = now
    stock.reserve(
        actor=actor,
        store=store,
        lines=[(line.variant, line.quantity, str(line.pk)) for line in created],
        cause_type=CauseType.RESERVATION_LINE,
        reason=f"Reservation {reservation.pk}",
    )
    history = _history_row(
        reservation, actor=actor, from_status="", to_status=ReservationStatus.ACTIVE, note=note
    )
    items = ", ".join(f"{line.quantity} × {line.variant.sku}" for line in created)
    event = timeline_entry(
        customer=customer,
        kind=TimelineKind.RESERVATION_CREATED,
        channel=channel,
        summary=f"Reserved {items} at {store.code} until {_local(deadline, store)}",
        actor=actor,
        store=store,
        sku=created[0].variant.sku if len(created) == 1 else "",
        subject_type="reservation",
        subject_id=reservation.pk,
        at=now,
    )
    confirmation = outbox.new_message(
        "orders.send_reservation_confirmation", {"reservation_id": reservation.pk}
    )
    # The rows nobody reads back in this transaction leave together (one statement), with the
    # count of the customer's holds: it sees every hold committed before the lock was granted.
    written = insert_rows(history, event, confirmation, counting=_active_holds(customer, now))
    holding, limit = written.counted - 1, settings.OMNIS_RESERVATION_MAX_ACTIVE
    if holding >= limit:
        raise ReservationLimit(
            f"The customer already holds {holding} reservations, the most one customer may hold.",
            extra={"max_active": limit, "active": holding},
        )
    outbox.written(confirmation)
    # The caller answers from what was written: no read-back.
    return as_prefetched(reservation, lines=created, history=[history])


def _check_units_per_line(lines: list[tuple[Variant, int]]) -> None:
    """One customer may not hold a store's shelf empty: so many units of an item at most."""
    per_line = settings.OMNIS_RESERVATION_MAX_UNITS_PER_LINE
    too_many = [variant.sku for variant, quantity in lines if quantity > per_line]
    if too_many:
        raise ReservationLimit(
            f"At most {per_line} units of one item can be held; ask the store for more.",
            extra={"max_units_per_line": per_line, "skus": too_many},
        )


# The two statements every hold sends besides its rows: compiled once (common.compiled).
_CUSTOMER_LOCK = CompiledQuery(
    # NO KEY UPDATE: rows that merely point at the customer (timeline entries written while
    # holding stock rows) must not wait for it, or the two wait on each other.
    lambda pk: (
        Customer.objects.select_for_update(no_key=True)
        .filter(pk=pk, merged_into__isnull=True)
        .order_by()
        .values("pk")
    )
)
_ACTIVE_HOLDS = CompiledQuery(
    lambda customer, now: (
        Reservation.objects.filter(
            customer_id=customer, status=ReservationStatus.ACTIVE, expires_at__gt=now
        )
        .order_by()
        .values("pk")
    )
)


def _customer_lock(customer: Customer) -> Statement:
    """The customer's row (not merged), to lock before their holds are counted."""
    return _CUSTOMER_LOCK.statement(pk=customer.pk)


def _active_holds(customer: Customer, now: datetime) -> Statement:
    return _ACTIVE_HOLDS.statement(customer=customer.pk, now=now)


# --- changing a hold -------------------------------------------------------------------------


def _require_active(reservation: Reservation, now: datetime, doing: str) -> None:
    if reservation.status != ReservationStatus.ACTIVE:
        raise ReservationNotActive(
            f"Reservation {reservation.pk} is {reservation.status}; it cannot be {doing}.",
            extra={"status": reservation.status},
        )
    if reservation.expires_at <= now:
        raise ReservationExpired(
            f"Reservation {reservation.pk} expired at {_local(reservation.expires_at, reservation.store)}.",
            extra={"expires_at": reservation.expires_at.isoformat()},
        )


@retry_when_busy
@transaction.atomic
def extend_reservation(
    *,
    actor: Actor,
    reservation: Reservation,
    hours: int | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Push the deadline out by `hours` (default: the store's default hold) or to `expires_at`.

    At most store.max_hold_extensions times and never beyond max_hold_hours from the creation.
    Raises InvalidReservation (400: hours, expires_at), ExtensionLimit (409 extension_limit),
    ReservationExpired / ReservationNotActive (409).
    """
    now = now or timezone.now()
    reservation = _lock(reservation)
    store = reservation.store
    _require_active(reservation, now, "extended")
    if hours is not None and expires_at is not None:
        raise InvalidReservation(
            "Invalid extension.", errors={"hours": ["Give either hours or expires_at, not both."]}
        )
    if expires_at is None:
        hours = store.default_hold_hours if hours is None else hours
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
            raise InvalidReservation(
                "Invalid extension.", errors={"hours": ["A whole number of at least 1."]}
            )
        candidate = reservation.expires_at + timedelta(hours=hours)
        new_expiry = latest_deadline_within_hours(store, candidate)
        if new_expiry <= reservation.expires_at:
            new_expiry = candidate  # the store is closed all that time: take the hours as asked
    else:
        if timezone.is_naive(expires_at) or expires_at <= reservation.expires_at:
            raise InvalidReservation(
                "Invalid extension.",
                errors={"expires_at": ["Must be later than the current deadline, with offset."]},
            )
        new_expiry = expires_at
    if reservation.extension_count >= store.max_hold_extensions:
        raise ExtensionLimit(
            f"{store.code} extends a reservation at most {store.max_hold_extensions} times.",
            extra={"max_extensions": store.max_hold_extensions},
        )
    limit = latest_possible_expiry(reservation)
    if new_expiry > limit:
        raise ExtensionLimit(
            f"{store.code} holds items for at most {store.max_hold_hours} hours: "
            f"until {_local(limit, store)} at the latest.",
            extra={"latest_expires_at": limit.isoformat()},
        )
    previous = reservation.expires_at
    reservation.expires_at = new_expiry
    reservation.remind_at = _remind_at(new_expiry, now)
    reservation.reminder_sent_at = None
    reservation.extension_count += 1
    reservation.save(
        update_fields=[
            "expires_at",
            "remind_at",
            "reminder_sent_at",
            "extension_count",
            "updated_at",
        ]
    )
    summary = f"Reservation extended until {_local(new_expiry, store)}"
    _record_history(
        reservation,
        actor=actor,
        from_status=reservation.status,
        to_status=reservation.status,
        note=f"{summary} (was {_local(previous, store)})",
    )
    record_timeline_event(
        customer=reservation.customer,
        kind=TimelineKind.RESERVATION_EXTENDED,
        channel=actor.channel,
        summary=summary,
        actor=actor,
        store=store,
        subject_type="reservation",
        subject_id=reservation.pk,
        at=now,
    )
    return reservation


def _release(
    reservation: Reservation, *, actor: Actor, reason: str, note: str, now: datetime
) -> None:
    """Release every uncollected unit and close the reservation (caller holds the row lock)."""
    _release_stock(
        reservation,
        {line.pk: line.quantity - line.collected for line in _lines(reservation)},
        actor=actor,
        reason=f"Reservation {reservation.pk} {reason}",
    )
    reservation.release_reason = reason
    reservation.released_at = now
    label = "cancelled" if reason == ReleaseReason.CANCELLED else "expired"
    _move(
        reservation,
        ReservationStatus.RELEASED,
        actor=actor,
        kind=TimelineKind.RESERVATION_RELEASED,
        summary=f"Reservation at {reservation.store.code} {label}" + (f": {note}" if note else ""),
        note=note or label,
        now=now,
    )
    _queue("send_reservation_released", reservation.pk)


@retry_when_busy
@transaction.atomic
def cancel_reservation(
    *, actor: Actor, reservation: Reservation, note: str = "", now: datetime | None = None
) -> Reservation:
    """Release the held stock now (the customer or staff called it off).

    Raises ReservationNotActive (409) when it is already collected or released.
    """
    now = now or timezone.now()
    reservation = _lock(reservation)
    if reservation.status != ReservationStatus.ACTIVE:
        raise ReservationNotActive(
            f"Reservation {reservation.pk} is {reservation.status}; it cannot be cancelled.",
            extra={"status": reservation.status},
        )
    _release(reservation, actor=actor, reason=ReleaseReason.CANCELLED, note=note, now=now)
    return reservation


@retry_when_busy
@transaction.atomic
def collect_reservation(
    *,
    actor: Actor,
    reservation: Reservation,
    lines: Sequence[tuple[ReservationLine | int, int]] | None = None,
    now: datetime | None = None,
) -> Reservation:
    """The customer takes the reserved items: a store sale linked to the reservation.

    `lines` [(reservation line or its id, quantity)] collects part; what is not collected is
    released. The reserved units are sold through inventory (from_reserved). Raises
    ReservationNotActive / ReservationExpired (409; also past the deadline before the expiry
    task ran) and InvalidReservation (400: lines).
    """
    from orders.services.orders import create_counter_sale

    now = now or timezone.now()
    reservation = _lock(reservation)
    _require_active(reservation, now, "collected")
    held = _lines(reservation)
    by_id = {line.pk: line for line in held}
    if lines is None:
        wanted = {line.pk: line.quantity for line in held}
    else:
        wanted, problems = {}, []
        for index, (line, quantity) in enumerate(lines, start=1):
            line_id = line.pk if isinstance(line, ReservationLine) else line
            if line_id not in by_id:
                problems.append(f"Line {index}: not a line of reservation {reservation.pk}.")
            elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                problems.append(f"Line {index}: quantity must be 0 or more.")
            elif wanted.get(line_id, 0) + quantity > by_id[line_id].quantity:
                problems.append(
                    f"Line {index}: only {by_id[line_id].quantity} of {by_id[line_id].variant.sku} reserved."
                )
            else:
                wanted[line_id] = wanted.get(line_id, 0) + quantity
        if not problems and not any(wanted.values()):
            problems.append("Collect at least one unit (or cancel the reservation).")
        if problems:
            raise InvalidReservation("Invalid collection.", errors={"lines": problems})

    sold = [(by_id[pk], quantity) for pk, quantity in wanted.items() if quantity > 0]
    order = create_counter_sale(
        actor=actor,
        customer=reservation.customer,
        store=reservation.store,
        lines=[(line.variant, quantity) for line, quantity in sold],
        note=f"Reservation {reservation.pk}",
    )
    rest = {line.pk: line.quantity - wanted.get(line.pk, 0) for line in held}
    # One pass: sold and released rows are locked together, in the global order.
    stock.sell(
        actor=actor,
        store=reservation.store,
        lines=[(line.variant, quantity, str(line.pk)) for line, quantity in sold],
        cause_type=CauseType.RESERVATION_LINE,
        from_reserved=True,
        reason=f"Reservation {reservation.pk} collected ({order.number})",
        released=[(line.variant, rest[line.pk], str(line.pk)) for line in held if rest[line.pk]],
        release_reason=f"Reservation {reservation.pk}: not collected",
    )
    for line, quantity in sold:
        line.collected = quantity
        line.save(update_fields=["collected"])
    reservation.order = order
    reservation.collected_at = now
    partial = any(rest.values())
    _move(
        reservation,
        ReservationStatus.COLLECTED,
        actor=actor,
        kind=TimelineKind.RESERVATION_COLLECTED,
        summary=(
            f"Reservation collected at {reservation.store.code} as {order.number}"
            + (" (partly; the rest was released)" if partial else "")
        ),
        note=f"Sold as {order.number}" + (", rest released" if partial else ""),
        now=now,
    )
    return reservation


# --- the periodic task -----------------------------------------------------------------------


def _send_due_reminders(now: datetime, limit: int) -> int:
    due = list(
        Reservation.objects.filter(
            status=ReservationStatus.ACTIVE,
            remind_at__lte=now,
            reminder_sent_at__isnull=True,
            expires_at__gt=now,
        )
        .order_by("remind_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for pk in due:
        with transaction.atomic():
            reservation = (
                Reservation.objects.select_for_update(skip_locked=True)
                .filter(
                    pk=pk,
                    status=ReservationStatus.ACTIVE,
                    reminder_sent_at__isnull=True,
                    expires_at__gt=now,
                )
                .first()
            )
            if reservation is None:  # another run has it, or it changed meanwhile
                continue
            reservation.reminder_sent_at = now
            reservation.save(update_fields=["reminder_sent_at", "updated_at"])
            _queue("send_reservation_reminder", reservation.pk)
            sent += 1
    return sent


@retry_when_busy
def release_expired_reservations(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Send due reminders and release every active hold past its deadline (reason expired).

    Safe to run twice or concurrently: each reservation is taken with SKIP LOCKED and its status
    and deadline are checked again inside the lock, so a collect running at the same moment and
    this task never both win. Returns {"reminded": n, "released": m}.
    """
    now = now or timezone.now()
    reminded = _send_due_reminders(now, limit)
    expired = list(
        Reservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    released = 0
    for pk in expired:
        with transaction.atomic():
            reservation = (
                Reservation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("store", "customer")
                .filter(pk=pk, status=ReservationStatus.ACTIVE, expires_at__lte=now)
                .first()
            )
            if reservation is None:
                continue
            _release(
                reservation,
                actor=Actor(channel=reservation.channel),  # the system, in the hold's channel
                reason=ReleaseReason.EXPIRED,
                note="",
                now=now,
            )
            released += 1
    return {"reminded": reminded, "released": released}
