"""Cross-channel returns: anything bought anywhere comes back anywhere.

A return is announced (`create_return`), the goods arrive at a store counter or the warehouse
(`receive_return`: resellable units go back on that location's shelf, damaged ones are written off),
and the money goes back the way it came (`refund_return`: the original payment through a refund
provider, or store credit). `reject_return` refuses an announced return; `exchange_return` settles a
received return with a replacement order; `counter_return` is the store counter's one-step flow.

Row locks are always taken in the same order: the Return, then its order's lines (by id), then the
Order. Returnable quantity is checked while the order lines are locked, so two counters returning
the same line at once cannot together exceed what was handed over.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.compiled import CompiledQuery
from common.errors import (
    ApplicationError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    move_status,
)
from common.retry import retry_when_busy
from customers.models import TimelineKind
from customers.services import lock_customer, record_timeline_event
from inventory import services as stock
from inventory.models import CauseType, Variant
from orders import webhooks
from orders.exceptions import (
    AlreadyRefunded,
    NothingToRefund,
    RefundFailed,
    ReturnWindowClosed,
)
from orders.models import (
    LineCondition,
    Order,
    OrderLine,
    PaymentStatus,
    Refund,
    RefundMethod,
    Return,
    ReturnLine,
    ReturnMethod,
    ReturnReason,
    ReturnStatus,
    ReturnStatusChange,
)
from orders.services.refunds import (
    book_refunds,
    line_value_factor,
    refunded_total,
    value_of_units,
)
from stores.models import Store
from stores.selectors import can_act_on_store, is_manager_of, is_service_agent, is_staff_member


@dataclass(frozen=True)
class ReturnLineRequest:
    """One order line to return: how many and why."""

    order_line: int
    quantity: int
    reason: str
    reason_text: str = ""


# --- helpers ---------------------------------------------------------------------------------


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "pk", None) is not None else None


def _is_system(actor: Actor) -> bool:
    return _user(actor) is None and actor.client is None


def _customer_of(actor: Actor):
    user = _user(actor)
    if user is None or actor.client is not None:
        return None
    return getattr(user, "customer", None)


def _record_status(
    return_request: Return, *, actor: Actor, target: str, note: str = ""
) -> ReturnStatusChange:
    """Move the return through Return.TRANSITIONS and write the history row."""
    previous = move_status(return_request, Return.TRANSITIONS, target, "return")
    webhooks.return_status_changed(return_request, previous)
    return ReturnStatusChange.objects.create(
        return_request=return_request,
        from_status=previous,
        to_status=target,
        channel=actor.channel,
        actor_user=_user(actor),
        actor_client=actor.client,
        note=note[:255],
    )


# of=("self",): lock the return only, not the order, customer and store rows it joins. Every
# step of a return takes it: compiled once per process (common.compiled).
_LOCKED_RETURN = CompiledQuery(
    lambda pk: (
        Return.objects.select_for_update(of=("self",))
        .select_related("order", "customer", "store")
        .filter(pk=pk)
    )
)


def _lock_return(return_request: Return) -> Return:
    locked = _LOCKED_RETURN.first(pk=return_request.pk)
    if locked is None:
        raise Return.DoesNotExist(f"Return {return_request.pk} does not exist.")
    return locked


def _require_staff_of(actor: Actor, store: Store, what: str) -> None:
    """Staff act only on their own stores; the system (tasks, demo data) may act anywhere."""
    if _is_system(actor):
        return
    user = _user(actor)
    if user is None or not is_staff_member(user) or not can_act_on_store(user, store):
        raise Forbidden(f"Only staff of {store.code} may {what}.")


def mail_return_location() -> Store | None:
    """Where returns sent by mail arrive: the first active warehouse that accepts returns."""
    return (
        Store.objects.filter(is_warehouse=True, is_active=True, accepts_returns=True)
        .order_by("code")
        .first()
    )


def handed_over_at(order: Order) -> datetime:
    """When the customer got the goods: delivery, collection, or (lacking both) the order date."""
    return order.delivered_at or order.collected_at or order.created_at


def return_window_days(store: Store) -> int:
    if store.return_window_days is not None:
        return store.return_window_days
    return settings.OMNIS_RETURN_WINDOW_DAYS


def return_deadline(order: Order, store: Store) -> datetime:
    """The end of the return window at `store`, in the store's time zone (for what is shown)."""
    deadline = handed_over_at(order) + timedelta(days=return_window_days(store))
    return deadline.astimezone(store.zone)


