"""The returns counter page (session login, plain forms)."""

from decimal import Decimal

import pytest
from django.test import Client

from common.actor import Actor
from common.models import Channel
from customers.services import add_service_note
from inventory.models import StockItem
from orders.models import Refund, Return, ReturnStatus
from orders.services.returns import ReturnLineRequest, create_return
from stores.models import StaffRole
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, staff_user
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db


@pytest.fixture
def counter(other_store):
    """A staff member logged in at the Hamburg counter."""
    client = Client()
    client.force_login(staff_user(other_store))
    return client


@pytest.fixture
def counter_manager(other_store):
    """The Hamburg store's manager at the counter: may refund."""
    client = Client()
    client.force_login(staff_user(other_store, role=StaffRole.MANAGER))
    return client


@pytest.fixture
def web_order(store):
    customer = CustomerFactory(first_name="Lena", last_name="Wolf", phone="+4930987654")
    add_service_note(
        actor=Actor(channel=Channel.WEB),
        customer=customer,
        text="Complicated return: agreed full refund",
    )
    return bought(
        customer=customer,
        store=store,
        channel=Channel.WEB,
        lines=[(VariantFactory(price=Decimal("50.00")), 2, "50.00")],
    )


class TestFindTheOrder:
    def test_by_number_or_scanned_barcode_opens_the_order(self, counter, web_order):
        for typed in (web_order.number, web_order.number.lower(), f"ORDER:{web_order.number}"):
            response = counter.get("/desk/returns/", {"q": typed})
            assert response.status_code == 302
            assert response.url == f"/desk/returns/order/{web_order.number}/"

    def test_by_phone_in_any_format_or_e_mail(self, counter, web_order):
        bought(customer=web_order.customer)  # a second order: the list is shown
        for typed in ("030 987654", "+49 30 987654", web_order.customer.email.upper()):
            response = counter.get("/desk/returns/", {"q": typed})
            assert response.status_code == 200
            assert web_order.number in response.content.decode()

    def test_nothing_found(self, counter, db):
        response = counter.get("/desk/returns/", {"q": "W-999999"})
        assert "No order matches" in response.content.decode()

    def test_customers_and_anonymous_are_sent_to_the_login(self, client, customer_api):
        assert client.get("/desk/returns/").status_code == 302
        client.force_login(customer_api.user)
        assert client.get("/desk/returns/").status_code == 302


class TestReturnAtTheCounter:
    def test_the_page_shows_lines_returnable_and_the_service_note(self, counter, web_order):
        response = counter.get(f"/desk/returns/order/{web_order.number}/")

        page = response.content.decode()
        assert response.status_code == 200
        assert "Complicated return: agreed full refund" in page
        assert 'class="returnable">2<' in page
        assert "HAM-01" in page

    def test_one_submit_receives_restocks_and_refunds(
        self, counter_manager, web_order, other_store
    ):
        counter = counter_manager
        line = web_order.lines.get()
        form = {
            "store": "HAM-01",
            "line": [line.pk],
            f"quantity_{line.pk}": "1",
            f"reason_{line.pk}": "defective",
            f"condition_{line.pk}": "resellable",
            "refund_method": "original",
        }
        asked = counter.post(f"/desk/returns/order/{web_order.number}/return/", form)
        assert 'name="confirmed" value="1"' in asked.content.decode()
        assert f'name="quantity_{line.pk}" value="1"' in asked.content.decode()
        assert not Return.objects.exists(), "a refund asks first"

        response = counter.post(
            f"/desk/returns/order/{web_order.number}/return/",
            {**form, "confirmed": "1"},
            follow=True,
        )

        r = Return.objects.get()
        assert r.status == ReturnStatus.REFUNDED and r.store == other_store
        assert StockItem.objects.get(store=other_store, variant=line.variant).on_hand == 1
        page = response.content.decode()
        assert f"Return {r.number} received at HAM-01. Refunded €50.00" in page
        assert 'class="returnable">1<' in page

    def test_store_staff_receive_and_leave_the_refund_to_a_manager(
        self, counter, web_order, other_store
    ):
        line = web_order.lines.get()
        response = counter.post(
            f"/desk/returns/order/{web_order.number}/return/",
            {
                "store": "HAM-01",
                "line": [line.pk],
                f"quantity_{line.pk}": "1",
                f"reason_{line.pk}": "defective",
                f"condition_{line.pk}": "resellable",
                "refund_method": "original",
            },
            follow=True,
        )
        r = Return.objects.get()
        assert r.status == ReturnStatus.RECEIVED
        assert not Refund.objects.exists()
        assert "A manager refunds it" in response.content.decode()
        assert (
            counter.post(f"/desk/returns/{r.pk}/refund/", {"refund_method": "original"}).status_code
            == 403
        )

    def test_too_many_is_refused_and_nothing_is_written(self, counter, web_order):
        line = web_order.lines.get()

        response = counter.post(
            f"/desk/returns/order/{web_order.number}/return/",
            {
                "store": "HAM-01",
                "line": [line.pk],
                f"quantity_{line.pk}": "3",
                f"reason_{line.pk}": "defective",
                f"condition_{line.pk}": "resellable",
                "refund_method": "original",
            },
            follow=True,
        )

        assert "At most 2" in response.content.decode()
        assert not Return.objects.exists() and not Refund.objects.exists()

    def test_only_my_stores_can_receive(self, counter, web_order):
        line = web_order.lines.get()

        counter.post(
            f"/desk/returns/order/{web_order.number}/return/",
            {"store": "BER-01", "line": [line.pk], "refund_method": "original"},
        )

        assert not Return.objects.exists()

    def test_an_announced_return_is_received_and_refunded(
        self, counter_manager, web_order, other_store
    ):
        counter = counter_manager
        line = web_order.lines.get()
        r = create_return(
            actor=Actor(channel=Channel.WEB),
            order=web_order,
            store=other_store,
            lines=[ReturnLineRequest(order_line=line.pk, quantity=2, reason="too_small")],
        )
        assert r.number in counter.get("/desk/returns/").content.decode()

        counter.post(f"/desk/returns/{r.pk}/receive/", {f"condition_{r.lines.get().pk}": "damaged"})
        asked = counter.post(f"/desk/returns/{r.pk}/refund/", {"refund_method": "store_credit"})
        assert 'name="confirmed" value="1"' in asked.content.decode()
        r.refresh_from_db()
        assert r.status == ReturnStatus.RECEIVED, "a refund asks first"
        response = counter.post(
            f"/desk/returns/{r.pk}/refund/",
            {"refund_method": "store_credit", "confirmed": "1"},
            follow=True,
        )

        r.refresh_from_db()
        assert r.status == ReturnStatus.REFUNDED
        assert "€100.00 as store credit" in response.content.decode()

    def test_another_stores_return_is_not_shown(self, counter, web_order):
        line = web_order.lines.get()
        elsewhere = StoreFactory(code="MUC-01")
        r = create_return(
            actor=Actor(channel=Channel.WEB),
            order=web_order,
            store=elsewhere,
            lines=[ReturnLineRequest(order_line=line.pk, quantity=1, reason="too_small")],
        )

        response = counter.get(f"/desk/returns/{r.pk}/")

        assert response.status_code == 302
        assert counter.post(f"/desk/returns/{r.pk}/refund/", {"refund_method": "original"})
        r.refresh_from_db()
        assert r.status == ReturnStatus.REQUESTED
