"""Transfers: goods held at the source, sent, received at the destination (and reserved there
for what they travel for)."""

from django.db import transaction
from django.utils import timezone

from common.actor import Actor
from common.errors import move_status
from common.retry import retry_when_busy
from inventory.exceptions import InvalidStockRequest
from inventory.models import (
    CauseType,
    MovementKind,
    StockMovement,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.services._ledger import (
    StockLine,
    _book,
    _change,
    _items_for,
    _movement,
    _normalise_lines,
)
from inventory.services.stock import release, reserve
from inventory.signals import transfer_arriving, transfer_received
from stores.models import Store


@retry_when_busy
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


@retry_when_busy
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
            movements.append(
                _book(
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


@retry_when_busy
def receive_transfer(*, actor: Actor, transfer: Transfer) -> Transfer:
    """The goods arrive: transfer_in at the destination (on_hand up), status received.

    If the transfer travels for a cause (e.g. order lines), the arrived units are reserved for
    it in the same transaction, so nobody else can promise them. Raises IllegalTransition
    unless the transfer is in transit.
    """
    with transaction.atomic():
        locked = _lock_transfer(transfer)
        move_status(locked, Transfer.TRANSITIONS, TransferStatus.RECEIVED, "transfer")
        transfer_arriving.send(sender=Transfer, actor=actor, transfer=locked)
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
        transfer_received.send(sender=Transfer, actor=actor, transfer=locked)
        return locked


@retry_when_busy
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