def _check_window(
    *, actor: Actor, order: Order, store: Store, override_reason: str, now: datetime
) -> bool:
    """True when a manager's override lets a return in after the window; raises when closed."""
    deadline = return_deadline(order, store)
    if now <= deadline:
        return False
    if not override_reason:
        local = deadline.astimezone(store.zone)
        raise ReturnWindowClosed(
            f"The return window of order {order.number} closed on {local:%d.%m.%Y %H:%M} "
            f"({store.code} time).",
            extra={
                "deadline": local.isoformat(),
                "window_days": return_window_days(store),
            },
        )
    user = _user(actor)
    if user is None or not is_manager_of(user, store):
        raise Forbidden(
            f"Only a manager of {store.code} may accept a return after the return window."
        )
    return True


def _authorise_create(actor: Actor, order: Order, store: Store) -> None:
    if actor.client is not None or _is_system(actor):
        return  # a channel client acts for any customer
    user = _user(actor)
    if is_staff_member(user):
        # Staff take returns at their own counter; service agents announce them for any location.
        if can_act_on_store(user, store) or is_service_agent(user):
            return
        raise Forbidden(f"Only staff of {store.code} may take returns there.")
    customer = _customer_of(actor)
    if customer is not None:
        if order.customer_id != customer.pk:
            # Do not tell a customer that someone else's order exists.
            raise InvalidInput("Invalid input.", errors={"order": ["Unknown order."]})
        return
    raise Forbidden("You may not announce returns.")


def _in_returns(order_line_ids) -> dict[int, int]:
    """Units of each order line already in a return that was not rejected."""
    rows = (
        ReturnLine.objects.filter(order_line_id__in=list(order_line_ids))
        .exclude(return_request__status=ReturnStatus.REJECTED)
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
    )
    return {row["order_line_id"]: row["n"] for row in rows}


def _validate_line_requests(lines: list[ReturnLineRequest]) -> None:
    if not lines:
        raise InvalidInput(
            "Invalid input.", errors={"lines": ["Name at least one order line to return."]}
        )
    errors: list[dict] = []
    seen: set[int] = set()
    for line in lines:
        line_errors: dict[str, list[str]] = {}
        if line.order_line in seen:
            line_errors["order_line"] = ["This order line is named twice."]
        seen.add(line.order_line)
        if (
            isinstance(line.quantity, bool)
            or not isinstance(line.quantity, int)
            or line.quantity < 1
        ):
            line_errors["quantity"] = ["Must be a whole number of at least 1."]
        if line.reason not in ReturnReason.values:
            line_errors["reason"] = [f"Use one of: {', '.join(ReturnReason.values)}."]
        errors.append(line_errors)
    if any(errors):
        raise InvalidInput("Invalid input.", errors={"lines": errors})


# --- announce --------------------------------------------------------------------------------


