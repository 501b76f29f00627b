"""Exchanges: a received return pays for a replacement order; the difference is charged or
refunded."""

from decimal import Decimal

import pytest

from common.actor import Actor
from common.errors import IllegalTransition
from customers.services import store_credit_balance
from inventory.exceptions import InsufficientStock
from inventory.models import StockItem
from orders.models import PaymentStatus, Refund, ReturnStatus
from orders.services.returns import (
    ReturnLineRequest,
    create_return,
    exchange_return,
    receive_return,
)
from stores.models import StaffRole
from tests.factories import VariantFactory, staff_user
from tests.inventory.factories_stock import stocked
from tests.orders.factories_returns import bought, staff_api

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


@pytest.fixture
def returned_shirt(store):
    """A 40.00 shirt, returned and received at BER-01."""
    order = bought(store=store, lines=[(VariantFactory(price=Decimal("40.00")), 1, "40.00")])
    r = create_return(
        actor=SYSTEM,
        order=order,
        store=store,
        lines=[ReturnLineRequest(order_line=order.lines.get().pk, quantity=1, reason="too_small")],
    )
    return receive_return(
        actor=SYSTEM, return_request=r, conditions={r.lines.get().pk: "resellable"}
    )


def test_a_cheaper_replacement_refunds_the_difference(returned_shirt, store):
    scarf = VariantFactory(price=Decimal("25.00"))
    stocked(scarf, store, 1)
    actor = Actor(user=staff_user(store, role=StaffRole.MANAGER))

    r, replacement, refunds = exchange_return(
        actor=actor,
        return_request=returned_shirt,
        lines=[(scarf, 1)],
        fulfilment="pickup",
        pickup_store=store,
    )

    assert r.status == ReturnStatus.REFUNDED and r.replacement_order == replacement
    assert sorted((x.method, x.amount) for x in refunds) == [
        ("original", Decimal("15.00")),
        ("store_credit", Decimal("25.00")),
    ]
    assert (replacement.total, replacement.store_credit_used) == (
        Decimal("25.00"),
        Decimal("25.00"),
    )
    assert replacement.payment_status == PaymentStatus.PAID
    assert store_credit_balance(r.customer) == 0
    assert StockItem.objects.get(variant=scarf, store=store).reserved == 1


def test_a_dearer_replacement_is_paid_at_pickup(returned_shirt, store):
    jacket = VariantFactory(price=Decimal("60.00"))
    stocked(jacket, store, 1)

    r, replacement, refunds = exchange_return(
        actor=SYSTEM,
        return_request=returned_shirt,
        lines=[(jacket, 1)],
        fulfilment="pickup",
        pickup_store=store,
        payment_status=PaymentStatus.PAY_AT_PICKUP,
    )

    assert [(x.method, x.amount) for x in refunds] == [("store_credit", Decimal("40.00"))]
    assert replacement.store_credit_used == Decimal("40.00")
    assert replacement.total - replacement.store_credit_used == Decimal("20.00")
    assert replacement.payment_status == PaymentStatus.PAY_AT_PICKUP


def test_nothing_changes_when_the_replacement_is_out_of_stock(returned_shirt, store):
    jacket = VariantFactory(price=Decimal("60.00"))

    with pytest.raises(InsufficientStock):
        exchange_return(
            actor=SYSTEM,
            return_request=returned_shirt,
            lines=[(jacket, 1)],
            fulfilment="pickup",
            pickup_store=store,
        )

    returned_shirt.refresh_from_db()
    assert returned_shirt.status == ReturnStatus.RECEIVED
    assert returned_shirt.replacement_order is None
    assert not Refund.objects.exists() and store_credit_balance(returned_shirt.customer) == 0


def test_only_a_received_return_can_be_exchanged(store):
    order = bought(store=store)
    r = create_return(
        actor=SYSTEM,
        order=order,
        store=store,
        lines=[ReturnLineRequest(order_line=order.lines.get().pk, quantity=1, reason="other")],
    )
    with pytest.raises(IllegalTransition):
        exchange_return(
            actor=SYSTEM, return_request=r, lines=[(VariantFactory(), 1)], fulfilment="delivery"
        )


def test_the_exchange_endpoint(returned_shirt, store):
    scarf = VariantFactory(price=Decimal("25.00"))
    stocked(scarf, store, 1)

    response = staff_api(store, role=StaffRole.MANAGER).post(
        f"/api/v1/staff/returns/{returned_shirt.pk}/exchange/",
        {
            "fulfilment": "pickup",
            "pickup_store": "BER-01",
            "lines": [{"sku": scarf.sku, "quantity": 1}],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["return_request"]["status"] == "refunded"
    assert body["return_request"]["replacement_order"] == body["replacement_order"]
    assert (body["replacement_total"], body["paid_by_return"], body["to_pay"]) == (
        "25.00",
        "25.00",
        "0.00",
    )


def test_the_exchange_endpoint_refuses_bad_input(returned_shirt, store):
    response = staff_api(store, role=StaffRole.MANAGER).post(
        f"/api/v1/staff/returns/{returned_shirt.pk}/exchange/",
        {"fulfilment": "teleport", "lines": [{"sku": "NOPE", "quantity": 1}]},
        format="json",
    )

    assert response.status_code == 400
    assert {"fulfilment", "lines"} <= set(response.json()["errors"])
    returned_shirt.refresh_from_db()
    assert returned_shirt.status == ReturnStatus.RECEIVED
