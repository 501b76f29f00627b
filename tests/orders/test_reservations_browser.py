"""The phone desk in a real browser: look up "030 1234567", see Anna, reserve, see the deadline."""

import pytest
from django.test import Client

from common.actor import Actor
from common.models import Channel
from customers.services import add_service_note
from orders.models import Reservation
from stores.models import StaffRole
from tests.browser import Browser
from tests.factories import CustomerFactory, StoreFactory, staff_user
from tests.orders.factories_reservations import variant_in_stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_phone_desk_walk_through(live_server, tmp_path):
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
    agent = staff_user(store, role=StaffRole.SERVICE_AGENT)
    login = Client()
    login.force_login(agent)
    session = login.cookies["sessionid"].value

    with Browser() as b:
        b.set_cookie("sessionid", session, live_server.url)
        b.goto(f"{live_server.url}/desk/phone/")
        b.wait_for("document.querySelector('#lookup')")

        b.eval("document.querySelector('#phone').value = '030 1234567'")
        b.eval("document.querySelector('#lookup').requestSubmit()")
        b.wait_for("document.querySelector('#customer')")
        assert "Anna Becker" in b.text()
        assert "Saw the poster offer on the web" in b.text()

        b.eval("document.querySelector('#q').value = 'nordkap'")
        b.eval("document.querySelector('#search').requestSubmit()")
        b.wait_for("document.querySelector('form.reserve')")
        assert "BER-01" in b.text()

        b.eval("document.querySelector('form.reserve input[name=quantity]').value = '2'")
        b.eval("document.querySelector('form.reserve').requestSubmit()")
        b.wait_for("document.querySelector('.messages .success')")
        message = b.eval("document.querySelector('.messages .success').innerText")
        b.screenshot(tmp_path / "phone-desk.png")

    reservation = Reservation.objects.get()
    assert reservation.customer == anna
    assert list(reservation.lines.values_list("variant", "quantity")) == [(variant.pk, 2)]
    assert f"Reservation {reservation.pk}" in message
    assert "held at BER-01" in message and "until" in message