@retry_when_busy
def create_return(
    *,
    actor: Actor,
    order: Order,
    lines: list[ReturnLineRequest],
    store: Store | None = None,
    method: str = ReturnMethod.STORE,
    override_reason: str = "",
    channel: str | None = None,
) -> Return:
    """Announce a return of order lines, to be received at `store` or (method mail) the warehouse.

    Raises InvalidInput (400) for no lines, an unknown line or reason, a quantity above what is
    still returnable (handed over minus what other returns already hold), a store that accepts no
    returns or no warehouse for mail; ReturnWindowClosed (409) after the return window unless a
    manager of the receiving store gives `override_reason`; Forbidden (403) for staff of another
    store or a non-manager override. A customer login may return only its own orders.
    """
    channel = channel or actor.channel
    override_reason = (override_reason or "").strip()
    if method not in ReturnMethod.values:
        raise InvalidInput(
            "Invalid input.", errors={"method": [f"Use one of: {', '.join(ReturnMethod.values)}."]}
        )
    if method == ReturnMethod.MAIL:
        store = mail_return_location()
        if store is None:
            raise InvalidInput(
                "Invalid input.", errors={"method": ["No warehouse takes returns by mail."]}
            )
    elif store is None:
        raise InvalidInput(
            "Invalid input.", errors={"store": ["Name the store that receives the return."]}
        )
    elif not (store.accepts_returns and store.is_active):
        raise InvalidInput(
            "Invalid input.", errors={"store": [f"{store.code} does not accept returns."]}
        )
    _authorise_create(actor, order, store)
    _validate_line_requests(lines)
    now = timezone.now()
    overridden = _check_window(
        actor=actor, order=order, store=store, override_reason=override_reason, now=now
    )

    with transaction.atomic():
        requested = {line.order_line: line for line in lines}
        order_lines = {
            ol.pk: ol
            for ol in OrderLine.objects.select_for_update()
            .filter(order=order, pk__in=list(requested))
            .order_by("pk")
        }
        in_returns = _in_returns(order_lines)
        errors: list[dict] = []
        short: list[dict] = []
        for line in lines:
            order_line = order_lines.get(line.order_line)
            if order_line is None:
                errors.append(
                    {"order_line": [f"Order {order.number} has no line {line.order_line}."]}
                )
                continue
            returnable = order_line.handed_over - in_returns.get(order_line.pk, 0)
            if line.quantity > returnable:
                errors.append(
                    {
                        "quantity": [
                            f"At most {max(returnable, 0)} of {order_line.sku} can be returned."
                        ]
                    }
                )
                short.append(
                    {
                        "order_line": order_line.pk,
                        "requested": line.quantity,
                        "returnable": returnable,
                    }
                )
                continue
            errors.append({})
        if any(errors):
            raise InvalidInput(
                "Invalid input.",
                code="quantity_not_returnable" if short else None,
                errors={"lines": errors},
                extra={"not_returnable": short} if short else None,
            )

        return_request = Return(
            number=f"tmp-{uuid4().hex[:16]}",
            order=order,
            customer_id=order.customer_id,
            method=method,
            store=store,
            channel=channel,
            created_by_user=_user(actor),
            created_by_client=actor.client,
        )
        if overridden:
            return_request.window_override_reason = override_reason[:255]
            return_request.window_override_by = _user(actor)
        return_request.save()
        # The id is unique and handed out by the database: no counter row to contend for.
        return_request.number = f"R-{return_request.pk:06d}"
        return_request.save(update_fields=["number"])
        ReturnLine.objects.bulk_create(
            ReturnLine(
                return_request=return_request,
                order_line=order_lines[line.order_line],
                quantity=line.quantity,
                reason=line.reason,
                reason_text=(line.reason_text or "")[:500],
            )
            for line in lines
        )
        ReturnStatusChange.objects.create(
            return_request=return_request,
            from_status="",
            to_status=ReturnStatus.REQUESTED,
            channel=channel,
            actor_user=_user(actor),
            actor_client=actor.client,
            note=(f"Return window overridden: {override_reason}" if overridden else "")[:255],
        )
        items = ", ".join(f"{line.quantity} × {order_lines[line.order_line].sku}" for line in lines)
        where = "by mail" if method == ReturnMethod.MAIL else f"at {store.code}"
        record_timeline_event(
            customer=order.customer,
            kind=TimelineKind.RETURN_REQUESTED,
            channel=channel,
            summary=f"Return {return_request.number} of order {order.number} announced {where}: {items}",
            actor=actor,
            store=store,
            subject_type="return",
            subject_id=return_request.pk,
            data={"order": order.number, "override_reason": override_reason if overridden else ""},
        )
    return return_request


