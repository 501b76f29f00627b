"""Reservation API: /api/v1/reservations/, extend, cancel, the staff collect, the lists."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.auth import issue_user_token
from customers.models import Customer
from inventory.models import StockItem, StockMovement
from orders.models import Order, Reservation, ReservationStatus
from stores.models import StaffRole
from tests.conftest import token_client
from tests.factories import CustomerFactory, StoreFactory, staff_user
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_reservations import reservation_for, variant_in_stock

pytestmark = pytest.mark.django_db
URL = "/api/v1/reservations/"


def staff_api(*stores, role=StaffRole.STORE_STAFF):
    user = staff_user(*stores, role=role)
    api = token_client(issue_user_token(user))
    api.user = user
    return api


def body(store, variant, quantity=1, **extra):
    return {"store": store.code, "lines": [{"sku": variant.sku, "quantity": quantity}], **extra}


def assert_nothing_held():
    assert not Reservation.objects.exists()
    assert not StockMovement.objects.filter(kind="reserve").exists()


class TestCreate:
    def test_phone_desk_reserves_for_a_customer(self, phone_desk, store):
        customer = CustomerFactory()
        variant = variant_in_stock(store, 2)
        response = phone_desk.post(
            URL, body(store, variant, 2, customer=customer.pk), format="json"
        )
        assert response.status_code == 201, response.json()
        data = response.json()
        assert data["status"] == "active"
        assert data["store"] == store.code
        assert data["channel"] == "phone"
        assert data["customer"] == customer.pk
        assert data["expires_at"]
        assert data["lines"][0]["sku"] == variant.sku and data["lines"][0]["quantity"] == 2
        reservation = Reservation.objects.get(pk=data["id"])
        assert reservation.created_by_client == phone_desk.api_client
        assert StockItem.objects.get(variant=variant).reserved == 2

    def test_customer_found_by_phone_in_any_format(self, phone_desk, store):
        anna = CustomerFactory(first_name="Anna", phone="+49301234567")
        variant = variant_in_stock(store)
        response = phone_desk.post(URL, body(store, variant, phone="030 1234567"), format="json")
        assert response.status_code == 201
        assert response.json()["customer"] == anna.pk

    def test_new_customer_created_inline(self, phone_desk, store):
        variant = variant_in_stock(store)
        response = phone_desk.post(
            URL,
            body(store, variant, phone="+49 170 7654321", first_name="Ben", email="BEN@example.de"),
            format="json",
        )
        assert response.status_code == 201
        customer = Customer.objects.get(pk=response.json()["customer"])
        assert (customer.phone, customer.email, customer.first_name) == (
            "+491707654321",
            "ben@example.de",
            "Ben",
        )

    def test_unreadable_phone_is_400_on_phone_and_nothing_written(self, phone_desk, store):
        variant = variant_in_stock(store)
        response = phone_desk.post(URL, body(store, variant, phone="not a number"), format="json")
        assert response.status_code == 400
        assert response.json()["type"] == "validation_error"
        assert "phone" in response.json()["errors"]
        assert_nothing_held()
        assert not Customer.objects.exists()

    def test_an_unknown_customer_is_400_on_customer_and_nothing_held(self, phone_desk, store):
        variant = variant_in_stock(store)
        gone = CustomerFactory()
        missing = gone.pk
        gone.delete()
        response = phone_desk.post(URL, body(store, variant, customer=missing), format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["customer"]
        assert_nothing_held()
        assert StockItem.objects.get(variant=variant).reserved == 0

    def test_a_merged_customer_is_400_on_customer(self, phone_desk, store):
        survivor, duplicate = CustomerFactory(), CustomerFactory()
        duplicate.merged_into = survivor
        duplicate.save(update_fields=["merged_into"])
        variant = variant_in_stock(store)
        response = phone_desk.post(URL, body(store, variant, customer=duplicate.pk), format="json")
        assert response.status_code == 400
        assert "customer" in response.json()["errors"]
        assert_nothing_held()

    def test_no_customer_at_all_is_400(self, phone_desk, store):
        response = phone_desk.post(URL, body(store, variant_in_stock(store)), format="json")
        assert response.status_code == 400
        assert "customer" in response.json()["errors"]

    def test_empty_lines_are_400(self, phone_desk, store):
        response = phone_desk.post(
            URL,
            {"store": store.code, "lines": [], "customer": CustomerFactory().pk},
            format="json",
        )
        assert response.status_code == 400
        assert "lines" in response.json()["errors"]
        assert_nothing_held()

    def test_store_without_reservations_is_400_on_store(self, phone_desk, db):
        warehouse = StoreFactory(code="LAG-01", takes_reservations=False)
        variant = variant_in_stock(warehouse)
        response = phone_desk.post(
            URL, body(warehouse, variant, customer=CustomerFactory().pk), format="json"
        )
        assert response.status_code == 400
        assert "store" in response.json()["errors"]
        assert_nothing_held()

    @pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(hours=169)])
    def test_deadline_in_the_past_or_beyond_the_maximum_is_400(self, phone_desk, store, offset):
        variant = variant_in_stock(store)
        expires_at = (timezone.now() + offset).isoformat()
        response = phone_desk.post(
            URL,
            body(store, variant, customer=CustomerFactory().pk, expires_at=expires_at),
            format="json",
        )
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["expires_at"]
        assert_nothing_held()

    def test_short_stock_is_409_with_per_line_availability(self, phone_desk, store):
        variant = variant_in_stock(store, 1)
        response = phone_desk.post(
            URL, body(store, variant, 3, customer=CustomerFactory().pk), format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "insufficient_stock"
        assert response.json()["lines"] == [
            {"sku": variant.sku, "store": store.code, "requested": 3, "available": 1}
        ]
        assert_nothing_held()

    def test_retry_with_the_same_idempotency_key_holds_once(
        self, phone_desk, store, django_capture_on_commit_callbacks
    ):
        variant = variant_in_stock(store, 5)
        payload = body(store, variant, 2, customer=CustomerFactory().pk)
        with django_capture_on_commit_callbacks(execute=True):
            first = phone_desk.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="res-1")
        with django_capture_on_commit_callbacks(execute=True):
            second = phone_desk.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="res-1")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert Reservation.objects.count() == 1
        assert StockItem.objects.get(variant=variant).reserved == 2
        assert len(mail.outbox) == 1

    def test_customer_login_reserves_for_itself_only(self, customer_api, store):
        variant = variant_in_stock(store)
        response = customer_api.post(URL, body(store, variant), format="json")
        assert response.status_code == 201
        assert response.json()["customer"] == customer_api.customer.pk
        assert response.json()["channel"] == "web"
        other = CustomerFactory()
        response = customer_api.post(URL, body(store, variant, customer=other.pk), format="json")
        assert response.status_code == 404

    def test_store_staff_reserve_only_in_their_store_service_agents_anywhere(
        self, staff, store, other_store
    ):
        variant = variant_in_stock(other_store)
        customer = CustomerFactory()
        response = staff.post(URL, body(other_store, variant, customer=customer.pk), format="json")
        assert response.status_code == 403
        agent = staff_api(store, role=StaffRole.SERVICE_AGENT)
        response = agent.post(URL, body(other_store, variant, customer=customer.pk), format="json")
        assert response.status_code == 201
        assert response.json()["channel"] == "phone"

    def test_anonymous_is_401(self, anon, store):
        response = anon.post(URL, {}, format="json")
        assert response.status_code == 401


class TestDetail:
    def test_customer_sees_own_and_404_for_others(self, customer_api, store):
        own = reservation_for(store, customer=customer_api.customer)
        foreign = reservation_for(store)
        assert customer_api.get(f"{URL}{own.pk}/").status_code == 200
        assert customer_api.get(f"{URL}{foreign.pk}/").status_code == 404

    def test_staff_see_their_stores_only(self, staff, store, other_store):
        here, there = reservation_for(store), reservation_for(other_store)
        response = staff.get(f"{URL}{here.pk}/")
        assert response.status_code == 200
        assert response.json()["history"][0]["to_status"] == "active"
        assert staff.get(f"{URL}{there.pk}/").status_code == 403


class TestExtendAndCancel:
    def test_extend_until_the_limit_then_409(self, phone_desk, store):
        reservation = reservation_for(store)
        before = reservation.expires_at
        for _ in range(store.max_hold_extensions):
            response = phone_desk.post(
                f"{URL}{reservation.pk}/extend/", {"hours": 1}, format="json"
            )
            assert response.status_code == 200, response.json()
        assert Reservation.objects.get().expires_at > before
        response = phone_desk.post(f"{URL}{reservation.pk}/extend/", {"hours": 1}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "extension_limit"

    def test_extend_beyond_the_maximum_is_409(self, phone_desk, store):
        reservation = reservation_for(store)
        too_late = reservation.created_at + timedelta(hours=store.max_hold_hours, minutes=1)
        response = phone_desk.post(
            f"{URL}{reservation.pk}/extend/", {"expires_at": too_late.isoformat()}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "extension_limit"

    def test_extend_with_both_hours_and_deadline_is_400(self, phone_desk, store):
        reservation = reservation_for(store)
        response = phone_desk.post(
            f"{URL}{reservation.pk}/extend/",
            {"hours": 1, "expires_at": timezone.now().isoformat()},
            format="json",
        )
        assert response.status_code == 400

    def test_customer_cancels_own_reservation(self, customer_api, store):
        variant = variant_in_stock(store)
        reservation = reservation_for(store, customer=customer_api.customer, lines=[(variant, 1)])
        response = customer_api.post(f"{URL}{reservation.pk}/cancel/", {}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "released"
        assert response.json()["release_reason"] == "cancelled"
        assert StockItem.objects.get(variant=variant).reserved == 0
        again = customer_api.post(f"{URL}{reservation.pk}/cancel/", {}, format="json")
        assert again.status_code == 409

    def test_customer_cannot_cancel_anothers(self, customer_api, store):
        reservation = reservation_for(store)
        response = customer_api.post(f"{URL}{reservation.pk}/cancel/", {}, format="json")
        assert response.status_code == 404
        assert Reservation.objects.get().status == ReservationStatus.ACTIVE


def collect_url(reservation):
    return f"/api/v1/staff/reservations/{reservation.pk}/collect/"


class TestCollect:
    def test_staff_collect_creates_the_store_sale(self, staff, store):
        variant = variant_in_stock(store, 2)
        reservation = reservation_for(store, lines=[(variant, 2)])
        response = staff.post(collect_url(reservation), {}, format="json")
        assert response.status_code == 200, response.json()
        data = response.json()
        assert data["status"] == "collected"
        order = Order.objects.get(number=data["order"])
        assert order.channel == "store" and order.reservation == Reservation.objects.get()
        item = StockItem.objects.get(variant=variant)
        assert (item.on_hand, item.reserved) == (0, 0)
        assert_ledger_consistent()

    def test_partial_collection(self, staff, store):
        variant = variant_in_stock(store, 3)
        reservation = reservation_for(store, lines=[(variant, 3)])
        line = reservation.lines.get()
        response = staff.post(
            collect_url(reservation),
            {"lines": [{"reservation_line": line.pk, "quantity": 1}]},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["lines"][0]["collected"] == 1
        item = StockItem.objects.get(variant=variant)
        assert (item.on_hand, item.reserved) == (2, 0)

    def test_staff_of_another_store_is_403(self, store, other_store):
        reservation = reservation_for(store)
        response = staff_api(other_store).post(collect_url(reservation), {}, format="json")
        assert response.status_code == 403
        assert Reservation.objects.get().status == ReservationStatus.ACTIVE

    def test_channel_client_cannot_collect(self, phone_desk, store):
        reservation = reservation_for(store)
        assert phone_desk.post(collect_url(reservation), {}, format="json").status_code == 403

    def test_expired_before_the_task_ran_is_409(self, staff, store):
        reservation = reservation_for(store)
        Reservation.objects.filter(pk=reservation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        response = staff.post(collect_url(reservation), {}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "reservation_expired"
        assert not Order.objects.exists()

    def test_collected_twice_is_409(self, staff, store):
        reservation = reservation_for(store)
        assert staff.post(collect_url(reservation), {}, format="json").status_code == 200
        response = staff.post(collect_url(reservation), {}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "reservation_not_active"
        assert Order.objects.count() == 1

    def test_collect_more_than_reserved_is_400(self, staff, store):
        reservation = reservation_for(store)
        line = reservation.lines.get()
        response = staff.post(
            collect_url(reservation),
            {"lines": [{"reservation_line": line.pk, "quantity": 2}]},
            format="json",
        )
        assert response.status_code == 400
        assert "lines" in response.json()["errors"]


class TestLists:
    def test_my_reservations_paginated_with_a_fixed_query_count(self, customer_api, store):
        customer = customer_api.customer
        reservation_for(store, customer=customer)
        reservation_for(store)  # someone else's

        def count_queries():
            with CaptureQueriesContext(connection) as ctx:
                response = customer_api.get("/api/v1/me/reservations/")
            assert response.status_code == 200
            return response.json(), len(ctx.captured_queries)

        data, few = count_queries()
        assert data["count"] == 1 and len(data["results"]) == 1
        for _ in range(4):
            variant = variant_in_stock(store)
            reservation_for(
                store, customer=customer, lines=[(variant, 1), (variant_in_stock(store), 1)]
            )
        data, many = count_queries()
        assert data["count"] == 5
        assert many == few

    def test_my_reservations_query_bound(self, customer_api, store, django_assert_max_num_queries):
        for _ in range(3):
            reservation_for(store, customer=customer_api.customer)
        with django_assert_max_num_queries(8):
            assert customer_api.get("/api/v1/me/reservations/?page_size=2").json()["count"] == 3

    def test_me_needs_a_customer_login(self, phone_desk):
        assert phone_desk.get("/api/v1/me/reservations/").status_code == 403

    def test_staff_list_active_by_expiry_in_own_stores(self, staff, store, other_store):
        later = reservation_for(store, expires_at=timezone.now() + timedelta(hours=30))
        sooner = reservation_for(store, expires_at=timezone.now() + timedelta(hours=2))
        reservation_for(other_store)
        done = reservation_for(store)
        staff.post(collect_url(done), {}, format="json")
        response = staff.get("/api/v1/staff/reservations/", {"store": store.code})
        assert response.status_code == 200
        assert [r["id"] for r in response.json()["results"]] == [sooner.pk, later.pk]
        assert staff.get("/api/v1/staff/reservations/", {"store": "HAM-01"}).status_code == 403
        assert staff.get("/api/v1/staff/reservations/", {"store": "XXX-99"}).status_code == 400


class TestLimits:
    """One customer cannot hold a store's shelf empty."""

    def test_more_units_of_one_item_than_one_customer_may_hold_is_409(
        self, phone_desk, store, settings
    ):
        settings.OMNIS_RESERVATION_MAX_UNITS_PER_LINE = 3
        variant = variant_in_stock(store, 50)
        customer = CustomerFactory()
        response = phone_desk.post(
            URL, body(store, variant, 4, customer=customer.pk), format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "reservation_limit"
        assert_nothing_held()

    def test_more_active_holds_than_allowed_is_409_and_a_released_one_frees_a_place(
        self, phone_desk, store, settings
    ):
        settings.OMNIS_RESERVATION_MAX_ACTIVE = 2
        variant = variant_in_stock(store, 50)
        customer = CustomerFactory()
        made = [
            phone_desk.post(URL, body(store, variant, 1, customer=customer.pk), format="json")
            for _ in range(2)
        ]
        assert [r.status_code for r in made] == [201, 201]
        third = phone_desk.post(URL, body(store, variant, 1, customer=customer.pk), format="json")
        assert third.status_code == 409
        assert third.json()["code"] == "reservation_limit"
        assert Reservation.objects.count() == 2
        assert StockItem.objects.get(variant=variant).reserved == 2

        cancelled = phone_desk.post(f"{URL}{made[0].json()['id']}/cancel/", {}, format="json")
        assert cancelled.status_code == 200
        again = phone_desk.post(URL, body(store, variant, 1, customer=customer.pk), format="json")
        assert again.status_code == 201
        assert_ledger_consistent()
