"""Reads about orders, shaped for their callers (fixed query counts for lists)."""

from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet

from common.compiled import CompiledQuery
from customers.models import Customer
from inventory.models import StockItem
from orders.models.orders import Order, OrderLine, OrderStatusChange
from orders.models.returns import Refund
from stores.models import Store
from stores.selectors import active_warehouses, store_ids_for_staff


def orders_with_details() -> QuerySet[Order]:
    """Orders with their stores, lines, refunds and history (with who acted): 4 queries for any
    page."""
    return Order.objects.select_related("pickup_store", "fulfilment_store").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch(
            "refunds",
            queryset=Refund.objects.select_related("return_request").order_by("created_at", "pk"),
        ),
        Prefetch(
            "history",
            queryset=OrderStatusChange.objects.select_related(
                "actor_user", "actor_client"
            ).order_by("at", "pk"),
        ),
    )


def order_by_number(number: str) -> Order | None:
    return orders_with_details().filter(number=number).first()


# Read by every step a caller takes on an order: compiled once per process (common.compiled).
_ORDER_BY_NUMBER = CompiledQuery(
    lambda number: Order.objects.filter(number=number).order_by("pk")[:1]
)
_ORDER_HISTORY = CompiledQuery(
    lambda order: (
        OrderStatusChange.objects.select_related("actor_user", "actor_client")
        .filter(order_id=order)
        .order_by("at", "pk")
    )
)


def order_to_act_on(number: str) -> Order | None:
    """The order alone: a workflow step locks and reads what it needs itself."""
    return _ORDER_BY_NUMBER.first(number=number)


def order_history(order: Order) -> list[OrderStatusChange]:
    return _ORDER_HISTORY.objects(order=order.pk)


def orders_of_customer(customer: Customer) -> QuerySet[Order]:
    return orders_with_details().filter(customer=customer).order_by("-created_at", "-id")


def staff_may_see(user, order: Order) -> bool:
    """Staff see the orders of their stores: picked up, fulfilled or sold there."""
    store_ids = store_ids_for_staff(user)
    return order.fulfilment_store_id in store_ids or order.pickup_store_id in store_ids


def orders_for_staff(
    user, *, store_code: str | None = None, status: str | None = None
) -> QuerySet[Order]:
    """Orders of the staff member's stores, optionally of one store and status, oldest first."""
    store_ids = store_ids_for_staff(user)
    qs = orders_with_details().filter(
        Q(pickup_store_id__in=store_ids) | Q(fulfilment_store_id__in=store_ids)
    )
    if store_code:
        qs = qs.filter(Q(pickup_store__code=store_code) | Q(fulfilment_store__code=store_code))
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("customer").order_by("ready_at", "created_at", "id")


def shipping_warehouses() -> list[Store]:
    """Active warehouses by code: where delivery orders and transfers to stores come from."""
    return active_warehouses()


def available_by_store(
    stores: Iterable[Store], variant_ids: list[int]
) -> dict[tuple[int, int], int]:
    """What can still be promised per (store id, variant id); an unlocked read to choose a source."""
    rows = StockItem.objects.filter(
        store__in=[s.pk for s in stores], variant_id__in=variant_ids
    ).values_list("store_id", "variant_id", "on_hand", "reserved", "safety_stock")
    return {
        (store_id, variant_id): max(on_hand - reserved - safety, 0)
        for store_id, variant_id, on_hand, reserved, safety in rows
    }
