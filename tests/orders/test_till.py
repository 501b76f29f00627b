"""The till: a sale at the counter through the API and the desk, its receipt with a barcode, the
receipt e-mail, sizes and timeline, and the return at another store by scanning the receipt."""

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from customers.models import TimelineEvent
from customers.services import add_store_credit_entry
from inventory.models import StockItem
from orders.models.orders import Fulfilment, Order, OrderStatus
from orders.selectors.sizes import usual_sizes
from tests.factories import CustomerFactory, staff_user
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import committed, stocked_variant

pytestmark = pytest.mark.django_db


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def on_hand(variant, store) -> int:
    return StockItem.objects.get(variant=variant, store=store).on_hand


class TestApi:
    def test_sale_sells_from_the_shelf_and_answers_the_receipt_code(self, staff, store):
        variant = stocked_variant(store, 5, price=Decimal("21.90"), attributes={"size": "M"})
        customer = CustomerFactory()
        with committed():
            response = staff.post(
                "/api/v1/staff/sales/",
                {
                    "store": store.code,
                    "lines": [{"sku": variant.sku, "quantity": 2}],
                    "customer": customer.pk,
                    "payment_method": "cash",
                },
                format="json",
            )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["total"] == "43.80" and body["receipt_code"] == body["number"]
        assert body["number"].startswith("S-") and body["lines"][0]["handed_over"] == 2
        order = Order.objects.get(number=body["number"])
        assert (order.status, order.fulfilment, order.payment_method) == (
            OrderStatus.COLLECTED,
            Fulfilment.COUNTER,
            "cash",
        )
        assert on_hand(variant, store) == 3
        assert_ledger_consistent()
        # Like any order: the timeline and the sizes learn from it, the receipt goes by e-mail.
        assert TimelineEvent.objects.filter(customer=customer, subject_id=order.number).exists()
        category = variant.product.category.slug
        assert usual_sizes(customer)[category]["size"] == "M"
        assert len(mail.outbox) == 1 and order.number in mail.outbox[0].subject
        assert mail.outbox[0].to == [customer.email]

    def test_without_customer_it_is_a_walk_in_without_receipt_mail(self, staff, store):
        variant = stocked_variant(store, 1)
        with committed():
            response = staff.post(
                "/api/v1/staff/sales/",
                {
                    "store": store.code,
                    "lines": [{"sku": variant.sku, "quantity": 1}],
                    "payment_method": "card",
                },
                format="json",
            )
        assert response.status_code == 201, response.content
        assert not mail.outbox
        assert on_hand(variant, store) == 0

    def test_reserved_units_are_not_sold_and_nothing_is_written(self, staff, store):
        from tests.orders.factories_orders import pickup_order

        variant = stocked_variant(store, 2)
        pickup_order(store, [(variant, 2)])
        response = staff.post(
            "/api/v1/staff/sales/",
            {
                "store": store.code,
                "lines": [{"sku": variant.sku, "quantity": 1}],
                "payment_method": "cash",
            },
            format="json",
        )
        assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
        assert not Order.objects.filter(fulfilment=Fulfilment.COUNTER).exists()
        assert_ledger_consistent()

    def test_store_credit_pays_the_whole_sale(self, staff, store):
        variant = stocked_variant(store, 1, price=Decimal("10.00"))
        customer = CustomerFactory()
        add_store_credit_entry(customer=customer, amount=Decimal("15.00"), reason="gift")
        body = {
            "store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_method": "store_credit",
        }
        refused = staff.post("/api/v1/staff/sales/", body, format="json")
        assert refused.status_code == 400 and "payment_method" in refused.json()["errors"]
        response = staff.post(
            "/api/v1/staff/sales/", {**body, "customer": customer.pk}, format="json"
        )
        assert response.status_code == 201, response.content
        from customers.services import store_credit_balance

        assert store_credit_balance(customer) == Decimal("5.00")

    def test_a_discount_code_is_spent_at_the_till_once(self, staff, store):
        from tests.customers.factories_discounts import discount_code

        variant = stocked_variant(store, 5, price=Decimal("20.00"))
        customer = CustomerFactory()
        code = discount_code(store, customer=customer)
        body = {
            "store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "customer": customer.pk,
            "payment_method": "card",
            "discount_code": code.code.lower(),
        }
        response = staff.post("/api/v1/staff/sales/", body, format="json")
        assert response.status_code == 201, response.content
        assert (response.json()["discount"], response.json()["total"]) == ("2.00", "18.00")
        again = staff.post("/api/v1/staff/sales/", body, format="json")
        assert again.status_code == 409 and again.json()["code"] == "discount_code_invalid"
        assert on_hand(variant, store) == 4
        assert_ledger_consistent()
        bad = staff.post(
            "/api/v1/staff/sales/", {**body, "discount_code": "x" * 5000}, format="json"
        )
        assert bad.status_code == 400

    def test_other_stores_and_bad_input_are_refused(self, staff, store, other_store):
        variant = stocked_variant(other_store, 3)
        body = {
            "store": other_store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_method": "cash",
        }
        assert staff.post("/api/v1/staff/sales/", body, format="json").status_code == 403
        for bad in (
            {**body, "store": store.code, "lines": []},
            {**body, "store": store.code, "lines": [{"sku": "NOPE", "quantity": 1}]},
            {**body, "store": store.code, "lines": [{"sku": variant.sku, "quantity": 10**20}]},
            {**body, "store": store.code, "payment_method": "gold"},
            {**body, "store": "X" * 5000},
            {**body, "store": store.code, "customer": "abc"},
        ):
            assert staff.post("/api/v1/staff/sales/", bad, format="json").status_code == 400
        assert on_hand(variant, other_store) == 3


