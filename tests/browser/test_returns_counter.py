"""The returns counter in a real browser: scan the receipt, see the note, tick, refund (a store
manager may refund; store staff only receive, tests/orders/test_returns_desk.py)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from common.actor import Actor
from common.models import Channel
from customers.services import add_service_note
from inventory.models import StockItem
from orders.models import Return, ReturnStatus
from stores.models import StaffRole
from tests.browser.desk import signed_in, success_message
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, staff_user
from tests.orders.factories_returns import bought

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_counter_return_walk_through(live_server, page):
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
    signed_in(page, live_server.url, staff_user(hamburg, role=StaffRole.MANAGER))

    page.goto(f"{live_server.url}/desk/returns/")
    page.fill("#q", f"ORDER:{order.number}")
    page.locator("#find-order [type=submit]").click()
    expect(page.locator("#service-notes")).to_contain_text(
        "Zipper broke; agreed full refund to card"
    )

    page.locator("#return-form input[name=line]").check()
    page.locator("select[name^=reason_]").select_option("defective")
    page.locator("#submit-return").click()
    # Refunding cannot be undone: the desk asks first, naming the amount.
    expect(page.locator("#confirm")).to_contain_text("129")
    page.locator("#confirm form button").click()
    message = success_message(page)

    r = Return.objects.get()
    assert r.status == ReturnStatus.REFUNDED and r.store == hamburg
    assert r.lines.get().reason == "defective"
    assert StockItem.objects.get(store=hamburg, variant=jacket).on_hand == 1
    assert f"Rückgabe {r.number} in HAM-01 angenommen. Erstattet: 129,00 €" in message
