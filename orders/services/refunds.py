"""Refunds follow the money: a refund is a row first, the payment service is asked after commit.

A refund to the original payment is written `pending` in the transaction that decides it (a
return refunded, an order cancelled or expired, units not taken at a partial hand-over) together
with an outbox message; after commit `pay_refund` asks the refund provider, with the refund's
`idempotency_key`, and records `paid` with the provider's reference. A provider failure is retried
by the outbox with backoff; after the last attempt the refund is `failed` and shows up for the
manager (admin filter "needs attention", `retry_refund`). Store credit is booked at once (`paid`,
no provider). So nothing the request does can fail after the money has gone, and a retried
request or message never pays twice.

What goes back where when an order was paid partly with store credit: each refund is split pro
rata to how the order was paid, so the store-credit share goes back as store credit and the rest
to the original payment (a cancelled order returns exactly its store credit and its card
payment). An exchange's credit and a refund the customer asks to have as store credit are store
credit whole.

`payment_status` counts the refunds booked (pending and paid; a failed one does not, until it is
paid after all): `partially_refunded` or `refunded` once they reach the order's total. The cap
"never more than was paid" counts every refund row, failed ones too, since a failed refund is
retried, never booked again.

Locks: callers hold the order row; the handler locks the refund row, then the order.
"""

import logging
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.errors import ApplicationError
from common.retry import retry_when_busy
from customers.models import TimelineKind
from customers.services import add_store_credit_entry, record_timeline_event
from orders import webhooks
from orders.exceptions import RefundFailed
from orders.models import (
    Order,
    OrderLine,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
    Return,
)
from orders.payments import RefundProviderError, refund_provider_for, refund_provider_named
from orders.selectors.refunds import refunds_needing_attention

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
STORE_CREDIT_PROVIDER = "store_credit"
PAY_TOPIC = "orders.pay_refund"


class RefundNotRetryable(ApplicationError):
    code = "refund_not_retryable"


# --- what units are worth --------------------------------------------------------------------


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_value_factor(order: Order) -> Decimal:
    """Share of the line totals that was actually charged (an order-wide discount, pro rata)."""
    lines_total = sum((line.line_total for line in order.lines.all()), Decimal("0"))
    if lines_total <= 0 or order.total >= lines_total:
        return Decimal("1")
    return order.total / lines_total


def value_of_units(order_line: OrderLine, units: int, factor: Decimal) -> Decimal:
    """What `units` of a line were paid: its total after discounts, pro rata per unit."""
    return money(order_line.line_total * factor * units / order_line.quantity)


def refunded_total(order: Order) -> Decimal:
    """Every refund booked for the order, whatever its status (the cap on further refunds)."""
    return Refund.objects.filter(order=order).aggregate(s=Sum("amount"))["s"] or ZERO


# --- booking ---------------------------------------------------------------------------------


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "pk", None) is not None else None