class TestDesk:
    def sell(self, client, store, lines, **extra):
        data = {"store": store.code, "payment_method": "card", "action": "sell", **extra}
        data["sku"] = [v.sku for v, _ in lines]
        data["quantity"] = [str(q) for _, q in lines]
        return client.post("/desk/till/", data)

    def test_scanning_adds_lines_and_selling_prints_the_receipt(self, store):
        variant = stocked_variant(store, 5, price=Decimal("21.90"))
        client = desk(staff_user(store))
        assert client.get("/desk/till/").status_code == 200
        page = client.post(
            "/desk/till/", {"store": store.code, "scan": variant.ean, "action": "add"}
        )
        assert f'value="{variant.sku}"' in page.content.decode()
        page = client.post(
            "/desk/till/",
            {
                "store": store.code,
                "scan": variant.ean,
                "sku": [variant.sku],
                "quantity": ["1"],
                "action": "add",
            },
        )
        assert 'name="quantity" value="2"' in page.content.decode()
        customer = CustomerFactory(phone="+4930555111")
        with committed():
            response = self.sell(client, store, [(variant, 2)], customer="030 555111")
        assert response.status_code == 302, response.content.decode()
        order = Order.objects.get(fulfilment=Fulfilment.COUNTER)
        assert response["Location"] == f"/desk/till/receipt/{order.number}/"
        assert order.customer == customer and on_hand(variant, store) == 3
        assert_ledger_consistent()
        receipt = client.get(response["Location"]).content.decode()
        assert "<svg" in receipt and "<?xml" not in receipt and order.number in receipt
        assert "@page" in receipt and "80mm" in receipt
        assert len(mail.outbox) == 1

    def test_the_customer_card_qr_names_the_customer(self, store):
        variant = stocked_variant(store, 1)
        customer = CustomerFactory()
        client = desk(staff_user(store))
        with committed():
            self.sell(client, store, [(variant, 1)], customer=f"OMNIS-CUSTOMER:{customer.pk}")
        assert Order.objects.get(fulfilment=Fulfilment.COUNTER).customer == customer

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("scan", "4000000000000"),
            ("scan", "letters"),
            ("scan", "9" * 20),
            ("scan", "x" * 5000),
            ("customer", "letters"),
            ("customer", "9" * 20),
            ("customer", "x" * 5000),
            ("customer", "OMNIS-CUSTOMER:99999999999999999999"),
            ("customer", "nobody@example.com"),
            ("payment_method", ""),
            ("payment_method", "x" * 5000),
            ("store", "x" * 5000),
            ("quantity", "9" * 20),
            ("quantity", "letters"),
        ],
    )
    def test_bad_input_shows_a_message_next_to_the_field(self, store, field, value):
        variant = stocked_variant(store, 3)
        client = desk(staff_user(store))
        data = {
            "store": store.code,
            "payment_method": "cash",
            "action": "sell",
            "sku": [variant.sku],
            "quantity": ["1"],
            field: value,
        }
        response = client.post("/desk/till/", data)
        assert response.status_code == 200
        error_id = "lines" if field == "quantity" else field
        assert f'id="error-{error_id}"' in response.content.decode()
        assert not Order.objects.filter(fulfilment=Fulfilment.COUNTER).exists()
        assert on_hand(variant, store) == 3

    def test_an_empty_sale_and_a_short_shelf_are_said_next_to_the_lines(self, store):
        variant = stocked_variant(store, 1)
        client = desk(staff_user(store))
        response = client.post(
            "/desk/till/", {"store": store.code, "payment_method": "cash", "action": "sell"}
        )
        assert 'id="error-lines"' in response.content.decode()
        response = self.sell(client, store, [(variant, 2)])
        assert response.status_code == 200 and 'id="error-lines"' in response.content.decode()

    def test_receipt_of_another_store_is_not_shown(self, store, other_store):
        variant = stocked_variant(other_store, 1)
        with committed():
            self.sell(desk(staff_user(other_store)), other_store, [(variant, 1)])
        order = Order.objects.get(fulfilment=Fulfilment.COUNTER)
        response = desk(staff_user(store)).get(f"/desk/till/receipt/{order.number}/")
        assert response.status_code == 404


def test_a_till_sale_is_returned_at_another_store_by_scanning_the_receipt(store, other_store):
    variant = stocked_variant(store, 2, price=Decimal("30.00"))
    with committed():
        TestDesk().sell(desk(staff_user(store)), store, [(variant, 1)], payment_method="cash")
    order = Order.objects.get(fulfilment=Fulfilment.COUNTER)
    counter = desk(staff_user(other_store, role="manager"))
    # The scanner types what the barcode holds.
    found = counter.get("/desk/returns/", {"q": order.number})
    assert found.status_code == 302 and found["Location"] == f"/desk/returns/order/{order.number}/"
    line = order.lines.get()
    with committed():
        counter.post(
            f"/desk/returns/order/{order.number}/return/",
            {
                "store": other_store.code,
                "line": [str(line.pk)],
                f"quantity_{line.pk}": "1",
                f"reason_{line.pk}": "too_small",
                f"condition_{line.pk}": "resellable",
                "refund_method": "original",
                "confirmed": "1",
            },
        )
    line.refresh_from_db()
    assert line.returned == 1
    assert on_hand(variant, other_store) == 1
    assert_ledger_consistent()
