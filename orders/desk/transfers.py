"""Transfers between my stores and the warehouse: send what was asked of my store, receive what
arrives. Receiving a transfer that travels for a click & collect order lets the order be picked."""

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from inventory.models import Transfer, TransferStatus
from inventory.services.transfers import dispatch_transfer, receive_transfer
from orders.desk.errors import desk_error
from stores.selectors import store_ids_for_staff


@desk_rule()
@require_safe
def transfers(request):
    mine = store_ids_for_staff(request.user)
    base = (
        Transfer.objects.filter(Q(from_store_id__in=mine) | Q(to_store_id__in=mine))
        .select_related("from_store", "to_store")
        .prefetch_related("lines__variant", "orders")
        .order_by("-created_at", "-pk")
    )
    open_ones = list(base.filter(status__in=[TransferStatus.REQUESTED, TransferStatus.IN_TRANSIT]))
    return render(
        request,
        "desk/transfers/list.html",
        {
            "to_send": [
                t
                for t in open_ones
                if t.status == TransferStatus.REQUESTED and t.from_store_id in mine
            ],
            "to_receive": [
                t
                for t in open_ones
                if t.status == TransferStatus.IN_TRANSIT and t.to_store_id in mine
            ],
            "on_the_way_here": [
                t
                for t in open_ones
                if t.status == TransferStatus.REQUESTED
                and t.to_store_id in mine
                and t.from_store_id not in mine
            ],
            "received": list(base.filter(status=TransferStatus.RECEIVED)[:20]),
        },
    )


def _transfer(request, transfer_id: int, side: str) -> Transfer:
    transfer = (
        Transfer.objects.select_related("from_store", "to_store").filter(pk=transfer_id).first()
    )
    if transfer is None or getattr(transfer, f"{side}_id") not in store_ids_for_staff(request.user):
        raise Http404
    return transfer


@desk_rule("inventory.change_transfer")
@require_POST
def dispatch(request, transfer_id: int):
    transfer = _transfer(request, transfer_id, "from_store")
    try:
        dispatch_transfer(actor=Actor(user=request.user, channel=Channel.STORE), transfer=transfer)
    except ApplicationError as exc:
        messages.error(
            request,
            _("Transfer %(id)s not sent: %(why)s") % {"id": transfer.pk, "why": desk_error(exc)},
        )
    else:
        messages.success(
            request,
            _("Transfer %(id)s is on its way to %(store)s.")
            % {"id": transfer.pk, "store": transfer.to_store.code},
        )
    return redirect("desk:transfers")


@desk_rule("inventory.change_transfer")
@require_POST
def receive(request, transfer_id: int):
    transfer = _transfer(request, transfer_id, "to_store")
    try:
        receive_transfer(actor=Actor(user=request.user, channel=Channel.STORE), transfer=transfer)
    except ApplicationError as exc:
        messages.error(
            request,
            _("Transfer %(id)s not received: %(why)s")
            % {"id": transfer.pk, "why": desk_error(exc)},
        )
    else:
        waiting = [o.number for o in transfer.orders.all()]
        text = _("Transfer %(id)s received.") % {"id": transfer.pk}
        if waiting:
            text += " " + _("Orders that can now be picked: %(orders)s.") % {
                "orders": ", ".join(waiting)
            }
        messages.success(request, text)
    return redirect("desk:transfers")


urlpatterns = [
    path("transfers/", transfers, name="transfers"),
    path("transfers/<int:transfer_id>/dispatch/", dispatch, name="transfer-dispatch"),
    path("transfers/<int:transfer_id>/receive/", receive, name="transfer-receive"),
]