def book_refunds(
    *,
    actor: Actor,
    order: Order,
    amount: Decimal,
    method: str,
    return_request: Return | None = None,
    exchange_credit: Decimal = ZERO,
    reason: str = "",
) -> list[Refund]:
    """Write the refund rows for `amount` of a locked, paid `order` (the caller checked the cap).

    `exchange_credit` (at most `amount`) becomes store credit to pay a replacement order; of the
    rest, `store_credit` is store credit whole, `original` goes back the way the order was paid
    (store-credit share as store credit, the rest to the original payment through the provider,
    after commit). Updates the order's payment_status. Raises RefundFailed (502) when no refund
    provider is registered under the configured name.
    """
    exchange_part = min(max(exchange_credit, ZERO), amount)
    rest = amount - exchange_part
    if method == RefundMethod.STORE_CREDIT or order.total <= 0:
        credit_part = rest
    else:
        credit_part = min(money(rest * order.store_credit_used / order.total), rest)
    money_part = rest - credit_part
    credit_part += exchange_part
    if return_request is not None:
        subject_type, subject_id, reference = "return", return_request.pk, return_request.number
        store = return_request.store
    else:
        subject_type, subject_id, reference = "order", order.number, order.number
        store = order.pickup_store or order.fulfilment_store
    now = timezone.now()

    refunds: list[Refund] = []
    if money_part > 0:
        try:
            provider = refund_provider_for(order)
        except RefundProviderError as exc:
            raise RefundFailed(str(exc))
        refund = Refund.objects.create(
            return_request=return_request,
            order=order,
            method=RefundMethod.ORIGINAL,
            amount=money_part,
            status=RefundStatus.PENDING,
            reason=reason[:255],
            provider=provider.name,
            created_by_user=_user(actor),
        )
        outbox.enqueue(PAY_TOPIC, {"refund_id": refund.pk})
        refunds.append(refund)
    if credit_part > 0:
        refund = Refund.objects.create(
            return_request=return_request,
            order=order,
            method=RefundMethod.STORE_CREDIT,
            amount=credit_part,
            status=RefundStatus.PAID,
            paid_at=now,
            reason=reason[:255],
            provider=STORE_CREDIT_PROVIDER,
            created_by_user=_user(actor),
        )
        entry = add_store_credit_entry(
            customer=order.customer,
            amount=credit_part,
            reason=f"Refund for {subject_type} {reference}",
            cause_type=subject_type,
            cause_id=subject_id,
        )
        refund.provider_reference = f"credit-{entry.pk}"
        refund.save(update_fields=["provider_reference", "updated_at"])
        refunds.append(refund)
        record_timeline_event(
            customer=order.customer,
            kind=TimelineKind.STORE_CREDIT,
            channel=actor.channel,
            summary=f"{credit_part} {order.currency} store credit for {subject_type} {reference}",
            actor=actor,
            store=store,
            subject_type=subject_type,
            subject_id=subject_id,
        )
    settle_payment_status(order)
    webhooks.refunds_created(order, return_request, refunds)
    if refunds:
        _announce_when_paid(refunds[0])
    return refunds


def refund_not_handed_over(*, actor: Actor, order: Order, reason: str) -> list[Refund]:
    """Give back what a cancelled or partly handed over order did not deliver (order locked,
    its lines' handed_over already written).

    A paid order is refunded the value of the units not handed over (after discounts, the same
    valuation returns use, so returns of the handed-over units can never push the total past
    what was paid), split the way it was paid. A pay at pickup order paid nothing but the store
    credit it spent, which goes back to the customer's balance (no refund row: no payment).
    """
    if order.payment_status == PaymentStatus.PAY_AT_PICKUP:
        if order.store_credit_used:
            add_store_credit_entry(
                customer=order.customer,
                amount=order.store_credit_used,
                reason=f"Order {order.number} {reason}"[:255],
                cause_type="order",
                cause_id=order.number,
            )
        return []
    factor = line_value_factor(order)
    handed_value = sum(
        (value_of_units(line, line.handed_over, factor) for line in order.lines.all()), ZERO
    )
    amount = min(order.total - handed_value, order.total - refunded_total(order))
    if amount <= 0:
        return []
    refunds = book_refunds(
        actor=actor,
        order=order,
        amount=amount,
        method=RefundMethod.ORIGINAL,
        reason=reason,
    )
    how = " and ".join(
        f"{r.amount} {order.currency} "
        + ("to the original payment" if r.method == RefundMethod.ORIGINAL else "as store credit")
        for r in refunds
    )
    record_timeline_event(
        customer=order.customer,
        kind=TimelineKind.REFUND_ISSUED,
        channel=actor.channel,
        summary=f"Order {order.number} refunded ({reason}): {how}",
        actor=actor,
        store=order.pickup_store or order.fulfilment_store,
        subject_type="order",
        subject_id=order.number,
        data={"refunds": [{"method": r.method, "amount": str(r.amount)} for r in refunds]},
    )
    return refunds


def settle_payment_status(order: Order) -> None:
    """paid → partially_refunded → refunded by the refunds booked (failed ones do not count)."""
    if order.payment_status == PaymentStatus.PAY_AT_PICKUP:
        return
    booked = (
        Refund.objects.filter(order=order)
        .exclude(status=RefundStatus.FAILED)
        .aggregate(s=Sum("amount"))["s"]
        or ZERO
    )
    if booked <= 0:
        status = PaymentStatus.PAID
    elif booked >= order.total:
        status = PaymentStatus.REFUNDED
    else:
        status = PaymentStatus.PARTIALLY_REFUNDED
    if status != order.payment_status:
        order.payment_status = status
        order.save(update_fields=["payment_status", "updated_at"])


