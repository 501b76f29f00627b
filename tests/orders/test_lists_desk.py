"""Journey 6: the shared list, opened by a salesperson in the store."""

import pytest
from django.test import Client

from common.actor import Actor
from common.auth import issue_user_token
from common.models import Channel
from customers.models import WishlistItem
from customers.services import add_to_wishlist
from tests.conftest import token_client
from tests.factories import CustomerFactory, UserFactory, VariantFactory, staff_user
from tests.inventory.factories_stock import stocked

pytestmark = pytest.mark.django_db


@pytest.fixture
def sabine(store):
    user = UserFactory()
    customer = CustomerFactory(user=user, phone="+49301234567", first_name="Sabine")
    table = VariantFactory(sku="MOE-TABLE-OAK")
    stocked(table, store, 2)
    add_to_wishlist(actor=Actor(channel=Channel.WEB), customer=customer, variant=table)
    return customer


@pytest.fixture
def salesperson(store):
    user = staff_user(store, first_name="Jan", last_name="Lehmann")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def test_salesperson_opens_the_list_and_adds_with_name_and_note(salesperson, sabine, store):
    page = salesperson.get("/desk/lists/", {"q": "030 1234567"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "MOE-TABLE-OAK" in html and "2 available" in html

    chair = VariantFactory(sku="MOE-CHAIR-OAK")
    response = salesperson.post(
        f"/desk/lists/{sabine.pk}/add/",
        {"product": chair.ean, "note": "Matches the oak table", "q": "030 1234567"},
    )
    assert response.status_code == 302
    item = WishlistItem.objects.get(customer=sabine, variant=chair)
    assert (item.note, item.added_by_user, item.store) == (
        "Matches the oak table",
        salesperson.user,
        store,
    )

    # At home, the customer sees the same list with the salesperson's addition.
    at_home = token_client(issue_user_token(sabine.user)).get("/api/v1/me/wishlist/").json()
    assert [i["sku"] for i in at_home] == ["MOE-CHAIR-OAK", "MOE-TABLE-OAK"]
    assert at_home[0]["added_by"] == "Jan Lehmann"
    assert at_home[0]["note"] == "Matches the oak table"


def test_unknown_product_adds_nothing(salesperson, sabine):
    response = salesperson.post(f"/desk/lists/{sabine.pk}/add/", {"product": "NOPE-1"}, follow=True)
    assert "No product with SKU or barcode" in response.content.decode()
    assert WishlistItem.objects.filter(customer=sabine).count() == 1


def test_unknown_customer_is_said_so(salesperson):
    page = salesperson.get("/desk/lists/", {"q": "030 9999999"})
    assert "No customer with this phone number" in page.content.decode()


def test_the_page_is_for_staff_only(sabine):
    client = Client()
    client.force_login(UserFactory())
    response = client.get("/desk/lists/", {"q": "030 1234567"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
