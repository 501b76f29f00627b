"""Journeys 3 and 7 through the API: bought anywhere, returned anywhere; the stock lands where the
item is, the money goes back the way it came, and the customer's timeline shows it all."""

from decimal import Decimal

import pytest
from django.core import mail

from customers.services import store_credit_balance
from inventory.models import StockItem
from orders.models import Order
from stores.models import StaffRole
from tests.factories import (
    CustomerFactory,
    StoreFactory,
    VariantFactory,
    WarehouseFactory,
)
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import committed
from tests.orders.factories_returns import staff_api

pytestmark = pytest.mark.django_db


def on_hand(variant, store) -> int:
    item = StockItem.objects.filter(variant=variant, store=store).first()
    return item.on_hand if item else 0


def ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def collected_web_order(web, counter, customer, store, variant, quantity=1, **extra):
    """A webshop order for pickup, picked, readied and collected — all through the API."""
    with committed():
        order = ok(
            web.post(
                "/api/v1/orders/",
                {
                    "customer": customer.pk,
                    "channel": "web",
                    "fulfilment": "pickup",
                    "pickup_store": store.code,
                    "lines": [{"sku": variant.sku, "quantity": quantity}],
                    "payment_status": "paid",
                    "payment_reference": "psp_pay_0001",
                    **extra,
                },
                format="json",
            ),
            201,
        )
        code = ok(counter.post(f"/api/v1/staff/orders/{order['number']}/ready/"))["pickup_code"]
        ok(
            counter.post(
                f"/api/v1/staff/orders/{order['number']}/hand-over/",
                {"pickup_code": code},
                format="json",
            )
        )
    return ok(web.get(f"/api/v1/orders/{order['number']}/"))


def timeline_kinds(api, customer) -> list[str]:
    return [e["kind"] for e in ok(api.get(f"/api/v1/customers/{customer.pk}/timeline/"))["results"]]


def test_journey_3_a_complicated_return(web, phone_desk):
    """A webshop order; online service writes a note; the counter sees it, restocks, refunds."""
    berlin = StoreFactory(code="BER-01", name="Berlin Mitte")
    hamburg = StoreFactory(code="HAM-01", name="Hamburg")
    jacket = VariantFactory(sku="JKT-RAIN-M", price=Decimal("129.00"))
    stocked(jacket, berlin, 2)
    customer = CustomerFactory(email="lena.wolf@example.de", first_name="Lena")
    order = collected_web_order(web, staff_api(berlin), customer, berlin, jacket)

    # Online service: the customer explains once, the agent writes it down.
    ok(
        phone_desk.post(
            f"/api/v1/customers/{customer.pk}/notes/",
            {"text": "Zipper broke after a week; agreed full refund to card.", "channel": "web"},
            format="json",
        ),
        201,
    )

    # At the Hamburg counter the staff member sees the note on the timeline.
    counter = staff_api(hamburg, role=StaffRole.MANAGER)
    timeline = ok(counter.get(f"/api/v1/customers/{customer.pk}/timeline/"))["results"]
    assert any("agreed full refund" in e["summary"] for e in timeline if e["kind"] == "note")

    with committed():
        announced = ok(
            counter.post(
                "/api/v1/returns/",
                {
                    "order": order["number"],
                    "store": "HAM-01",
                    "lines": [
                        {
                            "order_line": order["lines"][0]["id"],
                            "quantity": 1,
                            "reason": "defective",
                            "reason_text": "Zipper broken",
                        }
                    ],
                },
                format="json",
                HTTP_IDEMPOTENCY_KEY="counter-ham-1",
            ),
            201,
        )
        received = ok(
            counter.post(
                f"/api/v1/staff/returns/{announced['id']}/receive/",
                {
                    "lines": [
                        {"return_line": announced["lines"][0]["id"], "condition": "resellable"}
                    ]
                },
                format="json",
            )
        )
        refunded = ok(
            counter.post(
                f"/api/v1/staff/returns/{announced['id']}/refund/",
                {"method": "original"},
                format="json",
            )
        )

    assert received["status"] == "received"
    assert on_hand(jacket, hamburg) == 1, "restocked on this store's shelf"
    assert on_hand(jacket, berlin) == 1
    assert refunded["status"] == "refunded"
    assert [(r["method"], r["amount"], r["provider"]) for r in refunded["refunds"]] == [
        ("original", "129.00", "manual")
    ]
    assert ok(web.get(f"/api/v1/orders/{order['number']}/"))["lines"][0]["returned"] == 1
    assert {"return_requested", "return_received", "refund_issued"} <= set(
        timeline_kinds(web, customer)
    )
    subjects = [m.subject for m in mail.outbox]
    assert f"Your return {announced['number']} has arrived" in subjects
    assert f"Refund of €129.00 for your return {announced['number']}" in subjects
    assert_ledger_consistent()