def _announce_when_paid(refund: Refund) -> None:
    """The customer hears about the money once all of it is back: the refunds of the return (or
    of the order, for a cancellation) are all paid. Keyed, so the e-mail is queued once."""
    if refund.return_request_id:
        group = Refund.objects.filter(return_request_id=refund.return_request_id)
    else:
        group = Refund.objects.filter(order_id=refund.order_id, return_request__isnull=True)
    if group.exclude(status=RefundStatus.PAID).exists():
        return
    if refund.return_request_id:
        outbox.enqueue(
            "orders.send_refund_issued_email",
            {"return_id": refund.return_request_id},
            key=f"refund-paid-return-{refund.return_request_id}",
        )
    else:
        outbox.enqueue(
            "orders.send_order_refunded_email",
            {"order_id": refund.order_id},
            key=f"refund-paid-order-{refund.order_id}",
        )


# --- paying out (after commit, through the outbox) -------------------------------------------


def pay_refund(*, refund_id: int) -> str:
    """Ask the provider to pay a pending (or failed, retried) refund; records `paid`.

    Safe to run twice: a paid refund is left alone, and the provider pays at most once per
    idempotency key. Raises whatever the provider raises: the outbox retries.
    """
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("order", "return_request")
            .filter(pk=refund_id)
            .first()
        )
        if refund is None or refund.status == RefundStatus.PAID:
            return "nothing to do"
        was_failed = refund.status == RefundStatus.FAILED
        order = refund.order
        reference = refund.return_request.number if refund.return_request_id else order.number
        provider = refund_provider_named(refund.provider)
        provider_reference = provider.refund(
            order, refund.amount, reference, idempotency_key=refund.idempotency_key
        )
        refund.status = RefundStatus.PAID
        refund.paid_at = timezone.now()
        refund.failed_at = None
        refund.last_error = ""
        refund.provider_reference = str(provider_reference)[:100]
        refund.save(
            update_fields=[
                "status",
                "paid_at",
                "failed_at",
                "last_error",
                "provider_reference",
                "updated_at",
            ]
        )
        if was_failed:
            settle_payment_status(Order.objects.select_for_update().get(pk=order.pk))
        _announce_when_paid(refund)
    return "paid"


def mark_refund_failed(last_error: str = "", *, refund_id: int) -> None:
    """The outbox gave up: the refund is `failed`, for the manager to look at and retry."""
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update()
            .filter(pk=refund_id, status=RefundStatus.PENDING)
            .first()
        )
        if refund is None:
            return
        refund.status = RefundStatus.FAILED
        refund.failed_at = timezone.now()
        refund.last_error = last_error[:4000]
        refund.save(update_fields=["status", "failed_at", "last_error", "updated_at"])
        settle_payment_status(Order.objects.select_for_update().get(pk=refund.order_id))
    log.error(
        "Refund %s of %s for order %s failed at %s: %s",
        refund.pk,
        refund.amount,
        refund.order_id,
        refund.provider,
        last_error,
    )


@retry_when_busy
def retry_refund(*, actor: Actor, refund: Refund) -> Refund:
    """Ask the provider again for a failed refund (same idempotency key: it cannot pay twice).

    Raises RefundNotRetryable (409) unless the refund failed.
    """
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if locked.status != RefundStatus.FAILED:
            raise RefundNotRetryable(f"Refund {locked.pk} is {locked.status}, not failed.")
        locked.status = RefundStatus.PENDING
        locked.save(update_fields=["status", "updated_at"])
        settle_payment_status(Order.objects.select_for_update().get(pk=locked.order_id))
        outbox.enqueue(PAY_TOPIC, {"refund_id": locked.pk})
    log.info("Refund %s sent to the provider again by %s", locked.pk, actor.label)
    return locked


# --- overdue ---------------------------------------------------------------------------------


def flag_overdue_refunds(now: datetime | None = None) -> int:
    """Log every refund that needs a manager (the periodic check); returns how many."""
    flagged = list(refunds_needing_attention(now).order_by("created_at", "pk"))
    for refund in flagged:
        log.warning(
            "Refund %s (%s %s, order %s) is %s since %s",
            refund.pk,
            refund.amount,
            refund.order.currency,
            refund.order.number,
            "failed" if refund.status == RefundStatus.FAILED else "still pending",
            refund.failed_at or refund.created_at,
        )
    return len(flagged)