# --- receive ---------------------------------------------------------------------------------


@retry_when_busy
def receive_return(
    *,
    actor: Actor,
    return_request: Return,
    conditions: dict[int, str],
    store: Store | None = None,
    note: str = "",
) -> Return:
    """The goods arrive: each line resellable (back on the receiving location's shelf) or damaged
    (a damage movement; never stock). `conditions` maps every return line id to its condition.

    `store` lets a return announced for one store be received at another that accepts returns.
    Raises InvalidInput (400) for a missing, unknown or invalid line condition or a store that
    accepts no returns; Forbidden (403) for staff of another store; IllegalTransition (409) unless
    the return is requested.
    """
    with transaction.atomic():
        return_request = _lock_return(return_request)
        if store is not None and store.pk != return_request.store_id:
            if not (store.accepts_returns and store.is_active):
                raise InvalidInput(
                    "Invalid input.", errors={"store": [f"{store.code} does not accept returns."]}
                )
            return_request.store = store
        _require_staff_of(actor, return_request.store, "receive returns there")
        _record_status(return_request, actor=actor, target=ReturnStatus.RECEIVED, note=note)

        lines = list(return_request.lines.select_related("order_line__variant").order_by("pk"))
        by_id = {line.pk: line for line in lines}
        errors: dict[str, list[str]] = {}
        unknown = [str(pk) for pk in conditions if pk not in by_id]
        if unknown:
            errors["lines"] = [f"Return {return_request.number} has no line {', '.join(unknown)}."]
        missing = [str(pk) for pk in by_id if pk not in conditions]
        if missing:
            errors.setdefault("lines", []).append(
                f"Give a condition for every line; missing: {', '.join(missing)}."
            )
        bad = sorted({c for c in conditions.values() if c not in LineCondition.values})
        if bad:
            errors.setdefault("lines", []).append(
                f"Condition must be one of: {', '.join(LineCondition.values)}."
            )
        if errors:
            raise InvalidInput("Invalid input.", errors=errors)

        # Lock the order lines in id order (the same order create_return uses).
        list(
            OrderLine.objects.select_for_update()
            .filter(pk__in=[line.order_line_id for line in lines])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        receiving = return_request.store
        # Restocked below line by line: lock the stock rows first, in the global lock order.
        stock.lock_stock_rows(store=receiving, variants=[ln.order_line.variant for ln in lines])
        for line in lines:
            line.condition = conditions[line.pk]
            # Conditional, so the constraint returned <= handed_over is never what stops us.
            counted = OrderLine.objects.filter(
                pk=line.order_line_id, returned__lte=F("handed_over") - line.quantity
            ).update(returned=F("returned") + line.quantity)
            if not counted:
                raise ApplicationError(
                    f"More of {line.order_line.sku} would be returned than was handed over.",
                    code="quantity_not_returnable",
                    extra={"order_line": line.order_line_id},
                )
            reason = f"Return {return_request.number}"
            if line.condition == LineCondition.RESELLABLE:
                stock.restock_return(
                    actor=actor,
                    store=receiving,
                    variant=line.order_line.variant,
                    quantity=line.quantity,
                    cause_id=str(line.pk),
                    reason=reason,
                )
            else:
                stock.mark_damaged(
                    actor=actor,
                    store=receiving,
                    variant=line.order_line.variant,
                    quantity=line.quantity,
                    cause_type=CauseType.RETURN_LINE,
                    cause_id=str(line.pk),
                    reason=f"{reason}: returned damaged",
                    returned=True,
                )
        ReturnLine.objects.bulk_update(lines, ["condition"])
        return_request.received_at = timezone.now()
        return_request.save(update_fields=["status", "store", "received_at", "updated_at"])

        summary = ", ".join(
            f"{line.quantity} × {line.order_line.sku} ({line.get_condition_display().lower()})"
            for line in lines
        )
        record_timeline_event(
            customer=return_request.customer,
            kind=TimelineKind.RETURN_RECEIVED,
            channel=actor.channel,
            summary=f"Return {return_request.number} received at {receiving.code}: {summary}",
            actor=actor,
            store=receiving,
            subject_type="return",
            subject_id=return_request.pk,
        )
        outbox.enqueue("orders.send_return_received_email", {"return_id": return_request.pk})
    return return_request


# --- refund ----------------------------------------------------------------------------------


def refundable_amounts(return_request: Return) -> dict[int, Decimal]:
    """Per return line: its share of what was paid, counted cumulatively per order line so that
    rounding never lets the returns of one line add up to more than the line cost."""
    order = return_request.order
    factor = line_value_factor(order)
    lines = list(return_request.lines.select_related("order_line").order_by("pk"))
    # Units of every earlier, not rejected return of these lines count first, refunded or not:
    # a return worth nothing after rounding must not push its cent onto no one.
    refunded_units = dict(
        ReturnLine.objects.filter(
            order_line_id__in=[line.order_line_id for line in lines],
            return_request_id__lt=return_request.pk,
        )
        .exclude(return_request__status=ReturnStatus.REJECTED)
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "n")
    )
    amounts: dict[int, Decimal] = {}
    for line in lines:
        before = refunded_units.get(line.order_line_id, 0)
        after = before + line.quantity
        amounts[line.pk] = value_of_units(line.order_line, after, factor) - value_of_units(
            line.order_line, before, factor
        )
        refunded_units[line.order_line_id] = after
    return amounts


