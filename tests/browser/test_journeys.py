"""A newcomer's walk on the demo retailer (`manage.py seed_demo`), in a real browser: log in as the
Berlin staff member (Jan Lehmann, who also covers the trade centre) and carry journeys 1, 2 (with
its warehouse transfer), 3, 6 and 7 through the desk alone — no admin, no API.

One test, one seeded demo: the journeys follow each other as a day at the desk does, and each step
says which journey it is in when it fails. The browser asks for German, as the retailer's staff do:
the messages checked are the German ones.
"""

import re

import pytest
from django.core.management import call_command
from django.db.models import F
from playwright.sync_api import Page, expect

from customers.models import Customer, TimelineKind, WishlistItem
from inventory.demo import JOURNEY_SKUS
from inventory.models import StockItem, Variant
from orders.demo import KEEP_CLEAR
from orders.models import (
    Order,
    OrderStatus,
    RefundMethod,
    Reservation,
    ReservationStatus,
    Return,
    ReturnStatus,
)
from orders.services.orders import PICKUP_QR_PREFIX
from tests.browser.desk import log_in, success_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LUKAS_PHONE = "0170 1234567"
THOMAS = "thomas.becker@example.de"
JULIA_PHONE = "0151 12345678"
SABINE = "sabine.hoffmann@example.de"
ANNA = "anna.schmidt@example.de"


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", products=20, customers=10, verbosity=0)


def on_hand(sku: str, store: str) -> int:
    item = StockItem.objects.filter(variant__sku=sku, store__code=store).first()
    return item.on_hand if item else 0


def test_the_berlin_staff_member_walks_the_journeys_on_the_demo(demo, live_server, page):
    url = live_server.url
    log_in(page, url, "berlin")
    morning_board(page, url)
    journey_1_phone_reservation_then_sale(page, url)
    journey_2_drill_handed_over_at_the_trade_centre(page, url)
    journey_2_drill_set_through_a_warehouse_transfer(page, url)
    journey_3_note_then_return_at_the_counter(page, url)
    journey_6_shared_list(page, url)
    journey_7_till_sale_returned_at_another_store(page, url)


def morning_board(page: Page, url: str) -> None:
    expect(page.locator("h1")).to_contain_text("Tagesübersicht")
    expect(page.locator("#board-counts")).to_be_visible()
    # Jan works in two stores: the board switches to the trade centre, where Thomas's drill waits.
    page.select_option("#store-switcher select", "CGN-01")
    ready = Order.objects.get(customer__email=THOMAS, status=OrderStatus.READY_FOR_PICKUP)
    expect(page.locator(f"#ready-{ready.number}")).to_be_visible()
    coming = Order.objects.get(customer__email=THOMAS, status=OrderStatus.PLACED)
    expect(page.locator(f"#transfer-{coming.transfer_id}")).to_be_visible()


def journey_1_phone_reservation_then_sale(page: Page, url: str) -> None:
    shirt = JOURNEY_SKUS["shirt_m"]
    assert on_hand(shirt, "HAM-01") == 0  # the caller's own store has none
    page.goto(f"{url}/desk/phone/")
    page.fill("#phone", LUKAS_PHONE)
    page.locator("#lookup [type=submit]").click()
    expect(page.locator("#customer")).to_contain_text("Lukas Wagner")
    expect(page.locator("#customer")).to_contain_text("HAM-01")

    page.fill("#q", shirt)
    page.locator("#search [type=submit]").click()
    form = page.locator(f"#result-{shirt} form.reserve")
    form.locator("select[name=store]").select_option("BER-01")
    form.locator("[type=submit]").click()
    message = success_message(page)

    reservation = Reservation.objects.get(customer__phone="+491701234567")
    assert reservation.store.code == "BER-01" and reservation.status == ReservationStatus.ACTIVE
    assert f"{reservation.pk}" in message and "BER-01" in message

    # Friday: Lukas walks in; the store's list has his hold, and it is sold.
    page.goto(f"{url}/desk/reservations/")
    page.locator(f"#reservation-{reservation.pk} form[action$='/collect/'] button").click()
    page.locator("#confirm form button").click()
    assert f"Reservierung {reservation.pk} abgeholt" in success_message(page)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.COLLECTED and reservation.order_id


def journey_2_drill_handed_over_at_the_trade_centre(page: Page, url: str) -> None:
    order = Order.objects.get(customer__email=THOMAS, status=OrderStatus.READY_FOR_PICKUP)
    # The customer reads the code out: the search box in the header finds the order.
    page.locator("header form.search input[name=q]").fill(order.pickup_code)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/desk/pickups/"))
    expect(page.locator(f"#order-{order.number}")).to_have_class(re.compile("highlight"))

    # Then the counter scans the QR code of the ready message.
    page.fill("#scan-code", f"{PICKUP_QR_PREFIX}{order.number}:{order.pickup_code}")
    page.locator("#scan button").click()
    expect(page.locator("#hand-over")).to_contain_text("Thomas Becker")
    expect(page.locator("#hand-over form button")).to_have_text("Jetzt übergeben")
    page.locator("#hand-over form button").click()
    assert f"{order.number} übergeben" in success_message(page)
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED


def journey_2_drill_set_through_a_warehouse_transfer(page: Page, url: str) -> None:
    order = Order.objects.get(customer__email=THOMAS, status=OrderStatus.PLACED)
    page.goto(f"{url}/desk/transfers/")
    page.locator(f"#transfer-{order.transfer_id} button").click()
    message = success_message(page)
    assert f"Umlagerung {order.transfer_id} angenommen" in message and order.number in message

    page.goto(f"{url}/desk/pickups/?store=CGN-01")
    page.locator(f"#order-{order.number} form[action$='/ready/'] button").click()
    success_message(page)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP

    row = page.locator(f"#order-{order.number}")
    row.locator("input[name=pickup_code]").fill(order.pickup_code)
    row.locator("form[action$='/hand-over/'] button").click()
    assert order.number in success_message(page)
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED


