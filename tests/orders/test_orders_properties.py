"""Whatever the customers and staff do, in any order, the order workflow keeps stock honest.

Random sequences of placing, readying, (partial) hand-overs and cancellations: refused steps
change nothing, every StockItem matches its ledger, and what is reserved at the store equals what
open orders still hold.
"""

import pytest
from django.db.models import F, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import ApplicationError
from inventory.models import StockItem
from orders.models.orders import OrderLine, OrderStatus
from orders.services import orders as services
from tests.factories import CustomerFactory, StoreFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import staff_actor, web_actor

step = st.one_of(
    st.tuples(st.just("place"), st.integers(0, 2), st.integers(1, 4)),
    st.tuples(st.just("ready"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("hand_over"), st.integers(0, 9), st.integers(0, 4)),
    st.tuples(st.just("wrong_code"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("cancel"), st.integers(0, 9), st.just(0)),
)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_any_sequence_keeps_stock_and_orders_consistent(steps):
    store = StoreFactory(code="PRP-01")
    variants = [VariantFactory() for _ in range(3)]
    for variant in variants:
        stocked(variant, store, 6)
    customer = CustomerFactory()
    staff = staff_actor(store)
    orders = []
    for action, index, amount in steps:
        order = orders[index % len(orders)] if orders else None
        try:
            if action == "place":
                orders.append(
                    services.place_order(
                        actor=web_actor(),
                        customer=customer,
                        fulfilment="pickup",
                        pickup_store=store,
                        lines=[(variants[index], amount)],
                    )
                )
            elif order is None:
                continue
            elif action == "ready":
                services.mark_ready_for_pickup(actor=staff, order=order)
            elif action == "hand_over":
                line = order.lines.get()
                services.hand_over(
                    actor=staff,
                    order=order,
                    pickup_code=order.pickup_code or "",
                    lines=None if amount == 0 else [(line, min(amount, line.quantity))],
                )
            elif action == "wrong_code":
                services.hand_over(actor=staff, order=order, pickup_code="??????")
            elif action == "cancel":
                services.cancel_order(actor=web_actor(), order=order)
        except ApplicationError:
            pass
        if order is not None:
            order.refresh_from_db()

    assert_ledger_consistent()
    open_lines = OrderLine.objects.filter(
        order__status__in=[OrderStatus.PLACED, OrderStatus.READY_FOR_PICKUP]
    )
    for variant in variants:
        item = StockItem.objects.get(variant=variant, store=store)
        held = open_lines.filter(variant=variant).aggregate(s=Sum("quantity"))["s"] or 0
        sold = (
            OrderLine.objects.filter(
                variant=variant, order__status=OrderStatus.COLLECTED
            ).aggregate(s=Sum("handed_over"))["s"]
            or 0
        )
        assert item.reserved == held
        assert item.on_hand == 6 - sold
    closed = OrderLine.objects.filter(
        order__status__in=[OrderStatus.COLLECTED, OrderStatus.CANCELLED]
    )
    assert not closed.exclude(handed_over=F("quantity") - F("cancelled")).exists()