def refund_due(return_request: Return) -> Decimal:
    """What refunding this return would pay back now: its lines' value, capped by what is left
    of the order's total after earlier refunds."""
    order = return_request.order
    total = sum(refundable_amounts(return_request).values(), Decimal("0.00"))
    return max(min(total, order.total - refunded_total(order)), Decimal("0.00"))


@retry_when_busy
def refund_return(
    *,
    actor: Actor,
    return_request: Return,
    method: str,
    exchange_credit: Decimal = Decimal("0.00"),
    note: str = "",
) -> list[Refund]:
    """Pay back a received return: `original` (the order's payment, through the refund provider;
    the part once paid with store credit goes back as store credit) or `store_credit`.

    The amount is what was paid for the returned units (line discounts and an order-wide
    discount pro rata) and never more than the order's total minus earlier refunds. An exchange
    passes `exchange_credit`: that much (at most the refund) becomes store credit to pay the
    replacement order, only the rest goes back by `method`. The refunds are rows written in this
    transaction (orders.services.refunds): store credit is paid at once, the original payment is
    `pending` until the provider, asked after commit, has paid it.
    Raises AlreadyRefunded (409) the second time, IllegalTransition (409) unless received,
    NothingToRefund (409), InvalidInput (400) for an unknown method, Forbidden (403) for staff of
    another store, RefundFailed (502) when no refund provider is configured.
    """
    if method not in RefundMethod.values:
        raise InvalidInput(
            "Invalid input.", errors={"method": [f"Use one of: {', '.join(RefundMethod.values)}."]}
        )
    with transaction.atomic():
        return_request = _lock_return(return_request)
        _require_staff_of(actor, return_request.store, "refund returns there")
        if return_request.status == ReturnStatus.REFUNDED:
            raise AlreadyRefunded(f"Return {return_request.number} was already refunded.")
        _record_status(return_request, actor=actor, target=ReturnStatus.REFUNDED, note=note)
        order = Order.objects.select_for_update().get(pk=return_request.order_id)
        return_request.order = order

        amounts = refundable_amounts(return_request)
        paid = order.total
        already = refunded_total(order)
        total = min(sum(amounts.values(), Decimal("0.00")), paid - already)
        if total <= 0:
            raise NothingToRefund(
                f"Nothing is left to refund on order {order.number}.",
                extra={"paid": str(paid), "refunded": str(already)},
            )
        _spread_over_lines(return_request, amounts, total)

        refunds = book_refunds(
            actor=actor,
            order=order,
            amount=total,
            method=method,
            return_request=return_request,
            exchange_credit=exchange_credit,
            reason=note or f"Return {return_request.number}",
        )
        return_request.refunded_at = timezone.now()
        return_request.save(update_fields=["status", "refunded_at", "updated_at"])
        reference = return_request.number
        how = " and ".join(
            f"{r.amount} {order.currency} "
            + (
                "to the original payment"
                if r.method == RefundMethod.ORIGINAL
                else "as store credit"
            )
            for r in refunds
        )
        record_timeline_event(
            customer=return_request.customer,
            kind=TimelineKind.REFUND_ISSUED,
            channel=actor.channel,
            summary=f"Return {reference} refunded: {how or 'nothing to pay back'}",
            actor=actor,
            store=return_request.store,
            subject_type="return",
            subject_id=return_request.pk,
            data={"refunds": [{"method": r.method, "amount": str(r.amount)} for r in refunds]},
        )
    return refunds