def journey_3_note_then_return_at_the_counter(page: Page, url: str) -> None:
    julia = Customer.objects.get(email="julia.neumann@example.de")
    webshop_order = Order.objects.get(customer=julia, status=OrderStatus.DELIVERED)
    sku = webshop_order.lines.get().sku
    before = on_hand(sku, "BER-01")
    note = "Rückgabe per Chat besprochen: Jacke kommt heute in die Filiale."

    page.locator("header form.search input[name=q]").fill(JULIA_PHONE)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/desk/customers/{julia.pk}/"))
    page.fill("#note-form textarea[name=text]", note)
    page.locator("#note-form button").click()
    assert "Notiz gespeichert" in success_message(page)
    expect(page.locator("#note-list")).to_contain_text(note)

    page.goto(f"{url}/desk/returns/")
    page.fill("#q", JULIA_PHONE)
    page.locator("#find-order [type=submit]").click()
    page.locator("#search-results a", has_text=webshop_order.number).click()
    expect(page.locator("#service-notes")).to_contain_text(note)

    page.locator("#return-form input[name=line]").check()
    page.select_option("#store", "BER-01")
    page.locator("#submit-return").click()
    page.locator("#confirm form button").click()
    assert "in BER-01 angenommen. Erstattet" in success_message(page)

    r = Return.objects.get(order=webshop_order)
    assert r.status == ReturnStatus.REFUNDED and r.store.code == "BER-01"
    assert r.refunds.get().method == RefundMethod.ORIGINAL
    assert on_hand(sku, "BER-01") == before + 1


def journey_6_shared_list(page: Page, url: str) -> None:
    sabine = Customer.objects.get(email=SABINE)
    online = set(WishlistItem.objects.filter(customer=sabine).values_list("pk", flat=True))
    on_her_list = WishlistItem.objects.filter(customer=sabine).values("variant")
    additions = list(
        Variant.objects.filter(sku__startswith="MOE-")
        .exclude(pk__in=on_her_list)
        .values_list("sku", flat=True)
        .order_by("sku")[:2]
    )
    assert len(additions) == 2, "the demo sells furniture"

    page.goto(f"{url}/desk/lists/")
    page.fill("#q", SABINE)
    page.locator("#find-list [type=submit]").click()
    expect(page.locator("#list-items tbody tr")).to_have_count(len(online))
    for sku in additions:
        page.fill("#product", sku)
        page.fill("#note", "Passt zum Eichentisch")
        page.locator("#add-item [type=submit]").click()
        assert "auf die Liste von Sabine Hoffmann" in success_message(page)
    expect(page.locator("#list-items tbody tr")).to_have_count(len(online) + 2)
    expect(page.locator("#list-items")).to_contain_text("Jan Lehmann")

    # At home she sees the same list, with the additions.
    added = WishlistItem.objects.filter(customer=sabine).exclude(pk__in=online)
    assert sorted(added.values_list("variant__sku", flat=True)) == additions
    assert {(i.note, i.added_by_user.username) for i in added} == {
        ("Passt zum Eichentisch", "berlin")
    }


def journey_7_till_sale_returned_at_another_store(page: Page, url: str) -> None:
    item = (
        StockItem.objects.filter(
            store__code="BER-01", on_hand__gte=F("reserved") + F("safety_stock") + 1
        )
        .exclude(variant__sku__in=KEEP_CLEAR)
        .select_related("variant")
        .order_by("variant__sku")
        .first()
    )
    sku, ean = item.variant.sku, item.variant.ean
    cologne_before = on_hand(sku, "CGN-01")

    page.goto(f"{url}/desk/till/")
    page.select_option("select[name=store]", "BER-01")
    page.fill("input[name=scan]", ean)
    page.locator("button[value=add]").click()
    expect(page.locator("input[type=hidden][name=sku]")).to_have_value(sku)
    page.fill("input[name=customer]", ANNA)
    page.locator("button[value=sell]").click()
    expect(page.locator("#receipt")).to_contain_text("Bon")
    code = page.locator("#receipt-barcode").get_attribute("data-code")
    sale = Order.objects.get(number=code)
    assert sale.fulfilment_store.code == "BER-01" and sale.customer.email == ANNA

    # Another day, another store: the receipt's barcode is scanned at the trade centre's counter.
    page.goto(f"{url}/desk/returns/")
    page.fill("#q", code)
    page.locator("#find-order [type=submit]").click()
    expect(page.locator("#order-summary")).to_be_visible()
    page.locator("#return-form input[name=line]").check()
    page.select_option("#store", "CGN-01")
    page.locator("#submit-return").click()
    page.locator("#confirm form button").click()
    assert "in CGN-01 angenommen. Erstattet" in success_message(page)

    r = Return.objects.get(order=sale)
    assert r.store.code == "CGN-01" and r.status == ReturnStatus.REFUNDED
    assert r.refunds.get().method == RefundMethod.ORIGINAL
    assert on_hand(sku, "CGN-01") == cologne_before + 1
    kinds = set(sale.customer.timeline.values_list("kind", flat=True))
    assert {
        TimelineKind.ORDER_PLACED,
        TimelineKind.RETURN_RECEIVED,
        TimelineKind.REFUND_ISSUED,
    } <= kinds
