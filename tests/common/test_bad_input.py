"""Input that cannot be stored or counted is refused with 400 (or 404 for a path id), never 500,
and nothing is written: NUL characters, lone surrogates, numbers beyond 64 bits, odd digits."""

import json

import pytest
from django.test import Client

from common.input_guard import NUMBER_TOO_LARGE, UNSTORABLE_TEXT
from orders.models import Order, Reservation, Return
from orders.models.orders import OrderStatus
from stores.models import StaffRole
from tests.factories import CustomerFactory, staff_user
from tests.orders.factories_orders import ready_order, stocked_variant
from tests.orders.factories_returns import staff_api

pytestmark = pytest.mark.django_db

TOO_BIG = 2**63  # one above the largest id a database column holds
BAD_TEXT = ["A\x00B", "A\ud800B", "\udfff"]


def assert_refused(response, status: int = 400):
    assert response.status_code == status, response.content
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert {"type", "detail", "errors"} <= set(body)


def post_json(api, path: str, body: dict):
    # json.dumps writes unpaired surrogates as \\udXXX escapes, as a buggy client would.
    return api.post(path, json.dumps(body), content_type="application/json")


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class TestApiText:
    def test_availability_query_string(self, web, store):
        assert_refused(web.get("/api/v1/availability/", {"sku": "A\x00B", "store": store.code}))
        assert_refused(web.get("/api/v1/availability/", {"sku": "X", "store": "\x00"}))
        assert_refused(web.get("/api/v1/availability/", {"sku\x00": "X"}))

    def test_invalid_utf8_in_the_query_string_is_harmless(self, web, store):
        # A surrogate's UTF-8 bytes are not valid UTF-8: Django reads them as U+FFFD.
        response = web.get("/api/v1/availability/", QUERY_STRING="sku=%ED%A0%80&sku=%00")
        assert_refused(response)
        response = web.get("/api/v1/availability/", QUERY_STRING="sku=%ED%A0%80")
        assert response.status_code in (200, 400), response.content

    @pytest.mark.parametrize("text", BAD_TEXT)
    def test_place_order_body(self, web, store, text):
        variant = stocked_variant(store, 5)
        customer = CustomerFactory()
        body = {
            "customer": customer.pk,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_reference": "psp_test_1",
            "shipping_address": {"street": text},
        }
        assert_refused(post_json(web, "/api/v1/orders/", body))
        body["shipping_address"] = {}
        body["lines"][0]["sku"] = text
        assert_refused(post_json(web, "/api/v1/orders/", body))
        body["lines"][0]["sku"] = variant.sku
        body["pickup_store"] = text
        response = post_json(web, "/api/v1/orders/", body)
        assert_refused(response)
        assert response.json()["errors"] == {"pickup_store": [UNSTORABLE_TEXT]}
        assert not Order.objects.exists()

    def test_a_key_with_a_surrogate_is_refused_too(self, web):
        response = web.post(
            "/api/v1/orders/",
            '{"fulfilment": "pickup", "\\ud800": 1}',
            content_type="application/json",
        )
        assert_refused(response)

    def test_an_escaped_backslash_before_u0000_is_plain_text(self, web):
        # "\\u0000" in JSON is the six characters \u0000, not a NUL: the field rule decides.
        response = web.post(
            "/api/v1/orders/",
            '{"fulfilment": "pickup", "pickup_store": "\\\\u0000", "lines": []}',
            content_type="application/json",
        )
        assert_refused(response)
        assert "pickup_store" in response.json()["errors"]

    @pytest.mark.parametrize("text", BAD_TEXT)
    def test_reserve_body(self, phone_desk, store, text):
        variant = stocked_variant(store, 5)
        customer = CustomerFactory()
        body = {
            "customer": customer.pk,
            "store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "note": text,
        }
        assert_refused(post_json(phone_desk, "/api/v1/reservations/", body))
        assert not Reservation.objects.exists()

    def test_path_segment(self, web):
        assert_refused(web.get("/api/v1/orders/W-%00/"))


