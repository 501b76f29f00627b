"""Journey 2, order online and collect in store, end to end through the API.

A tradesperson orders a drill in the webshop for pickup at the trade centre. Either the centre
has it (reserved at once) or the warehouse sends it to the centre first. Staff mark it ready, the
customer gets a pickup code with a QR code, and the counter hands it over after checking the code.
"""

import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection

from common.auth import issue_user_token
from inventory.models import StockItem
from orders.models.orders import Order, OrderStatus
from tests.conftest import requires_postgres, token_client
from tests.factories import (
    CustomerFactory,
    StoreFactory,
    VariantFactory,
    WarehouseFactory,
    staff_user,
)
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import committed, ready_order, stocked_variant


def staff_api(*stores):
    return token_client(issue_user_token(staff_user(*stores)))


def quantities(variant, store) -> tuple[int, int]:
    item = StockItem.objects.get(variant=variant, store=store)
    return item.on_hand, item.reserved


@pytest.fixture
def trade_centre(db):
    return StoreFactory(code="BER-02", name="Trade Centre Berlin", pickup_window_days=7)


@pytest.fixture
def drill(db):
    return VariantFactory(sku="DRL-18V-01", price=Decimal("189.00"), attributes={"voltage": "18V"})


def customer_via_api(web) -> int:
    """The webshop finds (or creates) the tradesperson by e-mail."""
    response = web.post(
        "/api/v1/customers/",
        {"email": "Handwerk.Meier@Example.de", "first_name": "Jonas", "last_name": "Meier"},
        format="json",
    )
    assert response.status_code in (200, 201), response.json()
    return response.json()["id"]


