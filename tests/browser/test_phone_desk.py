"""The phone desk in a real browser: look up "030 1234567", see Anna, reserve, see the deadline."""

import pytest
from playwright.sync_api import expect

from common.actor import Actor
from common.models import Channel
from customers.services import add_service_note
from orders.models import Reservation
from stores.models import StaffRole
from tests.browser.desk import signed_in, success_message
from tests.factories import CustomerFactory, StoreFactory, staff_user
from tests.orders.factories_reservations import variant_in_stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_phone_desk_walk_through(live_server, page):
    store = StoreFactory(code="BER-01", name="Berlin Mitte")
    anna = CustomerFactory(
        first_name="Anna",
        last_name="Becker",
        phone="+49301234567",
        email="anna@example.de",
        preferred_store=store,
        sizes={"jackets": "M"},
    )
    add_service_note(
        actor=Actor(channel=Channel.WEB), customer=anna, text="Saw the poster offer on the web"
    )
    variant = variant_in_stock(store, 3, product__name="Regenjacke Nordkap")
    signed_in(page, live_server.url, staff_user(store, role=StaffRole.SERVICE_AGENT))

    page.goto(f"{live_server.url}/desk/phone/")
    page.fill("#phone", "030 1234567")
    page.locator("#lookup [type=submit]").click()
    expect(page.locator("#customer")).to_contain_text("Anna Becker")
    expect(page.locator("#customer")).to_contain_text("Saw the poster offer on the web")

    page.fill("#q", "nordkap")
    page.locator("#search [type=submit]").click()
    form = page.locator("form.reserve")
    expect(page.locator(f"#result-{variant.sku}")).to_contain_text("BER-01")
    form.locator("input[name=quantity]").fill("2")
    form.locator("[type=submit]").click()
    message = success_message(page)

    reservation = Reservation.objects.get()
    assert reservation.customer == anna
    assert list(reservation.lines.values_list("variant", "quantity")) == [(variant.pk, 2)]
    assert f"Reservierung {reservation.pk}" in message
    assert "in BER-01 Berlin Mitte für Anna Becker zurückgelegt bis" in message