def _spread_over_lines(return_request: Return, amounts: dict[int, Decimal], total: Decimal) -> None:
    """Record each line's refund; a cap (earlier refunds) is taken off the last lines first."""
    excess = sum(amounts.values(), Decimal("0.00")) - total
    lines = list(return_request.lines.order_by("-pk"))
    for line in lines:
        amount = amounts[line.pk]
        cut = min(amount, max(excess, Decimal("0.00")))
        line.refund_amount = amount - cut
        excess -= cut
    ReturnLine.objects.bulk_update(lines, ["refund_amount"])


# --- exchange --------------------------------------------------------------------------------


@retry_when_busy
def exchange_return(
    *,
    actor: Actor,
    return_request: Return,
    lines: list[tuple[Variant, int]],
    fulfilment: str,
    pickup_store: Store | None = None,
    payment_status: str = PaymentStatus.PAID,
    refund_method: str = RefundMethod.ORIGINAL,
    shipping_address: dict | None = None,
) -> tuple[Return, Order, list[Refund]]:
    """Settle a received return with a replacement order (pickup or delivery) linked to it.

    The return's value pays for the replacement: that part is refunded as store credit and spent
    on the new order at once. Is the replacement dearer, the customer pays the difference on the
    new order (`payment_status` paid at the counter, or pay_at_pickup); is it cheaper, the
    difference goes back by `refund_method` like any refund.
    Raises what refund_return and place_order raise (IllegalTransition unless received,
    InsufficientStock, InvalidInput for bad lines/fulfilment), AlreadyRefunded when it was
    refunded, Forbidden for staff of another store. All or nothing.
    """
    from orders.services.orders import place_order

    with transaction.atomic():
        locked = _lock_return(return_request)
        _require_staff_of(actor, locked.store, "exchange returns there")
        if locked.status == ReturnStatus.REFUNDED:
            raise AlreadyRefunded(f"Return {locked.number} was already refunded.")
        if locked.status != ReturnStatus.RECEIVED:
            raise IllegalTransition("return", locked.status, ReturnStatus.REFUNDED)
        price = sum((variant.price * quantity for variant, quantity in lines), Decimal("0.00"))
        credit = min(price, refund_due(locked))
        refunds = refund_return(
            actor=actor,
            return_request=locked,
            method=refund_method,
            exchange_credit=credit,
            note="Exchange",
        )
        replacement = place_order(
            actor=actor,
            customer=locked.customer,
            fulfilment=fulfilment,
            lines=lines,
            pickup_store=pickup_store,
            channel=actor.channel,
            payment_status=payment_status if price > credit else PaymentStatus.PAID,
            shipping_address=shipping_address,
            store_credit_amount=credit,
        )
        locked.replacement_order = replacement
        locked.save(update_fields=["replacement_order", "updated_at"])
        locked.refresh_from_db()
        record_timeline_event(
            customer=locked.customer,
            kind=TimelineKind.ORDER_PLACED,
            channel=actor.channel,
            summary=(
                f"Return {locked.number} exchanged for order {replacement.number}: "
                f"{credit} {replacement.currency} paid by the return, "
                f"{replacement.total - credit} {replacement.currency} to pay"
            ),
            actor=actor,
            store=locked.store,
            subject_type="return",
            subject_id=locked.pk,
            data={"replacement_order": replacement.number, "paid_by_return": str(credit)},
        )
    return locked, replacement, refunds