def place(web, customer_id, store, variant, quantity=1):
    with committed():
        response = web.post(
            "/api/v1/orders/",
            {
                "customer": customer_id,
                "channel": "web",
                "fulfilment": "pickup",
                "pickup_store": store.code,
                "lines": [{"sku": variant.sku, "quantity": quantity}],
                "payment_status": "paid",
                "payment_reference": "psp_pay_0001",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"checkout-{customer_id}-{variant.sku}",
        )
    assert response.status_code == 201, response.json()
    return response.json()


def ready_and_collect(counter, web, customer_id, number):
    """Staff mark ready, the customer gets the code by e-mail, the counter checks it."""
    mail.outbox.clear()
    with committed():
        ready = counter.post(f"/api/v1/staff/orders/{number}/ready/")
    assert ready.status_code == 200, ready.json()
    code = ready.json()["pickup_code"]
    assert ready.json()["status"] == "ready_for_pickup"

    message = mail.outbox[-1]
    assert message.to == ["handwerk.meier@example.de"]
    assert code in message.subject and code in message.body
    assert any(name.endswith(".png") for name, _, _ in message.attachments)
    assert "data:image/png;base64," in message.alternatives[0][0]
    assert web.get(f"/api/v1/orders/{number}/").json()["pickup_code"] == code

    wrong = counter.post(
        f"/api/v1/staff/orders/{number}/hand-over/", {"pickup_code": "AAAAAA"}, format="json"
    )
    assert wrong.status_code == 409 and wrong.json()["code"] == "wrong_pickup_code"
    handed = counter.post(
        f"/api/v1/staff/orders/{number}/hand-over/", {"pickup_code": code}, format="json"
    )
    assert handed.status_code == 200, handed.json()
    body = handed.json()
    assert body["status"] == "collected"
    assert [h["to_status"] for h in body["history"]] == ["placed", "ready_for_pickup", "collected"]
    assert body["lines"][0]["handed_over"] == body["lines"][0]["quantity"]

    timeline = web.get(f"/api/v1/customers/{customer_id}/timeline/").json()
    kinds = [event["kind"] for event in timeline["results"]]
    assert {"order_placed", "order_ready", "order_collected"} <= set(kinds)
    return body


@pytest.mark.django_db
def test_journey_2_the_trade_centre_has_the_drill(web, trade_centre, drill):
    stocked(drill, trade_centre, 3)
    counter = staff_api(trade_centre)
    customer_id = customer_via_api(web)

    availability = web.get(f"/api/v1/availability/?sku={drill.sku}&store={trade_centre.code}")
    assert availability.status_code == 200

    order = place(web, customer_id, trade_centre, drill)
    assert order["status"] == "placed" and order["total"] == "189.00"
    assert quantities(drill, trade_centre) == (3, 1), "reserved at once"
    assert "received" in mail.outbox[-1].subject

    ready_and_collect(counter, web, customer_id, order["number"])
    assert quantities(drill, trade_centre) == (2, 0), "sold from the reserved stock"
    assert_ledger_consistent()


@pytest.mark.django_db
def test_journey_2_the_warehouse_sends_the_drill_first(web, trade_centre, drill):
    warehouse = WarehouseFactory(code="WHS-01")
    stocked(drill, warehouse, 10)
    counter = staff_api(trade_centre)
    warehouse_staff = staff_api(warehouse)
    customer_id = customer_via_api(web)

    order = place(web, customer_id, trade_centre, drill, quantity=2)
    transfer_id = Order.objects.get(number=order["number"]).transfer_id
    assert transfer_id is not None
    assert quantities(drill, warehouse) == (10, 2), "held at the warehouse for the transfer"

    early = counter.post(f"/api/v1/staff/orders/{order['number']}/ready/")
    assert early.status_code == 409 and early.json()["code"] == "awaiting_transfer"

    dispatched = warehouse_staff.post(f"/api/v1/staff/transfers/{transfer_id}/dispatch/")
    assert dispatched.status_code == 200, dispatched.json()
    still_early = counter.post(f"/api/v1/staff/orders/{order['number']}/ready/")
    assert still_early.status_code == 409

    received = counter.post(f"/api/v1/staff/transfers/{transfer_id}/receive/")
    assert received.status_code == 200, received.json()
    assert quantities(drill, trade_centre) == (2, 2), "reserved for the order on arrival"
    timeline = web.get(f"/api/v1/customers/{customer_id}/timeline/").json()["results"]
    assert "arrived at" in timeline[0]["summary"] and order["number"] in timeline[0]["summary"]

    ready_and_collect(counter, web, customer_id, order["number"])
    assert quantities(drill, trade_centre) == (0, 0)
    assert quantities(drill, warehouse) == (8, 0)
    assert_ledger_consistent()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_handing_over_the_same_order_at_once(store):
    variant = stocked_variant(store, 5)
    order = ready_order(store, lines=[(variant, 2)])
    counters = [staff_api(store) for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def hand_over(api):
        try:
            barrier.wait(timeout=10)
            response = api.post(
                f"/api/v1/staff/orders/{order.number}/hand-over/",
                {"pickup_code": order.pickup_code},
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=hand_over, args=(api,)) for api in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 409]
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert quantities(variant, store) == (3, 0), "sold once"
    assert_ledger_consistent()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_never_promise_more_than_available(store, web):
    variant = stocked_variant(store, 3)
    customers = [CustomerFactory() for _ in range(8)]
    barrier = threading.Barrier(len(customers))
    statuses: list[int] = []

    def order(customer):
        try:
            api = token_client(web._credentials["HTTP_AUTHORIZATION"].split()[1])
            barrier.wait(timeout=10)
            response = api.post(
                "/api/v1/orders/",
                {
                    "customer": customer.pk,
                    "fulfilment": "pickup",
                    "pickup_store": store.code,
                    "lines": [{"sku": variant.sku, "quantity": 1}],
                    "payment_reference": f"psp_pay_{customer.pk}",
                },
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=order, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses.count(201) == 3 and statuses.count(409) == 5
    assert quantities(variant, store) == (3, 3)
    numbers = list(Order.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 3
    assert_ledger_consistent()
