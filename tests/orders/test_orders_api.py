"""The order endpoints per the contract: who may do what, bad input, conflicts, idempotency."""

from decimal import Decimal

import pytest
from django.core import mail

from common.auth import issue_user_token
from customers.models import TimelineEvent
from customers.services import add_store_credit_entry, store_credit_balance
from inventory.models import StockItem
from orders.models.orders import Order, OrderStatus
from tests.conftest import token_client
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, staff_user
from tests.inventory.factories_stock import stocked
from tests.orders.factories_orders import (
    committed,
    delivery_order,
    pickup_order,
    ready_order,
    stocked_variant,
    warehouse,
)

pytestmark = pytest.mark.django_db


def order_body(customer, store, *lines, **extra) -> dict:
    return {
        "customer": customer.pk,
        "fulfilment": "pickup",
        "pickup_store": store.code,
        "lines": [{"sku": variant.sku, "quantity": quantity} for variant, quantity in lines],
        "payment_reference": "psp_pay_0001",
        **extra,
    }


def reserved(variant, store) -> int:
    return StockItem.objects.get(variant=variant, store=store).reserved


def staff_api(*stores):
    user = staff_user(*stores)
    api = token_client(issue_user_token(user))
    api.user = user
    return api


class TestPlaceOrder:
    def test_web_client_places_a_pickup_order(self, web, store):
        variant = stocked_variant(store, 5, price=Decimal("149.00"))
        customer = CustomerFactory()
        with committed():
            response = web.post(
                "/api/v1/orders/", order_body(customer, store, (variant, 1)), format="json"
            )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["number"].startswith("W-")
        assert body["status"] == "placed"
        assert body["total"] == "149.00"
        assert body["pickup_store"] == store.code
        assert body["customer"] == customer.pk
        assert body["pickup_code"] is None
        assert body["lines"][0]["sku"] == variant.sku
        assert body["lines"][0]["unit_price"] == "149.00"
        assert body["history"][0]["to_status"] == "placed"
        assert body["history"][0]["actor"] == "webshop"
        assert reserved(variant, store) == 1
        assert len(mail.outbox) == 1

    def test_phone_desk_orders_get_phone_numbers(self, phone_desk, store):
        variant = stocked_variant(store, 5)
        response = phone_desk.post(
            "/api/v1/orders/", order_body(CustomerFactory(), store, (variant, 1)), format="json"
        )
        assert response.status_code == 201
        assert response.json()["number"].startswith("P-")
        assert response.json()["channel"] == "phone"

    def test_customer_login_orders_for_itself(self, customer_api, store):
        variant = stocked_variant(store, 5)
        body = order_body(customer_api.customer, store, (variant, 1))
        del body["customer"]
        response = customer_api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["customer"] == customer_api.customer.pk

    def test_customer_login_cannot_order_for_someone_else(self, customer_api, store):
        variant = stocked_variant(store, 5)
        response = customer_api.post(
            "/api/v1/orders/", order_body(CustomerFactory(), store, (variant, 1)), format="json"
        )
        assert response.status_code == 400
        assert "customer" in response.json()["errors"]
        assert not Order.objects.exists()

    def test_without_token_401(self, anon, store):
        response = anon.post("/api/v1/orders/", {}, format="json")
        assert response.status_code == 401

    @pytest.mark.parametrize(
        "change, field",
        [
            (lambda b: b["lines"][0].update(sku="NOPE-404"), "lines"),
            (lambda b: b["lines"][0].update(quantity=0), "lines"),
            (lambda b: b["lines"][0].update(quantity=-3), "lines"),
            (lambda b: b["lines"][0].update(quantity="two"), "lines"),
            (lambda b: b.update(lines=[]), "lines"),
            (lambda b: b.update(customer=999999), "customer"),
            (lambda b: b.update(pickup_store="XXX-99"), "pickup_store"),
            (lambda b: b.pop("pickup_store"), "pickup_store"),
            (lambda b: b.update(fulfilment="teleport"), "fulfilment"),
            (lambda b: b.update(payment_status="later"), "payment_status"),
            (lambda b: b.update(store_credit="-1.00"), "store_credit"),
            (lambda b: b.update(store_credit="10.00"), "store_credit"),
        ],
    )
    def test_bad_input_is_400_with_field_errors_and_writes_nothing(self, web, store, change, field):
        variant = stocked_variant(store, 5)
        body = order_body(CustomerFactory(), store, (variant, 1))
        change(body)
        response = web.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["type"] == "validation_error"
        assert field in response.json()["errors"]
        assert not Order.objects.exists()
        assert reserved(variant, store) == 0

    def test_store_without_pickup_is_a_field_error(self, web):
        no_pickup = StoreFactory(code="OUT-01", offers_pickup=False)
        variant = stocked_variant(no_pickup, 5)
        response = web.post(
            "/api/v1/orders/", order_body(CustomerFactory(), no_pickup, (variant, 1)), format="json"
        )
        assert response.status_code == 400
        assert "pickup_store" in response.json()["errors"]
        assert not Order.objects.exists()

    def test_insufficient_stock_is_409_naming_each_short_line(self, web, store):
        short = stocked_variant(store, 1)
        fine = stocked_variant(store, 5)
        response = web.post(
            "/api/v1/orders/",
            order_body(CustomerFactory(), store, (short, 2), (fine, 1)),
            format="json",
        )
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "insufficient_stock"
        assert body["lines"] == [
            {"sku": short.sku, "store": store.code, "requested": 2, "available": 1}
        ]
        assert not Order.objects.exists()

    def test_idempotency_key_replays_and_refuses_another_body(self, web, store):
        variant = stocked_variant(store, 5)
        body = order_body(CustomerFactory(), store, (variant, 1))
        first = web.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        again = web.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Order.objects.count() == 1 and reserved(variant, store) == 1
        body["lines"][0]["quantity"] = 2
        other = web.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert other.status_code == 422
        assert Order.objects.count() == 1 and reserved(variant, store) == 1

    def test_store_credit_spent_through_the_api(self, web, store):
        customer = CustomerFactory()
        add_store_credit_entry(customer=customer, amount=Decimal("50.00"), reason="return")
        variant = stocked_variant(store, 5, price=Decimal("30.00"))
        response = web.post(
            "/api/v1/orders/",
            order_body(customer, store, (variant, 1), store_credit="30.00"),
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["store_credit_used"] == "30.00"
        assert response.json()["payment_method"] == "store_credit"
        assert store_credit_balance(customer) == Decimal("20.00")

    def test_delivery_order_through_the_api(self, web):
        whs = warehouse()
        variant = stocked_variant(whs, 5)
        response = web.post(
            "/api/v1/orders/",
            {
                "customer": CustomerFactory().pk,
                "fulfilment": "delivery",
                "lines": [{"sku": variant.sku, "quantity": 2}],
                "shipping_address": {"street": "Hauptstr. 1", "postcode": "10115"},
                "payment_reference": "psp_pay_0002",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["fulfilment_store"] == whs.code
        assert response.json()["pickup_store"] is None


class TestReadOrder:
    def test_channel_client_reads_any_order(self, web, store):
        order = pickup_order(store)
        response = web.get(f"/api/v1/orders/{order.number}/")
        assert response.status_code == 200
        assert response.json()["number"] == order.number

    def test_customer_sees_own_and_404_for_others(self, customer_api, store):
        own = pickup_order(store, customer=customer_api.customer)
        other = pickup_order(store)
        assert customer_api.get(f"/api/v1/orders/{own.number}/").status_code == 200
        assert customer_api.get(f"/api/v1/orders/{other.number}/").status_code == 404
        assert customer_api.post(f"/api/v1/orders/{other.number}/cancel/").status_code == 404
        assert customer_api.get("/api/v1/orders/W-999999/").status_code == 404

    def test_staff_sees_orders_of_their_stores_only(self, staff, store, other_store):
        mine = pickup_order(store)
        theirs = pickup_order(other_store)
        assert staff.get(f"/api/v1/orders/{mine.number}/").status_code == 200
        assert staff.get(f"/api/v1/orders/{theirs.number}/").status_code == 403

    def test_pickup_code_only_once_ready(self, web, store):
        order = ready_order(store)
        assert web.get(f"/api/v1/orders/{order.number}/").json()["pickup_code"] == order.pickup_code

    def test_my_orders_paginated_with_a_fixed_query_count(
        self, customer_api, store, django_assert_max_num_queries
    ):
        for _ in range(3):
            pickup_order(store, customer=customer_api.customer)
        pickup_order(store)
        with django_assert_max_num_queries(9):
            response = customer_api.get("/api/v1/me/orders/?page_size=2")
        body = response.json()
        assert response.status_code == 200
        assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
        for _ in range(5):
            pickup_order(store, customer=customer_api.customer)
        with django_assert_max_num_queries(9):
            response = customer_api.get("/api/v1/me/orders/?page_size=100")
        assert len(response.json()["results"]) == 8

    def test_my_orders_only_for_customer_logins(self, web):
        assert web.get("/api/v1/me/orders/").status_code == 403


class TestCancel:
    def test_customer_cancels_own_order_and_stock_is_released(self, customer_api, store):
        variant = stocked_variant(store, 5)
        order = pickup_order(store, [(variant, 2)], customer=customer_api.customer)
        response = customer_api.post(
            f"/api/v1/orders/{order.number}/cancel/",
            {"reason": "found it elsewhere"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        assert response.json()["history"][-1]["note"] == "found it elsewhere"
        assert reserved(variant, store) == 0

    def test_cancelling_a_collected_order_is_409(self, web, store):
        order = ready_order(store)
        staff = staff_api(store)
        staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": order.pickup_code},
            format="json",
        )
        response = web.post(f"/api/v1/orders/{order.number}/cancel/")
        assert response.status_code == 409
        assert response.json()["code"] == "illegal_transition"


class TestStaffActions:
    def test_ready_and_hand_over_at_the_counter(self, staff, store):
        variant = stocked_variant(store, 5)
        order = pickup_order(store, [(variant, 2)])
        with committed():
            response = staff.post(f"/api/v1/staff/orders/{order.number}/ready/")
        assert response.status_code == 200
        code = response.json()["pickup_code"]
        assert response.json()["status"] == "ready_for_pickup" and len(code) == 6
        assert code in mail.outbox[-1].body
        response = staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": code},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["status"] == "collected"
        assert response.json()["lines"][0]["handed_over"] == 2
        item = StockItem.objects.get(variant=variant, store=store)
        assert (item.on_hand, item.reserved) == (3, 0)

    def test_staff_of_another_store_gets_403(self, store, other_store):
        order = pickup_order(store)
        outsider = staff_api(other_store)
        assert outsider.post(f"/api/v1/staff/orders/{order.number}/ready/").status_code == 403
        order.refresh_from_db()
        assert order.status == OrderStatus.PLACED

    def test_channel_clients_and_customers_cannot_use_staff_actions(self, web, customer_api, store):
        order = pickup_order(store, customer=customer_api.customer)
        assert web.post(f"/api/v1/staff/orders/{order.number}/ready/").status_code == 403
        assert customer_api.post(f"/api/v1/staff/orders/{order.number}/ready/").status_code == 403

    def test_wrong_code_is_409_and_attempts_are_kept(self, staff, store):
        order = ready_order(store)
        for key in ("a", "b"):
            response = staff.post(
                f"/api/v1/staff/orders/{order.number}/hand-over/",
                {"pickup_code": "WRONG1"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
            assert response.status_code == 409
            assert response.json()["code"] == "wrong_pickup_code"
        response = staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": "WRONG2"},
            format="json",
        )
        assert response.status_code == 409
        order.refresh_from_db()
        assert order.pickup_code_attempts == 3
        assert order.status == OrderStatus.READY_FOR_PICKUP

    def test_partial_hand_over_through_the_api(self, staff, store):
        a = stocked_variant(store, 5)
        b = stocked_variant(store, 5)
        order = ready_order(store, lines=[(a, 2), (b, 1)])
        line_a = order.lines.get(variant=a)
        response = staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": order.pickup_code, "lines": [{"order_line": line_a.pk, "quantity": 1}]},
            format="json",
        )
        assert response.status_code == 200, response.json()
        lines = {ln["sku"]: ln for ln in response.json()["lines"]}
        assert (lines[a.sku]["handed_over"], lines[a.sku]["cancelled"]) == (1, 1)
        assert (lines[b.sku]["handed_over"], lines[b.sku]["cancelled"]) == (0, 1)
        assert reserved(a, store) == reserved(b, store) == 0

    def test_partial_hand_over_of_a_foreign_line_is_400(self, staff, store):
        order = ready_order(store)
        other = pickup_order(store)
        response = staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {
                "pickup_code": order.pickup_code,
                "lines": [{"order_line": other.lines.get().pk, "quantity": 1}],
            },
            format="json",
        )
        assert response.status_code == 400
        assert "lines" in response.json()["errors"]

    def test_ready_while_awaiting_the_transfer_is_409(self, staff, store):
        whs = warehouse()
        variant = VariantFactory()
        stocked(variant, whs, 3)
        order = pickup_order(store, [(variant, 1)])
        response = staff.post(f"/api/v1/staff/orders/{order.number}/ready/")
        assert response.status_code == 409
        assert response.json()["code"] == "awaiting_transfer"

    def test_ship_and_deliver_by_warehouse_staff(self):
        whs = warehouse()
        order = delivery_order(whs)
        api = staff_api(whs)
        response = api.post(f"/api/v1/staff/orders/{order.number}/ship/")
        assert response.status_code == 200 and response.json()["status"] == "shipped"
        response = api.post(f"/api/v1/staff/orders/{order.number}/deliver/")
        assert response.status_code == 200 and response.json()["status"] == "delivered"
        again = api.post(f"/api/v1/staff/orders/{order.number}/ship/")
        assert again.status_code == 409

    def test_ship_a_pickup_order_is_409(self, staff, store):
        order = pickup_order(store)
        response = staff.post(f"/api/v1/staff/orders/{order.number}/ship/")
        assert response.status_code == 409
        assert response.json()["code"] == "not_a_delivery_order"

    def test_todays_pickups_list_for_my_stores(
        self, staff, store, other_store, django_assert_max_num_queries
    ):
        waiting = [ready_order(store) for _ in range(3)]
        pickup_order(store)
        ready_order(other_store)
        with django_assert_max_num_queries(10):
            response = staff.get(
                f"/api/v1/staff/orders/?store={store.code}&status=ready_for_pickup"
            )
        assert response.status_code == 200
        numbers = [o["number"] for o in response.json()["results"]]
        assert sorted(numbers) == sorted(o.number for o in waiting)
        assert staff.get("/api/v1/staff/orders/?status=lost").status_code == 400


def test_schema_documents_the_order_endpoints(staff):
    response = staff.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200


class TestWhoMayTakeMoney:
    """Only the webshop's or app's server, which took the payment, places paid orders."""

    def test_a_customer_login_cannot_place_a_paid_order(self, customer_api, store):
        variant = stocked_variant(store, 5)
        body = order_body(customer_api.customer, store, (variant, 1), payment_status="paid")
        response = customer_api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 403, response.json()
        assert not Order.objects.exists()
        assert reserved(variant, store) == 0

    def test_a_customer_login_orders_pay_at_pickup_by_default(self, customer_api, store):
        variant = stocked_variant(store, 5)
        body = order_body(customer_api.customer, store, (variant, 1))
        del body["payment_reference"]
        response = customer_api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["payment_status"] == "pay_at_pickup"

    def test_store_staff_cannot_place_a_paid_order(self, store):
        variant = stocked_variant(store, 5)
        api = staff_api(store)
        body = order_body(CustomerFactory(), store, (variant, 1), payment_status="paid")
        assert api.post("/api/v1/orders/", body, format="json").status_code == 403
        del body["payment_status"]
        response = api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["payment_status"] == "pay_at_pickup"
        assert response.json()["channel"] == "store"

    def test_a_paid_order_needs_the_payment_reference_and_keeps_it(self, web, store):
        variant = stocked_variant(store, 5)
        body = order_body(CustomerFactory(), store, (variant, 1))
        del body["payment_reference"]
        response = web.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 400
        assert "payment_reference" in response.json()["errors"]
        assert not Order.objects.exists()

        body["payment_reference"] = "psp_pay_42"
        response = web.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["payment_reference"] == "psp_pay_42"
        assert Order.objects.get().payment_reference == "psp_pay_42"

    @pytest.mark.parametrize("channel", ["phone", "store", "app"])
    def test_a_channel_client_orders_only_in_its_own_channel(self, web, store, channel):
        variant = stocked_variant(store, 5)
        body = order_body(CustomerFactory(), store, (variant, 1), channel=channel)
        response = web.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 400
        assert "channel" in response.json()["errors"]
        assert not Order.objects.exists()

    def test_the_channel_comes_from_the_key(self, phone_desk, store):
        variant = stocked_variant(store, 5)
        body = order_body(CustomerFactory(), store, (variant, 1))
        response = phone_desk.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201
        assert response.json()["channel"] == "phone"


class TestWrongPickupCodesLockTheHandOver:
    def hand_over(self, api, order, code):
        return api.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/", {"pickup_code": code}, format="json"
        )

    def test_five_wrong_codes_lock_it_until_a_manager_unlocks(self, store):
        from stores.models import StaffRole
        from tests.orders.factories_orders import ready_order

        order = ready_order(store)
        counter = staff_api(store)
        for _ in range(4):
            assert self.hand_over(counter, order, "WRONG1").json()["code"] == "wrong_pickup_code"
        fifth = self.hand_over(counter, order, "WRONG1")
        assert fifth.status_code == 409
        order.refresh_from_db()
        assert order.handover_locked_at is not None

        right = self.hand_over(counter, order, order.pickup_code)
        assert right.status_code == 409
        assert right.json()["code"] == "handover_locked"
        order.refresh_from_db()
        assert order.status == "ready_for_pickup"
        assert TimelineEvent.objects.filter(
            customer=order.customer, summary__contains="locked after 5 wrong"
        ).exists()

        refused = counter.post(f"/api/v1/staff/orders/{order.number}/unlock-hand-over/")
        assert refused.status_code == 403

        manager = token_client(issue_user_token(staff_user(store, role=StaffRole.MANAGER)))
        unlocked = manager.post(f"/api/v1/staff/orders/{order.number}/unlock-hand-over/")
        assert unlocked.status_code == 200, unlocked.json()
        assert unlocked.json()["handover_locked_at"] is None
        done = self.hand_over(counter, order, order.pickup_code)
        assert done.status_code == 200, done.json()
        assert done.json()["status"] == "collected"