class TestApiNumbers:
    def test_huge_customer_id_in_an_order(self, web, store):
        variant = stocked_variant(store, 5)
        body = {
            "customer": TOO_BIG,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_reference": "psp_test_1",
        }
        for customer in (TOO_BIG, 10**30, -(2**63) - 1):
            body["customer"] = customer
            response = web.post("/api/v1/orders/", body, format="json")
            assert_refused(response)
            assert list(response.json()["errors"]) == ["customer"]
        assert not Order.objects.exists()

    def test_huge_customer_id_in_a_reservation(self, phone_desk, store):
        variant = stocked_variant(store, 5)
        body = {
            "customer": TOO_BIG,
            "store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
        }
        assert_refused(phone_desk.post("/api/v1/reservations/", body, format="json"))
        assert not Reservation.objects.exists()

    def test_huge_order_line_at_hand_over(self, store):
        order = ready_order(store)
        api = staff_api(store)
        response = api.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": order.pickup_code, "lines": [{"order_line": TOO_BIG, "quantity": 1}]},
            format="json",
        )
        assert_refused(response)
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP

    def test_huge_order_line_in_a_return(self, web, store):
        order = ready_order(store)
        body = {"order": order.number, "method": "mail", "lines": [{"order_line": TOO_BIG}]}
        body["lines"][0].update(quantity=1, reason="too_small")
        response = web.post("/api/v1/returns/", body, format="json")
        assert_refused(response)
        # Refused as a number no column holds, before any look-up.
        assert response.json()["errors"] == {"lines.0.order_line": [NUMBER_TOO_LARGE]}
        assert not Return.objects.exists()

    @pytest.mark.parametrize("line_id", [TOO_BIG, 10**30, -(2**63) - 1])
    def test_huge_reservation_line_at_collection(self, store, line_id):
        from tests.orders.factories_reservations import reservation_for

        reservation = reservation_for(store)
        response = staff_api(store).post(
            f"/api/v1/staff/reservations/{reservation.pk}/collect/",
            {"lines": [{"reservation_line": line_id, "quantity": 1}]},
            format="json",
        )
        assert_refused(response)
        reservation.refresh_from_db()
        assert reservation.status == "active"

    @pytest.mark.parametrize("quantity", [2**31, TOO_BIG])
    def test_quantities_beyond_any_stock_column(self, web, store, quantity):
        variant = stocked_variant(store, 5)
        body = {
            "customer": CustomerFactory().pk,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": quantity}],
            "payment_reference": "psp_test_1",
        }
        response = web.post("/api/v1/orders/", body, format="json")
        assert_refused(response)
        assert [k.split(".")[0] for k in response.json()["errors"]] == ["lines"]
        assert not Order.objects.exists()

    @pytest.mark.parametrize("code", ["ÄÖÜ123", "日本語", "ß"])
    def test_non_ascii_pickup_code(self, store, code):
        order = ready_order(store)
        api = staff_api(store)
        response = api.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": code},
            format="json",
        )
        assert response.status_code in (400, 409), response.content
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/reservations/{}/",
            "/api/v1/returns/{}/",
            "/api/v1/customers/{}/",
            "/api/v1/customers/{}/timeline/",
        ],
    )
    def test_huge_path_id_is_404(self, web, path):
        assert_refused(web.get(path.format(TOO_BIG)), 404)
        assert_refused(web.get(path.format(10**25)), 404)


class TestDeskForms:
    @pytest.fixture
    def agent(self, store):
        return desk(staff_user(store, role=StaffRole.SERVICE_AGENT))

    @pytest.mark.parametrize("quantity", ["²", "½", "99999999999999999999", "-1", "1e3", "٣"])
    def test_phone_desk_quantity(self, agent, store, quantity):
        variant = stocked_variant(store, 5)
        customer = CustomerFactory()
        store.takes_reservations = True
        store.save()
        response = agent.post(
            "/desk/phone/reserve/",
            {
                "store": store.code,
                "sku": variant.sku,
                "customer": customer.pk,
                "quantity": quantity,
            },
        )
        assert response.status_code == 400
        assert "Quantity: A whole number from 1 to 9999." in response.content.decode()
        assert not Reservation.objects.exists()

    @pytest.mark.parametrize("customer", ["²", "99999999999999999999999"])
    def test_phone_desk_customer_id(self, agent, store, customer):
        variant = stocked_variant(store, 5)
        store.takes_reservations = True
        store.save()
        response = agent.post(
            "/desk/phone/reserve/",
            {"store": store.code, "sku": variant.sku, "customer": customer, "quantity": "1"},
        )
        assert response.status_code == 400
        assert "That customer no longer exists" in response.content.decode()
        assert not Reservation.objects.exists()

    @pytest.mark.parametrize("text", BAD_TEXT[:1])
    def test_phone_desk_nul_in_a_form_field(self, agent, store, text):
        variant = stocked_variant(store, 5)
        store.takes_reservations = True
        store.save()
        response = agent.post(
            "/desk/phone/reserve/",
            {"store": store.code, "sku": variant.sku, "quantity": "1", "first_name": text},
        )
        assert_refused(response)
        assert not Reservation.objects.exists()

    def test_nul_in_a_desk_search(self, agent):
        assert_refused(agent.get("/desk/phone/", {"phone": "030\x00123"}))

    def test_non_ascii_pickup_code_at_the_desk(self, store):
        order = ready_order(store)
        response = desk(staff_user(store)).post(
            f"/desk/pickups/{order.number}/hand-over/", {"pickup_code": "ÄÖÜ日本"}, follow=True
        )
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP

    @pytest.mark.parametrize("quantity", ["²", "99999999999999999999"])
    def test_returns_counter_quantity(self, store, quantity):
        from tests.orders.factories_returns import bought

        order = bought(store=store)
        line = order.lines.get()
        response = desk(staff_user(store)).post(
            f"/desk/returns/order/{order.number}/return/",
            {
                "store": store.code,
                "line": [str(line.pk)],
                f"quantity_{line.pk}": quantity,
                f"reason_{line.pk}": "too_small",
                f"condition_{line.pk}": "resellable",
                "refund_method": "original",
            },
            follow=True,
        )
        assert response.status_code == 200
        assert "quantit" in response.content.decode().lower()
        assert not Return.objects.exists()

    def test_returns_counter_huge_line_id(self, store):
        from tests.orders.factories_returns import bought

        order = bought(store=store)
        response = desk(staff_user(store)).post(
            f"/desk/returns/order/{order.number}/return/",
            {"store": store.code, "line": [str(TOO_BIG)], "refund_method": "original"},
            follow=True,
        )
        assert response.status_code == 200
        assert not Return.objects.exists()

    @pytest.mark.parametrize(
        "path",
        ["/desk/reservations/{}/collect/", "/desk/returns/{}/receive/", "/desk/lists/{}/add/"],
    )
    def test_huge_path_id_is_404(self, store, path):
        response = desk(staff_user(store)).post(path.format(TOO_BIG))
        assert response.status_code == 404