# --- reject ----------------------------------------------------------------------------------


@retry_when_busy
def reject_return(*, actor: Actor, return_request: Return, reason: str) -> Return:
    """Refuse an announced return (e.g. never arrived, not bought here); its units become
    returnable again. Raises InvalidInput (400) without a reason, Forbidden (403) for staff of
    another store, IllegalTransition (409) unless requested."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Invalid input.", errors={"reason": ["Say why the return is rejected."]})
    with transaction.atomic():
        return_request = _lock_return(return_request)
        if actor.client is None:
            _require_staff_of(actor, return_request.store, "reject returns there")
        _record_status(return_request, actor=actor, target=ReturnStatus.REJECTED, note=reason)
        return_request.rejection_reason = reason[:255]
        return_request.save(update_fields=["status", "rejection_reason", "updated_at"])
        record_timeline_event(
            customer=return_request.customer,
            kind=TimelineKind.RETURN_REJECTED,
            channel=actor.channel,
            summary=f"Return {return_request.number} rejected: {reason}",
            actor=actor,
            store=return_request.store,
            subject_type="return",
            subject_id=return_request.pk,
        )
    return return_request


# --- the store counter -----------------------------------------------------------------------


@retry_when_busy
def counter_return(
    *,
    actor: Actor,
    order: Order,
    store: Store,
    lines: list[ReturnLineRequest],
    conditions: list[str],
    refund_method: str,
    override_reason: str = "",
    refund: bool = True,
) -> tuple[Return, list[Refund]]:
    """At the counter in one step: announce, receive into `store` and refund. `conditions` holds
    each line's condition in the order of `lines`. All or nothing; raises what the three steps
    raise. refund=False (a counter whose role may not refund) stops after the receipt: the return
    waits, received, for a manager to refund it."""
    if len(conditions) != len(lines):
        raise InvalidInput("Invalid input.", errors={"lines": ["Give a condition for every line."]})
    with transaction.atomic():
        # A refund may credit the customer: that row is locked before any stock row.
        lock_customer(order.customer)
        return_request = create_return(
            actor=actor,
            order=order,
            lines=lines,
            store=store,
            override_reason=override_reason,
        )
        by_order_line = {line.order_line_id: line.pk for line in return_request.lines.all()}
        receive_return(
            actor=actor,
            return_request=return_request,
            conditions={
                by_order_line[line.order_line]: condition
                for line, condition in zip(lines, conditions, strict=True)
            },
        )
        refunds = (
            refund_return(actor=actor, return_request=return_request, method=refund_method)
            if refund
            else []
        )
        return_request.refresh_from_db()
    return return_request, refunds


__all__ = [
    "AlreadyRefunded",
    "NothingToRefund",
    "RefundFailed",
    "ReturnLineRequest",
    "ReturnWindowClosed",
    "counter_return",
    "create_return",
    "exchange_return",
    "refund_due",
    "mail_return_location",
    "receive_return",
    "refund_return",
    "refundable_amounts",
    "reject_return",
    "return_deadline",
]
