"""The returns counter in a real browser: scan the receipt, see the note, tick, refund (a store
manager may refund; store staff only receive, tests/orders/test_returns_desk.py)."""

from decimal import Decimal

import pytest
from django.test import Client

from common.actor import Actor
from common.models import Channel
from customers.services import add_service_note
from inventory.models import StockItem
from orders.models import Return, ReturnStatus
from stores.models import StaffRole
from tests.browser import Browser
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, staff_user
from tests.orders.factories_returns import bought

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_counter_return_walk_through(live_server, tmp_path):
    berlin = StoreFactory(code="BER-01", name="Berlin Mitte")
    hamburg = StoreFactory(code="HAM-01", name="Hamburg")
    customer = CustomerFactory(first_name="Lena", last_name="Wolf")
    add_service_note(
        actor=Actor(channel=Channel.WEB),
        customer=customer,
        text="Zipper broke; agreed full refund to card",
    )
    jacket = VariantFactory(price=Decimal("129.00"))
    order = bought(
        customer=customer, store=berlin, channel=Channel.WEB, lines=[(jacket, 1, "129.00")]
    )
    login = Client()
    login.force_login(staff_user(hamburg, role=StaffRole.MANAGER))
    session = login.cookies["sessionid"].value

    with Browser() as b:
        b.set_cookie("sessionid", session, live_server.url)
        b.goto(f"{live_server.url}/desk/returns/")
        b.wait_for("document.querySelector('#find-order')")
        b.eval(f"document.querySelector('#q').value = 'ORDER:{order.number}'")
        b.eval("document.querySelector('#find-order').requestSubmit()")
        b.wait_for("document.querySelector('#return-form')")
        assert "Zipper broke; agreed full refund to card" in b.text()

        b.eval("document.querySelector('#return-form input[name=line]').checked = true")
        b.eval("document.querySelector(\"select[name^=reason_]\").value = 'defective'")
        b.eval("document.querySelector('#return-form').requestSubmit()")
        # Refunding cannot be undone: the desk asks first.
        b.wait_for("document.querySelector('#confirm form')")
        assert "129" in b.text()
        b.eval("document.querySelector('#confirm form').requestSubmit()")
        b.wait_for("document.querySelector('.messages .success')")
        message = b.eval("document.querySelector('.messages .success').innerText")
        b.screenshot(tmp_path / "returns-counter.png")

    r = Return.objects.get()
    assert r.status == ReturnStatus.REFUNDED and r.store == hamburg
    assert r.lines.get().reason == "defective"
    assert StockItem.objects.get(store=hamburg, variant=jacket).on_hand == 1
    assert f"Return {r.number} received at HAM-01. Refunded €129.00" in message