def test_journey_7_bought_in_one_store_returned_in_another(web):
    """A store sale in Berlin (a collected reservation), returned at the Hamburg counter."""
    berlin = StoreFactory(code="BER-01")
    hamburg = StoreFactory(code="HAM-01")
    lamp = VariantFactory(sku="LMP-DESK-01", price=Decimal("49.90"))
    stocked(lamp, berlin, 3)
    customer = CustomerFactory(phone="+4930123456", email="kai@example.de")
    berlin_counter = staff_api(berlin, role=StaffRole.MANAGER)
    with committed():
        reservation = ok(
            web.post(
                "/api/v1/reservations/",
                {
                    "customer": customer.pk,
                    "store": "BER-01",
                    "lines": [{"sku": lamp.sku, "quantity": 2}],
                },
                format="json",
            ),
            201,
        )
        sale = ok(berlin_counter.post(f"/api/v1/staff/reservations/{reservation['id']}/collect/"))
    sale_number = sale["order"]
    assert Order.objects.get(number=sale_number).channel == "store"
    assert on_hand(lamp, berlin) == 1

    hamburg_counter = staff_api(hamburg, role=StaffRole.MANAGER)
    sale_order = ok(hamburg_counter.get(f"/api/v1/staff/returns/returnable/?order={sale_number}"))
    assert [(line["handed_over"], line["returnable"]) for line in sale_order["lines"]] == [(2, 2)]
    with committed():
        announced = ok(
            hamburg_counter.post(
                "/api/v1/returns/",
                {
                    "order": sale_number,
                    "store": "HAM-01",
                    "lines": [
                        {
                            "order_line": sale_order["lines"][0]["id"],
                            "quantity": 2,
                            "reason": "changed_mind",
                        }
                    ],
                },
                format="json",
            ),
            201,
        )
        lines = announced["lines"]
        ok(
            hamburg_counter.post(
                f"/api/v1/staff/returns/{announced['id']}/receive/",
                {"lines": [{"return_line": lines[0]["id"], "condition": "resellable"}]},
                format="json",
            )
        )
        refunded = ok(
            hamburg_counter.post(
                f"/api/v1/staff/returns/{announced['id']}/refund/",
                {"method": "original"},
                format="json",
            )
        )

    assert on_hand(lamp, hamburg) == 2 and on_hand(lamp, berlin) == 1
    assert [(r["method"], r["amount"]) for r in refunded["refunds"]] == [("original", "99.80")]
    assert ok(web.get(f"/api/v1/orders/{sale_number}/"))["lines"][0]["returned"] == 2
    kinds = timeline_kinds(web, customer)
    assert "reservation_collected" in kinds or "order_collected" in kinds
    assert {"return_received", "refund_issued"} <= set(kinds)
    assert_ledger_consistent()


def test_journey_7_by_mail_to_the_warehouse(web):
    berlin = StoreFactory(code="BER-01")
    warehouse = WarehouseFactory(code="LAG-01")
    boots = VariantFactory(sku="BTS-HIKE-42", price=Decimal("89.00"))
    stocked(boots, berlin, 1)
    customer = CustomerFactory()
    order = collected_web_order(web, staff_api(berlin), customer, berlin, boots)

    announced = ok(
        web.post(
            "/api/v1/returns/",
            {
                "order": order["number"],
                "method": "mail",
                "lines": [
                    {"order_line": order["lines"][0]["id"], "quantity": 1, "reason": "too_small"}
                ],
            },
            format="json",
        ),
        201,
    )
    assert announced["store"] == "LAG-01"
    warehouse_staff = staff_api(warehouse, role=StaffRole.MANAGER)
    ok(
        warehouse_staff.post(
            f"/api/v1/staff/returns/{announced['id']}/receive/",
            {"lines": [{"return_line": announced["lines"][0]["id"], "condition": "damaged"}]},
            format="json",
        )
    )
    refunded = ok(
        warehouse_staff.post(
            f"/api/v1/staff/returns/{announced['id']}/refund/",
            {"method": "original"},
            format="json",
        )
    )

    assert on_hand(boots, warehouse) == 0, "damaged goods never become stock"
    assert refunded["refunds"][0]["amount"] == "89.00"
    assert_ledger_consistent()


def test_store_credit_earned_by_a_return_is_spent_on_a_new_order(web, customer_api):
    berlin = StoreFactory(code="BER-01")
    shirt = VariantFactory(sku="SHT-OXF-M", price=Decimal("40.00"))
    scarf = VariantFactory(sku="SCF-WOOL-01", price=Decimal("25.00"))
    stocked(shirt, berlin, 1)
    stocked(scarf, berlin, 1)
    customer = customer_api.customer
    counter = staff_api(berlin, role=StaffRole.MANAGER)
    order = collected_web_order(web, counter, customer, berlin, shirt)

    announced = ok(
        customer_api.post(
            "/api/v1/returns/",
            {
                "order": order["number"],
                "store": "BER-01",
                "lines": [
                    {"order_line": order["lines"][0]["id"], "quantity": 1, "reason": "too_large"}
                ],
            },
            format="json",
        ),
        201,
    )
    ok(
        counter.post(
            f"/api/v1/staff/returns/{announced['id']}/receive/",
            {"lines": [{"return_line": announced["lines"][0]["id"], "condition": "resellable"}]},
            format="json",
        )
    )
    ok(
        counter.post(
            f"/api/v1/staff/returns/{announced['id']}/refund/",
            {"method": "store_credit"},
            format="json",
        )
    )
    credit = ok(customer_api.get("/api/v1/me/store-credit/"))
    assert credit["balance"] == "40.00"

    new_order = ok(
        web.post(
            "/api/v1/orders/",
            {
                "customer": customer.pk,
                "channel": "web",
                "fulfilment": "pickup",
                "pickup_store": "BER-01",
                "lines": [{"sku": scarf.sku, "quantity": 1}],
                "payment_status": "paid",
                "payment_reference": "psp_pay_0001",
                "store_credit": "25.00",
            },
            format="json",
        ),
        201,
    )

    assert new_order["total"] == "25.00"
    assert store_credit_balance(customer) == Decimal("15.00")
    entries = ok(customer_api.get("/api/v1/me/store-credit/"))
    assert entries["balance"] == "15.00"
    assert [e["amount"] for e in entries["results"]] == ["-25.00", "40.00"]
    assert_ledger_consistent()
