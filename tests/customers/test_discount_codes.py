"""Discount codes: issued after advice in a store, checked and spent in any channel, refused with
a clear answer (and nothing written) when expired, used up, another customer's or malformed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from common.errors import InvalidInput
from customers.discounts import (
    CODE_ALPHABET,
    CODE_LENGTH,
    DiscountCodeInvalid,
    check_discount_code,
    issue_discount_code,
)
from customers.models import DiscountCode, TimelineEvent, TimelineKind
from customers.services import add_store_credit_entry, store_credit_balance
from inventory.models import StockItem
from orders.models import DiscountRedemption, Order
from tests.customers.factories_discounts import clerk, discount_code
from tests.factories import CustomerFactory, staff_user
from tests.orders.factories_orders import committed, pickup_order, stocked_variant, web_actor

pytestmark = pytest.mark.django_db

SUBTOTAL = Decimal("59.70")  # 3 × 19.90


def order_body(customer, store, variant, quantity=3, **extra) -> dict:
    return {
        "customer": customer.pk,
        "fulfilment": "pickup",
        "pickup_store": store.code,
        "lines": [{"sku": variant.sku, "quantity": quantity}],
        "payment_reference": "psp_pay_0001",
        **extra,
    }


def expire(code: DiscountCode) -> None:
    now = timezone.now()
    DiscountCode.objects.filter(pk=code.pk).update(
        valid_from=now - timedelta(days=8), valid_until=now - timedelta(seconds=1)
    )


def nothing_written(before_orders: int, code: DiscountCode, uses: int) -> None:
    code.refresh_from_db()
    assert Order.objects.count() == before_orders
    assert code.uses == uses
    assert DiscountRedemption.objects.filter(code=code).count() == uses


class TestIssue:
    def test_a_code_is_eight_unambiguous_characters_and_on_the_customers_timeline(self, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, campaign="poster-spring")
        assert len(code.code) == CODE_LENGTH
        assert set(code.code) <= set(CODE_ALPHABET)
        assert (code.percent, code.amount, code.uses, code.max_uses) == (Decimal("10"), None, 0, 1)
        event = TimelineEvent.objects.get(customer=customer, kind=TimelineKind.DISCOUNT_CODE_ISSUED)
        assert "Jana Vogel" in event.summary and "Berlin Mitte" in event.summary
        assert "poster-spring" in event.summary
        assert event.store == store
        assert event.campaign == "poster-spring"
        assert event.data["issued_by"] == "Jana Vogel"

    def test_an_open_code_belongs_to_nobody(self, store):
        code = discount_code(store, amount=Decimal("5.00"), max_uses=100)
        assert code.customer is None and code.amount == Decimal("5.00")

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"percent": Decimal("101")}, "percent"),
            ({"percent": Decimal("0")}, "percent"),
            ({"percent": Decimal("-5")}, "percent"),
            ({"amount": Decimal("-1.00")}, "amount"),
            ({"amount": Decimal("0")}, "amount"),
            ({"percent": Decimal("10"), "amount": Decimal("5")}, "percent"),
            ({}, "percent"),
            ({"percent": Decimal("10"), "min_total": Decimal("-1")}, "min_total"),
            ({"percent": Decimal("10"), "max_uses": 0}, "max_uses"),
            ({"percent": Decimal("10"), "valid_until": "past"}, "valid_until"),
        ],
    )
    def test_bad_values_are_refused_and_nothing_is_written(self, store, values, field):
        values = dict(values)
        if values.get("valid_until") == "past":
            values["valid_until"] = timezone.now() - timedelta(minutes=1)
        values.setdefault("valid_until", timezone.now() + timedelta(days=1))
        with pytest.raises(InvalidInput) as refused:
            issue_discount_code(actor=clerk(store), store=store, **values)
        assert field in refused.value.errors
        assert not DiscountCode.objects.exists()


class TestCheck:
    def test_a_valid_code_says_what_it_takes_off(self, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, percent=Decimal("15"))
        check = check_discount_code(code.code.lower(), customer=customer, total=SUBTOTAL)
        assert check.valid and check.reason == ""
        assert check.discount == Decimal("8.96")  # 8.955 rounded half up

    def test_each_refusal_has_its_reason(self, store):
        owner, other = CustomerFactory(), CustomerFactory()
        code = discount_code(store, customer=owner, min_total=Decimal("50.00"))
        assert check_discount_code("AAAAAAAA").reason == "unknown"
        assert check_discount_code(code.code, customer=other).reason == "other_customer"
        assert check_discount_code(code.code, customer=owner, total=Decimal("49.99")).reason == (
            "below_min_total"
        )
        later = code.valid_until + timedelta(seconds=1)
        assert check_discount_code(code.code, customer=owner, now=later).reason == "expired"
        DiscountCode.objects.filter(pk=code.pk).update(uses=1)
        assert check_discount_code(code.code, customer=owner).reason == "used_up"


class TestRedeem:
    def test_issued_in_berlin_redeemed_once_online_refused_the_second_time(self, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, percent=Decimal("20"))
        variant = stocked_variant(store, 10)

        order = pickup_order(store, [(variant, 3)], customer=customer)  # without a code
        assert order.discount == Decimal("0.00")

        from orders.services.orders import place_order

        with committed():
            order = place_order(
                actor=web_actor(),
                customer=customer,
                fulfilment="pickup",
                pickup_store=store,
                lines=[(variant, 3)],
                discount_code=code.code,
            )
        order.refresh_from_db()
        assert (order.subtotal, order.discount, order.total) == (
            SUBTOTAL,
            Decimal("11.94"),
            Decimal("47.76"),
        )
        code.refresh_from_db()
        assert code.uses == 1
        redemption = DiscountRedemption.objects.get(code=code)
        assert (redemption.order, redemption.amount) == (order, Decimal("11.94"))
        spent = TimelineEvent.objects.get(
            customer=customer, kind=TimelineKind.DISCOUNT_CODE_REDEEMED
        )
        assert order.number in spent.summary and "Web" in spent.summary
        assert spent.data["issued_at_store"] == store.code
        assert spent.channel == "web"

        before = Order.objects.count()
        reserved = StockItem.objects.get(variant=variant, store=store).reserved
        with pytest.raises(DiscountCodeInvalid) as refused:
            place_order(
                actor=web_actor(),
                customer=customer,
                fulfilment="pickup",
                pickup_store=store,
                lines=[(variant, 1)],
                discount_code=code.code,
            )
        assert refused.value.status == 409 and refused.value.extra["reason"] == "used_up"
        assert Order.objects.count() == before
        assert StockItem.objects.get(variant=variant, store=store).reserved == reserved
        code.refresh_from_db()
        assert code.uses == 1

    def test_an_amount_is_capped_at_the_subtotal(self, store):
        customer = CustomerFactory()
        code = discount_code(store, amount=Decimal("100.00"))
        variant = stocked_variant(store, 5)
        from orders.services.orders import place_order

        order = place_order(
            actor=web_actor(),
            customer=customer,
            fulfilment="pickup",
            pickup_store=store,
            lines=[(variant, 1)],
            discount_code=code.code,
        )
        assert (order.discount, order.total) == (Decimal("19.90"), Decimal("0.00"))

    def test_staff_placed_orders_take_the_code_too(self, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, amount=Decimal("5.00"))
        variant = stocked_variant(store, 5)
        from orders.services.orders import place_order

        order = place_order(
            actor=clerk(store),
            customer=customer,
            fulfilment="pickup",
            pickup_store=store,
            lines=[(variant, 1)],
            payment_status="pay_at_pickup",
            discount_code=code.code,
        )
        assert order.channel == "store" and order.total == Decimal("14.90")

    def test_store_credit_above_the_discounted_total_is_400_and_the_use_stays(self, store):
        customer = CustomerFactory()
        add_store_credit_entry(customer=customer, amount=Decimal("19.90"), reason="Return R-1")
        code = discount_code(store, customer=customer, amount=Decimal("5.00"))
        variant = stocked_variant(store, 5)
        from orders.services.orders import place_order

        with pytest.raises(InvalidInput) as refused:
            place_order(
                actor=web_actor(),
                customer=customer,
                fulfilment="pickup",
                pickup_store=store,
                lines=[(variant, 1)],
                store_credit_amount=Decimal("19.90"),
                discount_code=code.code,
            )
        assert "store_credit" in refused.value.errors
        nothing_written(0, code, 0)
        assert store_credit_balance(customer) == Decimal("19.90")


class TestStaffIssueApi:
    url = "/api/v1/staff/discount-codes/"

    def test_a_salesperson_issues_a_code_in_their_store(self, staff, store):
        customer = CustomerFactory()
        until = (timezone.now() + timedelta(days=14)).isoformat()
        response = staff.post(
            self.url,
            {"customer": customer.pk, "percent": "10", "valid_until": until, "campaign": "qr-1"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert len(body["code"]) == CODE_LENGTH
        assert (body["store"], body["customer"], body["max_uses"]) == (store.code, customer.pk, 1)
        assert body["issued_by"]

    def test_another_stores_code_is_forbidden(self, staff, other_store):
        until = (timezone.now() + timedelta(days=1)).isoformat()
        response = staff.post(
            self.url,
            {"percent": "10", "valid_until": until, "store": other_store.code},
            format="json",
        )
        assert response.status_code == 403
        assert not DiscountCode.objects.exists()

    @pytest.mark.parametrize(
        "values",
        [
            {"percent": "150"},
            {"amount": "-5.00"},
            {"percent": "10", "amount": "5.00"},
            {"percent": "10", "min_total": "-1"},
            {"percent": "10", "max_uses": 0},
        ],
    )
    def test_bad_input_is_400_and_writes_nothing(self, staff, values):
        until = (timezone.now() + timedelta(days=1)).isoformat()
        response = staff.post(self.url, {"valid_until": until, **values}, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["errors"]
        assert not DiscountCode.objects.exists()

    def test_channel_clients_and_customers_may_not_issue(self, web, customer_api):
        until = (timezone.now() + timedelta(days=1)).isoformat()
        for caller in (web, customer_api):
            response = caller.post(self.url, {"percent": "10", "valid_until": until}, format="json")
            assert response.status_code == 403
        assert not DiscountCode.objects.exists()


class TestCheckApi:
    def test_the_webshop_checks_a_code_for_a_customer_and_total(self, web, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, percent=Decimal("10"))
        response = web.get(
            f"/api/v1/discount-codes/{code.code.lower()}/",
            {"customer": customer.pk, "total": "59.70"},
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["valid"] is True and body["reason"] is None
        assert (body["percent"], body["amount"], body["discount"]) == ("10.00", None, "5.97")
        assert body["valid_until"]

    def test_a_foreign_or_expired_code_is_not_valid_with_its_reason(self, web, store):
        code = discount_code(store, customer=CustomerFactory())
        other = CustomerFactory()
        body = web.get(f"/api/v1/discount-codes/{code.code}/", {"customer": other.pk}).json()
        assert (body["valid"], body["reason"]) == (False, "other_customer")
        expire(code)
        body = web.get(f"/api/v1/discount-codes/{code.code}/").json()
        assert (body["valid"], body["reason"]) == (False, "expired")

    def test_an_unknown_code_is_404(self, web):
        response = web.get("/api/v1/discount-codes/AAAAAAAA/")
        assert response.status_code == 404
        assert response.json()["reason"] == "unknown"

    def test_a_customer_sees_its_own_and_open_codes_only(self, customer_api, store):
        own = discount_code(store, customer=customer_api.customer)
        opened = discount_code(store)
        foreign = discount_code(store, customer=CustomerFactory())
        assert customer_api.get(f"/api/v1/discount-codes/{own.code}/").json()["valid"] is True
        assert customer_api.get(f"/api/v1/discount-codes/{opened.code}/").json()["open"] is True
        assert customer_api.get(f"/api/v1/discount-codes/{foreign.code}/").status_code == 404


class TestOrderApi:
    url = "/api/v1/orders/"

    def test_a_code_from_the_store_lowers_the_online_order_once(self, web, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, amount=Decimal("10.00"))
        variant = stocked_variant(store, 10)
        with committed():
            response = web.post(
                self.url,
                order_body(customer, store, variant, discount_code=code.code),
                format="json",
            )
        assert response.status_code == 201, response.json()
        assert (response.json()["discount"], response.json()["total"]) == ("10.00", "49.70")
        assert "Discount: -€10.00" in mail.outbox[-1].body
        assert "Total: €49.70" in mail.outbox[-1].body

        before = Order.objects.count()
        again = web.post(
            self.url,
            order_body(customer, store, variant, discount_code=code.code, payment_reference="p2"),
            format="json",
        )
        assert again.status_code == 409
        assert again.json()["code"] == "discount_code_invalid"
        assert again.json()["reason"] == "used_up"
        nothing_written(before, code, 1)

    def test_an_expired_code_is_409_and_nothing_written(self, web, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer)
        variant = stocked_variant(store, 10)
        before = Order.objects.count()
        expire(code)
        response = web.post(
            self.url, order_body(customer, store, variant, discount_code=code.code), format="json"
        )
        assert response.status_code == 409
        assert (response.json()["code"], response.json()["reason"]) == (
            "discount_code_invalid",
            "expired",
        )
        nothing_written(before, code, 0)
        assert StockItem.objects.get(variant=variant, store=store).reserved == 0

    def test_another_customers_code_is_409_and_nothing_written(self, web, store):
        code = discount_code(store, customer=CustomerFactory())
        variant = stocked_variant(store, 10)
        before = Order.objects.count()
        response = web.post(
            self.url,
            order_body(CustomerFactory(), store, variant, discount_code=code.code),
            format="json",
        )
        assert response.status_code == 409
        assert response.json()["reason"] == "other_customer"
        nothing_written(before, code, 0)

    def test_an_unknown_code_is_409_and_a_malformed_one_400(self, web, store):
        variant = stocked_variant(store, 10)
        customer = CustomerFactory()
        before = Order.objects.count()
        unknown = web.post(
            self.url, order_body(customer, store, variant, discount_code="AAAA-AAAA"), format="json"
        )
        assert unknown.status_code == 409 and unknown.json()["reason"] == "unknown"
        malformed = web.post(
            self.url, order_body(customer, store, variant, discount_code="10%OFF!"), format="json"
        )
        assert malformed.status_code == 400
        assert "discount_code" in malformed.json()["errors"]
        assert Order.objects.count() == before

    def test_below_the_minimum_is_409(self, web, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer, min_total=Decimal("100.00"))
        variant = stocked_variant(store, 10)
        before = Order.objects.count()
        response = web.post(
            self.url, order_body(customer, store, variant, discount_code=code.code), format="json"
        )
        assert response.status_code == 409 and response.json()["reason"] == "below_min_total"
        nothing_written(before, code, 0)

    def test_a_code_with_more_uses_serves_several_orders_then_stops(self, web, store):
        code = discount_code(store, percent=Decimal("5"), max_uses=2)
        variant = stocked_variant(store, 10)
        statuses = []
        for n in range(3):
            response = web.post(
                self.url,
                order_body(
                    CustomerFactory(),
                    store,
                    variant,
                    1,
                    discount_code=code.code,
                    payment_reference=f"psp_{n}",
                ),
                format="json",
            )
            statuses.append(response.status_code)
        assert statuses == [201, 201, 409]
        code.refresh_from_db()
        assert code.uses == 2 and code.redemptions.count() == 2


class TestTimeline:
    def test_the_timeline_shows_who_issued_it_and_where_it_was_spent(self, web, store):
        customer = CustomerFactory()
        code = discount_code(store, customer=customer)
        variant = stocked_variant(store, 10)
        with committed():
            number = web.post(
                "/api/v1/orders/",
                order_body(customer, store, variant, discount_code=code.code),
                format="json",
            ).json()["number"]
        agent = staff_user(store, role="service_agent")
        from common.auth import issue_user_token
        from tests.conftest import token_client

        timeline = token_client(issue_user_token(agent)).get(
            f"/api/v1/customers/{customer.pk}/timeline/"
        )
        kinds = {e["kind"]: e for e in timeline.json()["results"]}
        issued = kinds["discount_code_issued"]
        assert issued["actor"] == "Jana Vogel" and issued["store"] == store.code
        spent = kinds["discount_code_redeemed"]
        assert number in spent["summary"] and spent["channel"] == "web"
        assert spent["data"]["order"] == number


def test_openapi_documents_the_discount_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/staff/discount-codes/"]
    assert "get" in paths["/api/v1/discount-codes/{code}/"]
    order_input = schema["components"]["schemas"]["OrderCreateInputRequest"]["properties"]
    assert "discount_code" in order_input
    assert "campaign" in schema["components"]["schemas"]["TouchpointInputRequest"]["properties"]
