"""The phone desk and the store's reservation list (staff pages under /desk/)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.models import Customer
from customers.services import add_service_note
from orders.models import Reservation, ReservationStatus
from stores.models import StaffRole
from tests.factories import CustomerFactory, StoreFactory, UserFactory, staff_user
from tests.inventory.factories_stock import stocked
from tests.orders.factories_reservations import reservation_for, variant_in_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(client, store):
    user = staff_user(store, role=StaffRole.SERVICE_AGENT)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def clerk(client, store):
    user = staff_user(store)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def anna(store):
    anna = CustomerFactory(
        first_name="Anna",
        last_name="Becker",
        phone="+49301234567",
        email="anna@example.de",
        preferred_store=store,
        sizes={"shirts": "M"},
    )
    add_service_note(actor=Actor(channel=Channel.WEB), customer=anna, text="Prefers morning calls")
    return anna


class TestAccess:
    @pytest.mark.parametrize("url", ["/desk/phone/", "/desk/reservations/"])
    def test_anonymous_goes_to_the_login(self, client, url):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    def test_a_login_without_a_store_goes_to_the_login(self, client):
        client.force_login(UserFactory())
        assert client.get("/desk/phone/").status_code == 302

    def test_home_links_the_pages(self, clerk):
        page = clerk.get("/desk/").content.decode()
        assert "/desk/phone/" in page and "/desk/reservations/" in page


class TestPhoneDesk:
    def test_finds_the_caller_by_phone_in_any_format(self, agent, anna):
        page = agent.get("/desk/phone/", {"phone": "030 1234567"}).content.decode()
        assert "Anna Becker" in page
        assert "Prefers morning calls" in page
        assert "shirts <strong>M</strong>" in page
        assert "BER-01" in page

    def test_unknown_number_offers_a_new_customer(self, agent):
        response = agent.get("/desk/phone/", {"phone": "0170 5555555"})
        assert response.context["new_customer"] is True
        assert "+491705555555" in response.content.decode()

    def test_unreadable_number_says_so(self, agent):
        response = agent.get("/desk/phone/", {"phone": "abc"})
        assert response.context["phone_error"]
        assert response.context["customer"] is None

    def test_availability_in_the_stores_nearest_the_preferred_store(self, agent, store, anna):
        far = StoreFactory(code="MUC-01", latitude="48.137154", longitude="11.576124")
        near = StoreFactory(code="POT-01", latitude="52.390569", longitude="13.064473")
        variant = variant_in_stock(store, 2)
        variant_in_stock(far, 0)
        stocked(variant, near, 4)
        response = agent.get("/desk/phone/", {"phone": anna.phone, "q": variant.ean})
        rows = response.context["results"][0]["stores"]
        assert [r["store"].code for r in rows][:3] == ["BER-01", "POT-01", "MUC-01"]
        assert [r["available"] for r in rows][:3] == [2, 4, 0]

    def test_postcode_ranks_stores_by_the_nearest_postcode(self, agent, store):
        store.postcode = "10115"
        store.save()
        munich = StoreFactory(
            code="MUC-01", postcode="80331", latitude="48.137154", longitude="11.576124"
        )
        variant = variant_in_stock(store)
        response = agent.get("/desk/phone/", {"q": variant.sku, "postcode": "80995"})
        assert [s.code for s in response.context["stores"]][:2] == [munich.code, store.code]

    def test_search_by_product_name(self, agent, store):
        variant = variant_in_stock(store, product__name="Regenjacke Nordkap")
        response = agent.get("/desk/phone/", {"q": "jacke nord"})
        assert [r["variant"] for r in response.context["results"]] == [variant]

    def test_reserve_with_one_submit(self, agent, store, anna, django_capture_on_commit_callbacks):
        variant = variant_in_stock(store, 2)
        with django_capture_on_commit_callbacks(execute=True):
            response = agent.post(
                "/desk/phone/reserve/",
                {
                    "customer": anna.pk,
                    "phone": "030 1234567",
                    "sku": variant.sku,
                    "store": store.code,
                    "quantity": "2",
                },
                follow=True,
            )
        reservation = Reservation.objects.get()
        assert (reservation.customer, reservation.channel) == (anna, Channel.PHONE)
        assert reservation.created_by_user == agent.user
        page = response.content.decode()
        assert f"Reservation {reservation.pk}" in page and "held at BER-01" in page
        assert mail.outbox[0].to == ["anna@example.de"]

    def test_reserve_for_a_new_caller_creates_the_customer(self, agent, store):
        variant = variant_in_stock(store)
        agent.post(
            "/desk/phone/reserve/",
            {
                "phone": "0170 5555555",
                "first_name": "Jonas",
                "sku": variant.sku,
                "store": store.code,
                "quantity": "1",
            },
        )
        customer = Customer.objects.get(phone="+491705555555")
        assert customer.first_name == "Jonas"
        assert Reservation.objects.get().customer == customer

    def test_deadline_is_read_in_the_store_time_zone(self, agent, store, anna):
        variant = variant_in_stock(store)
        deadline = (timezone.localtime(timezone.now(), store.zone) + timedelta(days=1)).replace(
            hour=18, minute=0, second=0, microsecond=0
        )
        agent.post(
            "/desk/phone/reserve/",
            {
                "customer": anna.pk,
                "sku": variant.sku,
                "store": store.code,
                "quantity": "1",
                "expires_at": deadline.strftime("%Y-%m-%dT%H:%M"),
            },
        )
        assert Reservation.objects.get().expires_at == deadline

    def test_unreadable_deadline_is_refused(self, agent, store, anna):
        variant = variant_in_stock(store)
        response = agent.post(
            "/desk/phone/reserve/",
            {"customer": anna.pk, "sku": variant.sku, "store": store.code, "expires_at": "soon"},
            follow=True,
        )
        assert "is not a date and time" in response.content.decode()
        assert not Reservation.objects.exists()

    def test_short_stock_shows_the_problem_and_holds_nothing(self, agent, store, anna):
        variant = variant_in_stock(store, 1)
        response = agent.post(
            "/desk/phone/reserve/",
            {"customer": anna.pk, "sku": variant.sku, "store": store.code, "quantity": "3"},
            follow=True,
        )
        assert "Not reserved" in response.content.decode()
        assert "1 available" in response.content.decode()
        assert not Reservation.objects.exists()

    def test_store_staff_cannot_reserve_in_another_store(self, clerk, other_store, anna):
        variant = variant_in_stock(other_store)
        clerk.post(
            "/desk/phone/reserve/",
            {"customer": anna.pk, "sku": variant.sku, "store": other_store.code, "quantity": "1"},
        )
        assert not Reservation.objects.exists()


class TestStoreReservations:
    def test_own_stores_by_expiry_with_today_highlighted(self, clerk, store, other_store):
        now = timezone.now()
        tonight = timezone.localtime(now, store.zone).replace(hour=23, minute=59, second=0)
        if tonight <= now + timedelta(seconds=10):
            pytest.skip("runs in the last minute of the day: nothing can expire later today")
        later = reservation_for(store, expires_at=now + timedelta(days=3))
        today = reservation_for(store, expires_at=tonight)
        reservation_for(other_store)
        response = clerk.get("/desk/reservations/")
        rows = response.context["rows"]
        assert [row["reservation"] for row in rows] == [today, later]
        page = response.content.decode()
        assert f'id="reservation-{today.pk}" class="highlight expiring-today"' in page
        assert f'id="reservation-{later.pk}" class=""' in page

    def test_collect_button_sells_the_items(self, clerk, store):
        reservation = reservation_for(store)
        asked = clerk.post(f"/desk/reservations/{reservation.pk}/collect/")
        assert asked.status_code == 200 and 'name="confirmed" value="1"' in asked.content.decode()
        assert Reservation.objects.get().status == ReservationStatus.ACTIVE, "asks first"
        response = clerk.post(
            f"/desk/reservations/{reservation.pk}/collect/", {"confirmed": "1"}, follow=True
        )
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.COLLECTED
        assert reservation.order.number in response.content.decode()

    def test_release_button_puts_the_items_back(self, clerk, store):
        reservation = reservation_for(store)
        asked = clerk.post(f"/desk/reservations/{reservation.pk}/release/")
        assert 'name="confirmed" value="1"' in asked.content.decode()
        assert Reservation.objects.get().status == ReservationStatus.ACTIVE, "asks first"
        clerk.post(f"/desk/reservations/{reservation.pk}/release/", {"confirmed": "1"})
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.RELEASED

    def test_buttons_refuse_other_stores(self, clerk, other_store):
        reservation = reservation_for(other_store)
        response = clerk.post(f"/desk/reservations/{reservation.pk}/collect/", follow=True)
        assert "store you do not work in" in response.content.decode()
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.ACTIVE

    def test_collecting_an_expired_one_is_refused(self, clerk, store):
        reservation = reservation_for(store)
        Reservation.objects.filter(pk=reservation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        response = clerk.post(
            f"/desk/reservations/{reservation.pk}/collect/", {"confirmed": "1"}, follow=True
        )
        assert "Not collected" in response.content.decode()
        assert Reservation.objects.get().status == ReservationStatus.ACTIVE

    def test_get_on_a_button_is_refused(self, clerk, store):
        reservation = reservation_for(store)
        assert clerk.get(f"/desk/reservations/{reservation.pk}/collect/").status_code == 405
