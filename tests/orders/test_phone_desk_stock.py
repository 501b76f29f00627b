"""The phone desk shows stock in every store to every role, own store first, preselects a store
that has it, puts the caller's sizes on top, and answers bad input next to the field."""

import pytest

from customers.models import Customer
from orders.models import Reservation
from stores.models import StaffRole
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    StoreFactory,
    VariantFactory,
    staff_user,
)
from tests.inventory.factories_stock import stocked
from tests.orders.factories_reservations import variant_in_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def hamburg():
    return StoreFactory(
        code="HAM-01", name="Hamburg", latitude="53.551086", longitude="9.993682", postcode="20095"
    )


@pytest.fixture
def munich():
    return StoreFactory(
        code="MUC-01", name="München", latitude="48.137154", longitude="11.576124", postcode="80331"
    )


def login(client, store, role=StaffRole.STORE_STAFF):
    client.force_login(staff_user(store, role=role))
    return client


@pytest.fixture
def anna(store):
    return CustomerFactory(first_name="Anna", phone="+49301234567", sizes={"shirts": "M"})


def rows(response, index=0):
    return [
        (row["store"].code, row["available"])
        for row in response.context["results"][index]["stores"]
    ]


class TestStockEverywhere:
    def test_store_staff_see_every_store_own_first(self, client, store, hamburg, munich, anna):
        variant = variant_in_stock(store, 0)
        stocked(variant, hamburg, 12)
        stocked(variant, munich, 3)
        response = login(client, store).get("/desk/phone/", {"phone": anna.phone, "q": variant.sku})
        assert rows(response) == [("BER-01", 0), ("HAM-01", 12), ("MUC-01", 3)]
        page = response.content.decode()
        assert page.count('class="in-stock"') == 2

    def test_with_nothing_here_reserve_is_off_and_says_where_it_is(
        self, client, store, hamburg, anna
    ):
        variant = variant_in_stock(store, 0)
        stocked(variant, hamburg, 12)
        response = login(client, store).get("/desk/phone/", {"phone": anna.phone, "q": variant.sku})
        result = response.context["results"][0]
        assert result["preselected"] is None
        assert [row["store"].code for row in result["reservable"]] == ["BER-01"]
        page = response.content.decode()
        assert '<button type="submit" disabled>' in page
        assert "HAM-01 Hamburg has 12." in page

    def test_the_reserve_store_is_preselected_where_stock_is(self, client, store, hamburg, anna):
        anna.preferred_store = store
        anna.save()
        variant = variant_in_stock(store, 0)
        stocked(variant, hamburg, 12)
        agent = login(client, store, StaffRole.SERVICE_AGENT)
        response = agent.get("/desk/phone/", {"phone": anna.phone, "q": variant.sku})
        assert response.context["results"][0]["preselected"] == hamburg
        page = response.content.decode()
        assert '<option value="HAM-01" selected>' in page
        assert '<option value="BER-01" disabled>' in page

    def test_own_store_preselected_when_it_has_stock(self, client, store, hamburg, anna):
        variant = variant_in_stock(store, 2)
        stocked(variant, hamburg, 12)
        response = login(client, store).get("/desk/phone/", {"phone": anna.phone, "q": variant.sku})
        assert response.context["results"][0]["preselected"] == store

    def test_store_staff_still_cannot_reserve_in_another_store(self, client, store, hamburg, anna):
        variant = variant_in_stock(hamburg, 12)
        response = login(client, store).post(
            "/desk/phone/reserve/",
            {"customer": anna.pk, "phone": anna.phone, "q": variant.sku, "sku": variant.sku}
            | {"store": hamburg.code, "quantity": "1"},
        )
        assert response.status_code == 400
        assert "Choose a store you may reserve in." in response.content.decode()
        assert not Reservation.objects.exists()


class TestResults:
    def test_the_callers_size_comes_first_and_results_are_compact(self, client, store, anna):
        shirts = CategoryFactory(slug="shirts")
        product = ProductFactory(name="Oxford Hemd", category=shirts)
        for size in ("L", "M", "S"):
            stocked(VariantFactory(product=product, attributes={"size": size}), store, 2)
        response = login(client, store).get("/desk/phone/", {"phone": anna.phone, "q": "oxford"})
        results = response.context["results"]
        assert [r["variant"].attributes["size"] for r in results] == ["M", "L", "S"]
        assert results[0]["variant"].in_callers_size
        page = response.content.decode()
        assert page.count("<details") == 3 and page.count('<details class="result" id') == 3
        assert page.count(" open>") == 1  # only the best match is unfolded

    def test_without_a_caller_the_order_is_by_name(self, client, store):
        product = ProductFactory(name="Oxford Hemd")
        for size in ("L", "M"):
            stocked(VariantFactory(product=product, attributes={"size": size}), store, 2)
        response = login(client, store).get("/desk/phone/", {"q": "oxford"})
        assert [r["variant"].in_callers_size for r in response.context["results"]] == [
            False,
            False,
        ]


class TestBadInput:
    def post(self, client, store, **data):
        variant = variant_in_stock(store)
        base = {"phone": "0170 5555555", "q": variant.sku, "sku": variant.sku}
        base |= {"store": store.code, "quantity": "1", "first_name": "Jonas"}
        return login(client, store).post("/desk/phone/reserve/", base | data)

    def test_a_20_digit_quantity_is_a_message_next_to_the_field(self, client, store):
        response = self.post(client, store, quantity="12345678901234567890")
        assert response.status_code == 400
        assert "A whole number from 1 to 9999." in response.content.decode()
        assert response.context["posted"]["errors"].keys() == {"quantity"}
        assert not Reservation.objects.exists()

    def test_a_first_name_over_100_characters_is_refused(self, client, store):
        response = self.post(client, store, first_name="x" * 101)
        assert response.status_code == 400
        assert response.context["posted"]["errors"] == {"first_name": "At most 100 characters."}
        assert not Customer.objects.exists()

    def test_a_new_caller_needs_a_name(self, client, store):
        response = self.post(client, store, first_name="  ")
        assert response.status_code == 400
        assert "A new customer needs a first name." in response.content.decode()
        assert not Customer.objects.exists() and not Reservation.objects.exists()

    def test_the_form_keeps_what_was_typed(self, client, store):
        response = self.post(client, store, quantity="abc", last_name="Weber")
        page = response.content.decode()
        assert 'value="Weber"' in page and 'value="Jonas"' in page

    def test_a_valid_new_caller_is_saved_with_the_name(self, client, store):
        response = self.post(client, store, last_name="Weber")
        assert response.status_code == 302
        customer = Customer.objects.get(phone="+491705555555")
        assert (customer.first_name, customer.last_name) == ("Jonas", "Weber")


def test_the_phone_desk_answers_in_german(client, store, german):
    variant = variant_in_stock(store)
    client.force_login(staff_user(store))
    response = client.post(
        "/desk/phone/reserve/",
        {"phone": "0170 5555555", "q": variant.sku, "sku": variant.sku, "store": store.code}
        | {"quantity": "12345678901234567890", "first_name": ""},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Eine ganze Zahl von 1 bis 9999." in page
    assert "Ein neuer Kunde braucht einen Vornamen." in page
    assert "Nicht reserviert." in page
