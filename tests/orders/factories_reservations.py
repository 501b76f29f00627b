"""Reservations for tests, made through the services so that stock and ledger stay true."""

from datetime import datetime

from common.actor import Actor
from common.models import Channel
from customers.models import Customer
from inventory.models import Variant
from orders.models import Reservation
from orders.services.reservations import reserve_for_customer
from stores.models import Store
from tests.factories import CustomerFactory, VariantFactory
from tests.inventory.factories_stock import stocked

PHONE_DESK = Actor(channel=Channel.PHONE)


def variant_in_stock(store: Store, on_hand: int = 5, **kwargs) -> Variant:
    variant = VariantFactory(**kwargs)
    stocked(variant, store, on_hand)
    return variant


def reservation_for(
    store: Store,
    *,
    customer: Customer | None = None,
    lines: list[tuple[Variant, int]] | None = None,
    actor: Actor = PHONE_DESK,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Reservation:
    """An active reservation (one line of 1 unit of a freshly stocked SKU unless lines given)."""
    customer = customer or CustomerFactory()
    lines = lines or [(variant_in_stock(store), 1)]
    return reserve_for_customer(
        actor=actor,
        customer=customer,
        store=store,
        lines=lines,
        expires_at=expires_at,
        now=now,
    )
