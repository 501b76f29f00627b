"""What the write path costs in SQL: statements per call through the API, whatever the number
of lines (one statement per table, not per line). The figures are PostgreSQL's, where several
rows of different tables travel in one statement (docs/performance.md)."""

import pytest

from common import webhooks
from inventory.models import StockItem, StockMovement
from orders.models import Reservation
from orders.models.orders import Order, OrderStatus
from stores.selectors import active_warehouses
from tests.conftest import requires_postgres
from tests.factories import CustomerFactory
from tests.orders.factories_orders import ready_order, stocked_variant
from tests.orders.test_orders_api import staff_api

pytestmark = [
    requires_postgres,
    pytest.mark.postgres,
    pytest.mark.django_db,
]

# Statements per call, counted from the authentication to the answer (the outer transaction's
# two statements included), with the webhook subscriptions and the stores known as in a serving
# process.
RESERVATION = 7
ORDER = 9
HAND_OVER = 12


@pytest.fixture(autouse=True)
def _subscribers_known_for_a_while(settings):
    # A serving process reads them every few seconds; a slow machine must not make it mid-call.
    settings.OMNIS_WEBHOOK_SUBSCRIBERS_TTL_SECONDS = 600


def warm() -> None:
    webhooks.subscribed_types()
    active_warehouses()  # the store directory


@pytest.mark.parametrize("count", [1, 5])
def test_a_reservation(web, store, django_assert_max_num_queries, count):
    variants = [stocked_variant(store, 10) for _ in range(count)]
    body = {
        "customer": CustomerFactory().pk,
        "store": store.code,
        "lines": [{"sku": v.sku, "quantity": 2} for v in variants],
    }
    warm()
    with django_assert_max_num_queries(RESERVATION):
        response = web.post("/api/v1/reservations/", body, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [line["sku"] for line in body["lines"]] == [v.sku for v in variants]
    assert all(line["id"] for line in body["lines"])
    assert body["history"][0]["to_status"] == "active"
    assert body["store_name"] == store.name
    reservation = Reservation.objects.get(pk=body["id"])
    assert reservation.lines.count() == count
    assert [i.reserved for i in StockItem.objects.filter(store=store)] == [2] * count
    assert StockMovement.objects.filter(kind="reserve").count() == count


@pytest.mark.parametrize("count", [1, 5])
def test_an_order(web, store, django_assert_max_num_queries, count):
    variants = [stocked_variant(store, 10) for _ in range(count)]
    body = {
        "customer": CustomerFactory().pk,
        "fulfilment": "pickup",
        "pickup_store": store.code,
        "payment_reference": "psp_pay_0001",
        "lines": [{"sku": v.sku, "quantity": 1} for v in variants],
    }
    warm()
    with django_assert_max_num_queries(ORDER):
        response = web.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [line["sku"] for line in body["lines"]] == [v.sku for v in variants]
    assert [h["to_status"] for h in body["history"]] == ["placed"]
    assert body["history"][0]["actor"] == "webshop"
    assert body["refunds"] == []
    assert Order.objects.get(number=body["number"]).lines.count() == count
    assert StockMovement.objects.filter(kind="reserve").count() == count


@pytest.mark.parametrize("count", [1, 5])
def test_a_hand_over(store, django_assert_max_num_queries, count):
    lines = [(stocked_variant(store, 10), 2) for _ in range(count)]
    order = ready_order(store, lines=lines)
    api = staff_api(store)
    warm()
    with django_assert_max_num_queries(HAND_OVER):
        response = api.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": order.pickup_code},
            format="json",
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "collected"
    assert [h["to_status"] for h in body["history"]] == ["placed", "ready_for_pickup", "collected"]
    assert [line["handed_over"] for line in body["lines"]] == [2] * count
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert list(order.lines.values_list("handed_over", flat=True)) == [2] * count
    assert [i.on_hand for i in StockItem.objects.filter(store=store)] == [8] * count
    assert [i.reserved for i in StockItem.objects.filter(store=store)] == [0] * count
