"""Orders for tests, always placed through the services so that stock and history add up."""

from django.test import TestCase

from common.actor import Actor
from common.models import Channel
from inventory.models import Variant
from orders.models.orders import Fulfilment, Order, PaymentStatus
from orders.services import orders as services
from stores.models import Store
from tests.factories import CustomerFactory, VariantFactory, WarehouseFactory, staff_user
from tests.inventory.factories_stock import stocked


def committed():
    """Run what a service queued with on_commit when the block ends, as after a real commit.

    Tests run inside a transaction that is never committed; this is Django's own capture.
    """
    return TestCase.captureOnCommitCallbacks(execute=True)


def web_actor() -> Actor:
    return Actor(channel=Channel.WEB)


def staff_actor(*stores: Store) -> Actor:
    return Actor(user=staff_user(*stores), channel=Channel.STORE)


def stocked_variant(store: Store, on_hand: int = 5, **kwargs) -> Variant:
    variant = VariantFactory(**kwargs)
    stocked(variant, store, on_hand)
    return variant


def warehouse(code: str = "WHS-01") -> Store:
    return WarehouseFactory(code=code)


def pickup_order(
    store: Store,
    lines: list[tuple[Variant, int]] | None = None,
    *,
    customer=None,
    actor: Actor | None = None,
    payment_status: str = PaymentStatus.PAID,
) -> Order:
    """A placed click & collect order at `store` (stock is stocked for it unless lines are given)."""
    if lines is None:
        lines = [(stocked_variant(store, 5), 2)]
    with committed():
        return services.place_order(
            actor=actor or web_actor(),
            customer=customer or CustomerFactory(),
            fulfilment=Fulfilment.PICKUP,
            pickup_store=store,
            lines=lines,
            payment_status=payment_status,
        )


def ready_order(store: Store, **kwargs) -> Order:
    order = pickup_order(store, **kwargs)
    with committed():
        services.mark_ready_for_pickup(actor=staff_actor(store), order=order)
    return order


def delivery_order(
    warehouse_store: Store, lines: list[tuple[Variant, int]] | None = None, *, customer=None
) -> Order:
    if lines is None:
        lines = [(stocked_variant(warehouse_store, 5), 1)]
    with committed():
        return services.place_order(
            actor=web_actor(),
            customer=customer or CustomerFactory(),
            fulfilment=Fulfilment.DELIVERY,
            lines=lines,
        )
