"""Journey 6 at the counter: reserve a list item here, or order it to this store (from the
warehouse when the shelf is empty), straight from the customer's shared list; adding an item
that is on the list already asks before its note is replaced."""

import pytest
from django.test import Client

from common.actor import Actor
from common.models import Channel
from customers.models import WishlistItem
from customers.services import add_to_wishlist
from inventory.models import StockItem
from orders.models import Order, Reservation
from orders.models.orders import PaymentStatus
from tests.factories import CustomerFactory, VariantFactory, WarehouseFactory, staff_user
from tests.inventory.factories_stock import stocked

pytestmark = pytest.mark.django_db


@pytest.fixture
def sabine(store):
    customer = CustomerFactory(phone="+49301234567", first_name="Sabine", email="s@example.de")
    table = VariantFactory(sku="MOE-TABLE-OAK")
    stocked(table, store, 2)
    add_to_wishlist(
        actor=Actor(channel=Channel.WEB), customer=customer, variant=table, note="for the hall"
    )
    return customer


@pytest.fixture
def salesperson(store):
    client = Client()
    client.force_login(staff_user(store, first_name="Jan", last_name="Lehmann"))
    return client


def item_url(customer, sku: str, action: str) -> str:
    return f"/desk/lists/{customer.pk}/items/{sku}/{action}/"


def test_the_list_offers_reserve_and_order_per_item(salesperson, sabine):
    html = salesperson.get("/desk/lists/", {"q": "030 1234567"}).content.decode()
    assert item_url(sabine, "MOE-TABLE-OAK", "reserve") in html
    assert item_url(sabine, "MOE-TABLE-OAK", "order") in html


def test_reserve_a_list_item_here(salesperson, sabine, store):
    response = salesperson.post(
        item_url(sabine, "MOE-TABLE-OAK", "reserve"), {"quantity": "2", "q": "030 1234567"}
    )
    assert response.status_code == 302
    reservation = Reservation.objects.get()
    assert (reservation.customer, reservation.store, reservation.channel) == (
        sabine,
        store,
        Channel.STORE,
    )
    assert list(reservation.lines.values_list("quantity", flat=True)) == [2]
    assert StockItem.objects.get(store=store).reserved == 2


def test_reserving_more_than_the_shelf_has_says_so_next_to_the_item(salesperson, sabine):
    response = salesperson.post(item_url(sabine, "MOE-TABLE-OAK", "reserve"), {"quantity": "3"})
    assert response.status_code == 400
    assert set(response.context["errors"]) == {"sku", "reserve"}
    assert response.context["errors"]["sku"] == "MOE-TABLE-OAK"
    assert "2 available at" in response.context["errors"]["reserve"]
    assert not Reservation.objects.exists()


@pytest.mark.parametrize("quantity", ["", "abc", "0", "12345678901234567890", "-1"])
def test_a_bad_quantity_is_refused_next_to_the_item(salesperson, sabine, quantity):
    for action in ("reserve", "order"):
        response = salesperson.post(
            item_url(sabine, "MOE-TABLE-OAK", action), {"quantity": quantity, "confirmed": "1"}
        )
        assert response.status_code == 400
        assert "A whole number from 1 to 9999." in response.content.decode()
    assert not Reservation.objects.exists() and not Order.objects.exists()


def test_order_asks_first_then_orders_from_the_shelf(salesperson, sabine, store):
    url = item_url(sabine, "MOE-TABLE-OAK", "order")
    asked = salesperson.post(url, {"quantity": "1"})
    assert asked.status_code == 200 and "Yes, order" in asked.content.decode()
    assert not Order.objects.exists()
    response = salesperson.post(url, {"quantity": "1", "confirmed": "1"}, follow=True)
    order = Order.objects.get()
    assert (order.customer, order.pickup_store, order.payment_status) == (
        sabine,
        store,
        PaymentStatus.PAY_AT_PICKUP,
    )
    assert order.transfer_id is None
    assert "from the shelf here" in response.content.decode()


def test_an_item_not_on_the_shelf_is_ordered_from_the_warehouse(salesperson, sabine, store):
    lamp = VariantFactory(sku="MOE-LAMP")
    stocked(lamp, WarehouseFactory(code="WHS-01"), 5)
    add_to_wishlist(actor=Actor(channel=Channel.WEB), customer=sabine, variant=lamp)
    html = salesperson.get("/desk/lists/", {"q": "030 1234567"}).content.decode()
    assert item_url(sabine, "MOE-LAMP", "order") in html
    assert item_url(sabine, "MOE-LAMP", "reserve") not in html  # nothing here to hold

    response = salesperson.post(
        item_url(sabine, "MOE-LAMP", "order"), {"quantity": "1", "confirmed": "1"}, follow=True
    )
    order = Order.objects.get()
    assert order.pickup_store == store and order.transfer_id is not None
    assert "the warehouse sends it here" in response.content.decode()


def test_an_item_of_another_list_is_a_404(salesperson, sabine):
    other = CustomerFactory()
    assert salesperson.post(item_url(other, "MOE-TABLE-OAK", "reserve")).status_code == 404


def test_a_new_note_for_an_item_on_the_list_asks_before_replacing(salesperson, sabine):
    url = f"/desk/lists/{sabine.pk}/add/"
    data = {"product": "MOE-TABLE-OAK", "note": "for the dining room", "q": "030 1234567"}
    asked = salesperson.post(url, data)
    page = asked.content.decode()
    assert asked.status_code == 200 and "Replace its note?" in page
    assert "Now: for the hall" in page and "New: for the dining room" in page
    assert WishlistItem.objects.get().note == "for the hall"

    salesperson.post(url, data | {"confirmed": "1"})
    assert WishlistItem.objects.get().note == "for the dining room"


def test_the_same_item_without_a_new_note_changes_nothing(salesperson, sabine):
    response = salesperson.post(
        f"/desk/lists/{sabine.pk}/add/", {"product": "MOE-TABLE-OAK", "note": ""}, follow=True
    )
    assert "nothing changed" in response.content.decode()
    assert WishlistItem.objects.get().note == "for the hall"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"product": ""}, "product", "Scan or type a SKU or barcode."),
        ({"product": "x" * 5000}, "product", "This is not a SKU or barcode."),
        ({"product": "MOE-TABLE-OAK", "note": "x" * 501}, "note", "At most 500 characters."),
    ],
)
def test_bad_input_when_adding_is_next_to_the_field(salesperson, sabine, data, field, message):
    response = salesperson.post(f"/desk/lists/{sabine.pk}/add/", data)
    assert response.status_code == 400
    assert response.context["errors"][field] == message
    assert message in response.content.decode()
    assert WishlistItem.objects.get().note == "for the hall"
