"""The morning board: what one store has to pick, hand over, refund and receive today.

Every list is read in a fixed number of queries, however many rows the store has; "today" is the
store's own calendar day (its time zone), never the server's.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Prefetch, Q
from django.utils import timezone

from inventory.models import Transfer, TransferLine, TransferStatus
from orders.models import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationLine,
    ReservationStatus,
    Return,
    ReturnLine,
    ReturnStatus,
)
from stores.models import Store
from stores.selectors import store_ids_for_staff


@dataclass
class MorningBoard:
    store: Store
    today: date
    to_pick: list[Order] = field(default_factory=list)
    ready: list[Order] = field(default_factory=list)
    due_today: list[Order] = field(default_factory=list)
    overdue: list[Order] = field(default_factory=list)  # each with `days_overdue`
    holds_active: list[Reservation] = field(default_factory=list)
    holds_ending_today: list[Reservation] = field(default_factory=list)
    returns_announced: list[Return] = field(default_factory=list)
    returns_to_refund: list[Return] = field(default_factory=list)
    transfers_due: list[Transfer] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "to_pick": len(self.to_pick),
            "ready": len(self.ready),
            "due_today": len(self.due_today),
            "overdue": len(self.overdue),
            "holds_active": len(self.holds_active),
            "holds_ending_today": len(self.holds_ending_today),
            "returns_announced": len(self.returns_announced),
            "returns_to_refund": len(self.returns_to_refund),
            "transfers_due": len(self.transfers_due),
        }


def board_stores_for(user) -> list[Store]:
    """The stores whose board this staff member may open, by code (the switcher's choices)."""
    return list(
        Store.objects.filter(pk__in=store_ids_for_staff(user), is_active=True).order_by("code")
    )


def morning_board(store: Store, *, now: datetime | None = None) -> MorningBoard:
    """The store's board in 8 queries: pickup orders, holds, returns and incoming transfers."""
    now = now or timezone.now()
    zone = store.zone
    today = now.astimezone(zone).date()
    board = MorningBoard(store=store, today=today)

    orders = (
        Order.objects.filter(
            pickup_store=store,
            fulfilment=Fulfilment.PICKUP,
            status__in=[OrderStatus.PLACED, OrderStatus.READY_FOR_PICKUP],
        )
        .select_related("customer", "transfer")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
        .order_by("pickup_deadline", "created_at", "pk")
    )
    for order in orders:
        if order.status == OrderStatus.PLACED:
            # Goods still travelling from the warehouse cannot be picked yet.
            if order.transfer is None or order.transfer.status == TransferStatus.RECEIVED:
                board.to_pick.append(order)
            continue
        board.ready.append(order)
        if order.pickup_deadline is None:
            continue
        deadline_day = order.pickup_deadline.astimezone(zone).date()
        if order.pickup_deadline < now:
            order.days_overdue = (today - deadline_day).days
            board.overdue.append(order)
        elif deadline_day == today:
            board.due_today.append(order)

    holds = (
        Reservation.objects.filter(store=store, status=ReservationStatus.ACTIVE)
        .select_related("customer")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReservationLine.objects.select_related("variant__product").order_by("pk"),
            )
        )
        .order_by("expires_at", "pk")
    )
    for hold in holds:
        board.holds_active.append(hold)
        if hold.expires_at.astimezone(zone).date() <= today:
            board.holds_ending_today.append(hold)

    returns = (
        Return.objects.filter(
            store=store, status__in=[ReturnStatus.REQUESTED, ReturnStatus.RECEIVED]
        )
        .select_related("order", "customer")
        .prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line"))
        )
        .order_by("created_at", "pk")
    )
    for return_request in returns:
        if return_request.status == ReturnStatus.REQUESTED:
            board.returns_announced.append(return_request)
        else:
            board.returns_to_refund.append(return_request)

    board.transfers_due = list(
        Transfer.objects.filter(to_store=store, status=TransferStatus.IN_TRANSIT)
        .select_related("from_store")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=TransferLine.objects.select_related("variant__product").order_by("pk"),
            ),
            Prefetch("orders", queryset=Order.objects.filter(~Q(status=OrderStatus.CANCELLED))),
        )
        .order_by("shipped_at", "pk")
    )
    return board
