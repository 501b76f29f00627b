"""Returns API: status codes, error bodies, authorisation and what was (not) written."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from common import outbox
from common.models import Channel
from customers.models import StoreCreditEntry
from customers.services import add_store_credit_entry
from inventory.models import StockItem, StockMovement
from orders.models import Refund, Return, ReturnStatus
from orders.payments import register_refund_provider
from stores.models import StaffRole
from tests.factories import StoreFactory, VariantFactory, WarehouseFactory
from tests.orders.factories_returns import bought, staff_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirt():
    return VariantFactory(price=Decimal("30.00"))


@pytest.fixture
def order(store, shirt):
    return bought(store=store, lines=[(shirt, 2, "30.00")])


def announce(api, order, store="BER-01", quantity=1, **extra):
    body = {
        "order": order.number,
        "store": store,
        "lines": [
            {"order_line": order.lines.get().pk, "quantity": quantity, "reason": "too_small"}
        ],
        **extra,
    }
    return api.post("/api/v1/returns/", body, format="json")


class TestAnnounceReturn:
    def test_a_channel_client_announces_for_any_customer(self, web, order, store):
        response = announce(web, order)

        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["status"] == "requested" and body["store"] == "BER-01"
        assert body["number"].startswith("R-") and body["order"] == order.number
        assert body["lines"][0]["order_line"] == order.lines.get().pk
        assert body["lines"][0]["quantity"] == 1 and body["lines"][0]["reason"] == "too_small"
        assert Return.objects.get().channel == Channel.WEB

    def test_by_mail_to_the_warehouse(self, web, order):
        WarehouseFactory(code="LAG-01")

        response = web.post(
            "/api/v1/returns/",
            {
                "order": order.number,
                "method": "mail",
                "lines": [
                    {"order_line": order.lines.get().pk, "quantity": 2, "reason": "defective"}
                ],
            },
            format="json",
        )

        assert response.status_code == 201, response.json()
        assert response.json()["store"] == "LAG-01" and response.json()["method"] == "mail"

    def test_a_customer_returns_its_own_order(self, customer_api, store, shirt):
        order = bought(customer=customer_api.customer, store=store, lines=[(shirt, 1, "30.00")])

        response = announce(customer_api, order)

        assert response.status_code == 201
        assert Return.objects.get().customer == customer_api.customer

    def test_another_customers_order_is_unknown(self, customer_api, order):
        response = announce(customer_api, order)

        assert response.status_code == 400
        assert response.json()["errors"] == {"order": ["Unknown order."]}
        assert not Return.objects.exists()

    def test_a_line_of_another_order_is_a_field_error(self, web, order, store):
        other = bought(store=store)
        response = web.post(
            "/api/v1/returns/",
            {
                "order": order.number,
                "store": "BER-01",
                "lines": [{"order_line": other.lines.get().pk, "quantity": 1, "reason": "other"}],
            },
            format="json",
        )

        assert response.status_code == 400
        assert "order_line" in response.json()["errors"]["lines"][0]
        assert not Return.objects.exists()

    def test_quantity_above_what_is_returnable(self, web, order):
        assert announce(web, order, quantity=1).status_code == 201

        response = announce(web, order, quantity=2)

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "quantity_not_returnable"
        assert body["errors"]["lines"][0]["quantity"] == [
            f"At most 1 of {order.lines.get().sku} can be returned."
        ]
        assert Return.objects.count() == 1

    def test_a_store_that_accepts_no_returns(self, web, order):
        StoreFactory(code="OUT-01", accepts_returns=False)

        response = announce(web, order, store="OUT-01")

        assert response.status_code == 400
        assert "store" in response.json()["errors"]

    def test_bad_input_is_a_400_with_field_errors(self, web, order):
        response = web.post(
            "/api/v1/returns/",
            {"order": order.number, "lines": [{"order_line": "x", "quantity": 0, "reason": "meh"}]},
            format="json",
        )

        assert response.status_code == 400
        errors = response.json()["errors"]
        assert set(errors) == {"lines"} or "store" in errors

    def test_outside_the_window_is_a_409(self, web, store, shirt):
        order = bought(store=store, lines=[(shirt, 1, "30.00")], days_ago=45)

        response = announce(web, order)

        assert response.status_code == 409
        assert response.json()["code"] == "return_window_closed"

    def test_a_manager_overrides_the_window(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 1, "30.00")], days_ago=45)
        manager = staff_api(store, role=StaffRole.MANAGER)

        response = announce(manager, order, override_reason="Was in hospital")

        assert response.status_code == 201
        assert response.json()["window_override_reason"] == "Was in hospital"

    def test_idempotency_key_replays_the_first_answer(self, web, order):
        body = {
            "order": order.number,
            "store": "BER-01",
            "lines": [{"order_line": order.lines.get().pk, "quantity": 1, "reason": "too_small"}],
        }
        first = web.post("/api/v1/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="ret-1")
        again = web.post("/api/v1/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="ret-1")

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert Return.objects.count() == 1

    def test_without_a_token_401(self, anon, order):
        assert announce(anon, order).status_code == 401


class TestReadReturns:
    def test_a_customer_sees_its_own_returns_and_nobody_elses(
        self, customer_api, web, store, shirt
    ):
        mine = bought(customer=customer_api.customer, store=store, lines=[(shirt, 1, "30.00")])
        theirs = bought(store=store, lines=[(shirt, 1, "30.00")])
        my_return = announce(web, mine).json()
        their_return = announce(web, theirs).json()

        listed = customer_api.get("/api/v1/me/returns/")
        assert listed.status_code == 200
        assert [r["id"] for r in listed.json()["results"]] == [my_return["id"]]
        assert customer_api.get(f"/api/v1/returns/{my_return['id']}/").status_code == 200
        assert customer_api.get(f"/api/v1/returns/{their_return['id']}/").status_code == 404

    def test_staff_see_returns_of_their_stores_only(self, web, order, other_store):
        created = announce(web, order).json()

        assert (
            staff_api(order.fulfilment_store).get(f"/api/v1/returns/{created['id']}/").status_code
            == 200
        )
        assert staff_api(other_store).get(f"/api/v1/returns/{created['id']}/").status_code == 403

    def test_the_staff_list_has_a_fixed_query_count(
        self, web, store, shirt, django_assert_max_num_queries
    ):
        api = staff_api(store)
        for _ in range(3):
            order = bought(store=store, lines=[(shirt, 2, "30.00")])
            announce(web, order)
        # auth, staff check, stores, count, page, then one query per prefetch: not per return
        with django_assert_max_num_queries(9):
            assert len(api.get("/api/v1/staff/returns/?status=requested").json()["results"]) == 3
        for _ in range(5):
            order = bought(store=store, lines=[(shirt, 2, "30.00")])
            announce(web, order)
        with django_assert_max_num_queries(9):
            assert len(api.get("/api/v1/staff/returns/").json()["results"]) == 8

    def test_my_store_credit_shows_balance_and_entries(self, customer_api):
        add_store_credit_entry(
            customer=customer_api.customer, amount=Decimal("12.50"), reason="Refund"
        )

        response = customer_api.get("/api/v1/me/store-credit/")

        assert response.status_code == 200
        assert response.json()["balance"] == "12.50"
        assert response.json()["results"][0]["amount"] == "12.50"

    def test_me_needs_a_customer_login(self, web):
        assert web.get("/api/v1/me/returns/").status_code == 403


class TestReceiveAndRefund:
    def receive(self, api, created, condition="resellable", **extra):
        return api.post(
            f"/api/v1/staff/returns/{created['id']}/receive/",
            {
                "lines": [
                    {"return_line": line["id"], "condition": condition} for line in created["lines"]
                ],
                **extra,
            },
            format="json",
        )

    def test_receive_then_refund(self, web, order, store, shirt):
        api = staff_api(store, role=StaffRole.MANAGER)
        created = announce(web, order, quantity=2).json()

        received = self.receive(api, created)
        assert received.status_code == 200, received.json()
        assert received.json()["status"] == "received"
        assert StockItem.objects.get(store=store, variant=shirt).on_hand == 2

        refunded = api.post(
            f"/api/v1/staff/returns/{created['id']}/refund/", {"method": "original"}, format="json"
        )
        assert refunded.status_code == 200, refunded.json()
        body = refunded.json()
        assert body["status"] == "refunded"
        assert [(r["method"], r["amount"]) for r in body["refunds"]] == [("original", "60.00")]

    def test_refund_twice_is_a_409_and_nothing_changes(self, web, order, store):
        api = staff_api(store, role=StaffRole.MANAGER)
        created = announce(web, order).json()
        self.receive(api, created)
        url = f"/api/v1/staff/returns/{created['id']}/refund/"
        assert api.post(url, {"method": "store_credit"}, format="json").status_code == 200

        again = api.post(url, {"method": "store_credit"}, format="json")

        assert again.status_code == 409 and again.json()["code"] == "already_refunded"
        assert Refund.objects.count() == 1 and StoreCreditEntry.objects.count() == 1

    def test_staff_of_another_store_get_403(self, web, order, other_store):
        created = announce(web, order).json()
        api = staff_api(other_store)

        assert self.receive(api, created).status_code == 403
        assert (
            api.post(
                f"/api/v1/staff/returns/{created['id']}/refund/",
                {"method": "original"},
                format="json",
            ).status_code
            == 403
        )
        assert not StockMovement.objects.exists()

    def test_staff_elsewhere_cannot_take_over_a_return_announced_for_another_store(
        self, web, order, other_store
    ):
        created = announce(web, order).json()
        hamburg = staff_api(other_store, role=StaffRole.MANAGER)

        response = self.receive(hamburg, created, store="HAM-01")
        assert response.status_code == 403
        assert not response.json()["errors"], "nothing about the return's lines leaks"
        refund = hamburg.post(
            f"/api/v1/staff/returns/{created['id']}/refund/", {"method": "original"}, format="json"
        )
        assert refund.status_code == 403
        assert not StockMovement.objects.exists()

    def test_a_customer_or_client_cannot_receive(self, web, customer_api, order):
        created = announce(web, order).json()

        assert self.receive(web, created).status_code == 403
        assert self.receive(customer_api, created).status_code == 403

    def test_bad_condition_is_a_400(self, web, order, store):
        created = announce(web, order).json()

        response = self.receive(staff_api(store), created, condition="meh")

        assert response.status_code == 400
        assert Return.objects.get().status == ReturnStatus.REQUESTED

    def test_a_failing_provider_does_not_fail_the_request_and_the_retry_pays_once(
        self, web, order, store, settings, django_capture_on_commit_callbacks
    ):
        class FlakyProvider:
            name = "flaky"
            keys: list = []

            def refund(self, order, amount, reference, *, idempotency_key):
                FlakyProvider.keys.append(idempotency_key)
                if len(FlakyProvider.keys) == 1:
                    raise TimeoutError("payment service timed out")
                return f"FLK-{reference}"

        register_refund_provider("flaky", FlakyProvider)
        settings.OMNIS_REFUND_PROVIDER = "flaky"
        api = staff_api(store, role=StaffRole.MANAGER)
        created = announce(web, order).json()
        self.receive(api, created)
        url = f"/api/v1/staff/returns/{created['id']}/refund/"

        with django_capture_on_commit_callbacks(execute=True):
            first = api.post(url, {"method": "original"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
        assert first.status_code == 200, first.json()
        assert first.json()["status"] == "refunded"
        assert first.json()["refunds"][0]["status"] == "pending"

        # The client retries the request: the stored answer, no second refund.
        again = api.post(url, {"method": "original"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
        assert again.status_code == 200 and Refund.objects.count() == 1

        outbox.sweep(now=timezone.now() + timedelta(hours=1))
        shown = api.get(f"/api/v1/returns/{created['id']}/").json()["refunds"][0]
        assert (shown["status"], shown["provider_reference"]) == (
            "paid",
            f"FLK-{created['number']}",
        )
        assert set(FlakyProvider.keys) == {f"omnis-refund-{shown['id']}"}

    def test_reject_an_announced_return(self, web, order, store):
        created = announce(web, order).json()

        response = staff_api(store).post(
            f"/api/v1/staff/returns/{created['id']}/reject/",
            {"reason": "Never arrived"},
            format="json",
        )

        assert response.status_code == 200 and response.json()["status"] == "rejected"


class TestReturnableLines:
    def test_any_staff_member_sees_what_is_returnable_with_the_stores_window(
        self, web, order, other_store
    ):
        other_store.return_window_days = 100
        other_store.save()
        announce(web, order, quantity=1)

        response = staff_api(other_store).get(
            f"/api/v1/staff/returns/returnable/?order={order.number.lower()}&store=HAM-01"
        )

        assert response.status_code == 200
        body = response.json()
        assert [(x["handed_over"], x["in_returns"], x["returnable"]) for x in body["lines"]] == [
            (2, 1, 1)
        ]
        window = datetime.fromisoformat(body["return_deadline"]) - datetime.fromisoformat(
            body["handed_over_at"]
        )
        assert window == timedelta(days=100)

    def test_unknown_order_404_and_customers_403(self, customer_api, store):
        assert (
            staff_api(store).get("/api/v1/staff/returns/returnable/?order=X-1").status_code == 404
        )
        assert customer_api.get("/api/v1/staff/returns/returnable/?order=X-1").status_code == 403
