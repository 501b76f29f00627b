"""Opening hours: strict validation wherever they are written, a reader that never fails, and the
pickup deadline counted in opening days in the store's own time zone."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from orders.models import Reservation
from orders.models.orders import OrderStatus
from orders.services import orders as order_services
from orders.services.reservations import opening_spans
from stores import selectors
from stores.models import Store, validate_opening_hours
from tests.factories import StoreFactory
from tests.orders.factories_orders import pickup_order, ready_order
from tests.orders.factories_reservations import variant_in_stock

BERLIN = ZoneInfo("Europe/Berlin")
# The factory's stores open Mon–Sat 09:00–20:00 and close on Sunday.
# Europe moves its clocks forward on Sunday 29 March 2026.
FRIDAY_BEFORE_DST = datetime(2026, 3, 27, 15, 0, tzinfo=BERLIN)

pytestmark = pytest.mark.django_db


def at(store: Store, day: datetime, clock: str) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0, tzinfo=store.zone)


class TestPickupDeadline:
    def test_three_opening_days_across_the_clock_change_end_at_closing_time(self, store):
        store.pickup_window_days = 3
        # Saturday, (Sunday closed), Monday, Tuesday: closing time on Tuesday, summer time.
        deadline = selectors.pickup_deadline(store, FRIDAY_BEFORE_DST)
        assert deadline == datetime(2026, 3, 31, 20, 0, tzinfo=BERLIN)
        assert deadline.utcoffset() == timedelta(hours=2)

    def test_the_ready_day_does_not_count_even_before_opening(self, store):
        store.pickup_window_days = 1
        monday_early = datetime(2026, 5, 4, 7, 0, tzinfo=BERLIN)
        assert selectors.pickup_deadline(store, monday_early) == datetime(
            2026, 5, 5, 20, 0, tzinfo=BERLIN
        )

    def test_ready_on_a_closed_day_counts_from_the_next_opening_day(self, store):
        store.pickup_window_days = 2
        sunday = datetime(2026, 5, 10, 11, 0, tzinfo=BERLIN)
        assert selectors.pickup_deadline(store, sunday) == datetime(
            2026, 5, 12, 20, 0, tzinfo=BERLIN
        )

    def test_ready_late_in_the_evening_utc_counts_from_the_local_date(self, store):
        store.pickup_window_days = 1
        # 23:30 UTC on Friday is already Saturday 01:30 in Berlin: Monday is the first day after.
        ready = datetime(2026, 5, 8, 23, 30, tzinfo=ZoneInfo("UTC"))
        assert selectors.pickup_deadline(store, ready) == datetime(
            2026, 5, 11, 20, 0, tzinfo=BERLIN
        )

    def test_a_store_in_another_time_zone_closes_at_its_own_time(self, db):
        lisbon = StoreFactory(code="LIS-01", time_zone="Europe/Lisbon", pickup_window_days=2)
        ready = datetime(2026, 5, 7, 22, 0, tzinfo=ZoneInfo("Europe/Lisbon"))  # Thursday
        assert selectors.pickup_deadline(lisbon, ready) == datetime(
            2026, 5, 9, 20, 0, tzinfo=ZoneInfo("Europe/Lisbon")
        )

    def test_the_last_span_of_a_split_day_is_closing_time(self, db):
        hours = {day: [["09:00", "13:00"], ["14:00", "18:30"]] for day in ("mon", "tue", "wed")}
        shop = StoreFactory(opening_hours=hours, pickup_window_days=1)
        ready = datetime(2026, 5, 4, 10, 0, tzinfo=BERLIN)  # Monday
        assert selectors.pickup_deadline(shop, ready) == datetime(2026, 5, 5, 18, 30, tzinfo=BERLIN)

    def test_without_opening_hours_every_day_counts_until_midnight(self, db):
        shop = StoreFactory(opening_hours={}, pickup_window_days=3)
        assert selectors.pickup_deadline(shop, FRIDAY_BEFORE_DST) == datetime(
            2026, 3, 31, 0, 0, tzinfo=BERLIN
        )

    def test_mark_ready_sets_the_deadline_and_the_e_mail_tells_the_local_day(
        self, store, monkeypatch
    ):
        from django.core import mail

        store.pickup_window_days = 3
        store.save()
        order = pickup_order(store)
        monkeypatch.setattr(timezone, "now", lambda: FRIDAY_BEFORE_DST)
        ready = ready_order_now(store, order)
        assert ready.pickup_deadline == datetime(2026, 3, 31, 20, 0, tzinfo=BERLIN)
        assert "31 Mar 2026, 20:00" in mail.outbox[-1].body

    def test_the_sweep_cancels_at_closing_time_of_the_last_day_not_before(self, store, monkeypatch):
        store.pickup_window_days = 3
        store.save()
        order = pickup_order(store)
        monkeypatch.setattr(timezone, "now", lambda: FRIDAY_BEFORE_DST)
        ready_order_now(store, order)
        closing = datetime(2026, 3, 31, 20, 0, tzinfo=BERLIN)

        # The old formula (ready + 72 h) would have ended on Monday afternoon.
        result = order_services.expire_uncollected_orders(
            now=datetime(2026, 3, 30, 17, 0, tzinfo=BERLIN)
        )
        assert result == {"reminded": 0, "cancelled": 0}
        result = order_services.expire_uncollected_orders(now=closing - timedelta(hours=23))
        assert result == {"reminded": 1, "cancelled": 0}
        result = order_services.expire_uncollected_orders(now=closing - timedelta(minutes=1))
        assert result["cancelled"] == 0
        result = order_services.expire_uncollected_orders(now=closing)
        assert result["cancelled"] == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED


def ready_order_now(store, order):
    from tests.orders.factories_orders import committed, staff_actor

    with committed():
        order_services.mark_ready_for_pickup(actor=staff_actor(store), order=order)
    order.refresh_from_db()
    return order


BAD_HOURS = [
    pytest.param([["09:00", "24:00"]], id="24:00"),
    pytest.param([["09:00", "25:61"]], id="25:61"),
    pytest.param([["9:00", "18:00"]], id="9:00"),
    pytest.param([["09:00", "18:60"]], id="minute-60"),
    pytest.param([["18:00", "09:00"]], id="close-before-open"),
    pytest.param([["09:00", "09:00"]], id="close-at-open"),
    pytest.param([["0900", "18:00"]], id="no-colon"),
    pytest.param([["09:00", "13:00"], ["12:00", "18:00"]], id="overlapping"),
    pytest.param([["09:00", 18]], id="not-a-string"),
    pytest.param([["09:00"]], id="no-close"),
]


class TestValidation:
    @pytest.mark.parametrize("spans", BAD_HOURS)
    def test_bad_hours_are_refused_on_the_field(self, spans):
        store = StoreFactory.build(opening_hours={"mon": spans})
        with pytest.raises(ValidationError) as exc:
            store.full_clean()
        assert set(exc.value.message_dict) == {"opening_hours"}
        assert "mon" in exc.value.message_dict["opening_hours"][0]

    def test_a_pickup_window_of_no_days_is_refused(self):
        with pytest.raises(ValidationError) as exc:
            StoreFactory.build(pickup_window_days=0).full_clean()
        assert set(exc.value.message_dict) == {"pickup_window_days"}

    def test_good_hours_pass(self):
        validate_opening_hours(
            {
                "mon": [["00:00", "12:00"], ["12:00", "23:59"]],
                "sat": [["07:30", "13:00"]],
                "sun": [],
            }
        )

    @pytest.mark.parametrize("spans", BAD_HOURS[:6])
    def test_the_admin_shows_a_field_error_and_saves_nothing(self, admin_client, store, spans):
        import json

        url = reverse("admin:stores_store_change", args=[store.pk])
        data = {
            "code": store.code,
            "name": store.name,
            "is_active": "on",
            "street": store.street,
            "postcode": store.postcode,
            "city": store.city,
            "country": store.country,
            "latitude": str(store.latitude),
            "longitude": str(store.longitude),
            "time_zone": store.time_zone,
            "opening_hours": json.dumps({"mon": spans}),
            "default_hold_hours": store.default_hold_hours,
            "max_hold_hours": store.max_hold_hours,
            "max_hold_extensions": store.max_hold_extensions,
            "pickup_window_days": store.pickup_window_days,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        }
        response = admin_client.post(url, data)
        assert response.status_code == 200
        assert "opening_hours" in response.context["adminform"].form.errors
        store.refresh_from_db()
        assert store.opening_hours["mon"] == [["09:00", "20:00"]]


class TestHoursStoredBadly:
    """Hours that got into the database past the validation are read as closed and logged."""

    @pytest.fixture
    def broken(self, store):
        hours = dict(store.opening_hours)
        hours.update({"mon": [["09:00", "24:00"]], "tue": "always", "wed": [["10:00", "18:00"]]})
        Store.objects.filter(pk=store.pk).update(opening_hours=hours)
        store.refresh_from_db()
        return store

    def test_unreadable_days_are_closed_and_logged(self, broken, caplog):
        monday, tuesday, wednesday = (datetime(2026, 5, d).date() for d in (4, 5, 6))
        with caplog.at_level(logging.WARNING, logger="stores.selectors"):
            assert opening_spans(broken, monday) == []
            assert opening_spans(broken, tuesday) == []
        assert broken.code in caplog.text and "24:00" in caplog.text
        assert opening_spans(broken, wednesday) == [
            (
                datetime(2026, 5, 6, 10, 0, tzinfo=BERLIN),
                datetime(2026, 5, 6, 18, 0, tzinfo=BERLIN),
            )
        ]

    def test_a_reservation_there_is_taken_not_a_500(self, broken, phone_desk, monkeypatch):
        from tests.factories import CustomerFactory

        monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 5, 3, 12, 0, tzinfo=BERLIN))
        variant = variant_in_stock(broken, 2)
        response = phone_desk.post(
            "/api/v1/reservations/",
            {
                "store": broken.code,
                "customer": CustomerFactory().pk,
                "lines": [{"sku": variant.sku, "quantity": 1}],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert Reservation.objects.count() == 1

    def test_a_pickup_order_there_gets_a_deadline(self, broken, monkeypatch):
        monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 5, 3, 12, 0, tzinfo=BERLIN))
        order = ready_order(broken)
        # Sunday → Monday and Tuesday unreadable (closed), Wednesday, then Thursday … Saturday.
        assert order.pickup_deadline.astimezone(BERLIN).date() >= datetime(2026, 5, 6).date()
