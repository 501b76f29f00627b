"""Reservation services: deadlines, holds, extensions, cancel, collect and the expiry run."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from customers.models import Customer, TimelineEvent, TimelineKind
from inventory.exceptions import InsufficientStock
from inventory.models import CauseType, StockItem, StockMovement
from orders.models import (
    Order,
    ReleaseReason,
    Reservation,
    ReservationStatus,
)
from orders.services.reservations import (
    ExtensionLimit,
    InvalidReservation,
    ReservationExpired,
    ReservationNotActive,
    cancel_reservation,
    collect_reservation,
    default_expiry,
    extend_reservation,
    release_expired_reservations,
    reserve_for_customer,
)
from orders.tasks.reservations import send_reservation_confirmation, send_reservation_reminder
from tests.factories import CustomerFactory, StoreFactory, staff_user
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_reservations import PHONE_DESK, reservation_for, variant_in_stock

BERLIN = ZoneInfo("Europe/Berlin")
# A Thursday; the factory's stores open Mon–Sat 09:00–20:00 and close on Sunday.
THURSDAY = datetime(2026, 5, 7, 15, 0, tzinfo=BERLIN)

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what the services queue for after the commit (the e-mail tasks)."""
    return django_capture_on_commit_callbacks


def stock_of(variant, store) -> StockItem:
    return StockItem.objects.get(variant=variant, store=store)


class TestDeadline:
    def test_default_hold_inside_opening_hours_is_kept(self, store):
        assert default_expiry(store, start=THURSDAY) == datetime(2026, 5, 9, 15, 0, tzinfo=BERLIN)

    def test_default_hold_ending_after_closing_ends_at_closing(self, store):
        start = THURSDAY.replace(hour=22)
        assert default_expiry(store, start=start) == datetime(2026, 5, 9, 20, 0, tzinfo=BERLIN)

    def test_default_hold_ending_on_a_closed_day_ends_at_the_last_closing_before(self, store):
        friday_noon = datetime(2026, 5, 8, 12, 0, tzinfo=BERLIN)
        # Sunday 12:00 → Saturday 20:00, never later than the plain 48 hours.
        assert default_expiry(store, start=friday_noon) == datetime(
            2026, 5, 9, 20, 0, tzinfo=BERLIN
        )

    def test_default_hold_ending_before_opening_moves_back_to_previous_evening(self, store):
        start = datetime(2026, 5, 5, 7, 0, tzinfo=BERLIN)  # Tuesday 07:00 → Thursday 07:00
        assert default_expiry(store, start=start) == datetime(2026, 5, 6, 20, 0, tzinfo=BERLIN)

    def test_store_in_another_time_zone_uses_its_own_closing_time(self, db):
        lisbon = StoreFactory(code="LIS-01", time_zone="Europe/Lisbon")
        start = datetime(2026, 5, 7, 22, 0, tzinfo=ZoneInfo("Europe/Lisbon"))
        assert default_expiry(lisbon, start=start) == datetime(
            2026, 5, 9, 20, 0, tzinfo=ZoneInfo("Europe/Lisbon")
        )

    def test_reservation_gets_default_deadline_and_reminder(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        assert reservation.expires_at == datetime(2026, 5, 9, 15, 0, tzinfo=BERLIN)
        assert reservation.remind_at == reservation.expires_at - timedelta(hours=3)


class TestReserve:
    def test_holds_stock_with_ledger_history_timeline_and_confirmation(self, store, on_commit):
        customer = CustomerFactory()
        variant = variant_in_stock(store, on_hand=3)
        with on_commit(execute=True):
            reservation = reserve_for_customer(
                actor=PHONE_DESK, customer=customer, store=store, lines=[(variant, 2)]
            )
        assert reservation.status == ReservationStatus.ACTIVE
        assert reservation.channel == Channel.PHONE
        item = stock_of(variant, store)
        assert (item.on_hand, item.reserved, item.available) == (3, 2, 1)
        line = reservation.lines.get()
        movement = StockMovement.objects.get(kind="reserve")
        assert (movement.cause_type, movement.cause_id) == (
            CauseType.RESERVATION_LINE,
            str(line.pk),
        )
        assert list(reservation.history.values_list("from_status", "to_status")) == [("", "active")]
        assert customer.timeline.filter(kind=TimelineKind.RESERVATION_CREATED).count() == 1
        assert len(mail.outbox) == 1
        assert customer.email in mail.outbox[0].to
        assert store.name in mail.outbox[0].subject
        assert_ledger_consistent()

    def test_same_sku_twice_is_one_line(self, store):
        variant = variant_in_stock(store, on_hand=3)
        reservation = reservation_for(store, lines=[(variant, 1), (variant, 2)])
        assert list(reservation.lines.values_list("quantity", flat=True)) == [3]

    def test_short_stock_names_every_short_line_and_writes_nothing(self, store):
        plenty, scarce = variant_in_stock(store, 5), variant_in_stock(store, 1)
        with pytest.raises(InsufficientStock) as caught:
            reservation_for(store, lines=[(plenty, 1), (scarce, 2)])
        assert caught.value.short_lines == [
            {"sku": scarce.sku, "store": store.code, "requested": 2, "available": 1}
        ]
        assert not Reservation.objects.exists()
        assert stock_of(plenty, store).reserved == 0
        assert not StockMovement.objects.filter(kind="reserve").exists()
        assert mail.outbox == []

    def test_store_without_reservations_is_refused(self, store):
        store.takes_reservations = False
        store.save()
        variant = variant_in_stock(store)
        with pytest.raises(InvalidReservation) as caught:
            reservation_for(store, lines=[(variant, 1)])
        assert "store" in caught.value.errors
        assert not Reservation.objects.exists()

    def test_empty_lines_are_refused(self, store):
        with pytest.raises(InvalidReservation) as caught:
            reserve_for_customer(
                actor=PHONE_DESK, customer=CustomerFactory(), store=store, lines=[]
            )
        assert caught.value.errors == {"lines": ["At least one line is needed."]}

    def test_deadline_in_the_past_or_beyond_the_maximum_is_refused(self, store):
        variant = variant_in_stock(store)
        for expires_at in (THURSDAY - timedelta(minutes=1), THURSDAY + timedelta(hours=169)):
            with pytest.raises(InvalidReservation) as caught:
                reservation_for(store, lines=[(variant, 1)], expires_at=expires_at, now=THURSDAY)
            assert list(caught.value.errors) == ["expires_at"]
        assert not Reservation.objects.exists()

    def test_given_deadline_up_to_the_maximum_is_taken_as_it_is(self, store):
        deadline = THURSDAY + timedelta(hours=168)
        reservation = reservation_for(store, expires_at=deadline, now=THURSDAY)
        assert reservation.expires_at == deadline

    def test_unreadable_phone_is_refused_and_no_customer_created(self, store):
        variant = variant_in_stock(store)
        with pytest.raises(InvalidReservation) as caught:
            reserve_for_customer(
                actor=PHONE_DESK,
                store=store,
                lines=[(variant, 1)],
                customer_details={"phone": "12ab", "first_name": "Anna"},
            )
        assert "phone" in caught.value.errors
        assert not Customer.objects.exists()

    def test_known_phone_in_another_format_finds_the_same_customer(self, store):
        anna = CustomerFactory(first_name="Anna", phone="+49301234567")
        reservation = reserve_for_customer(
            actor=PHONE_DESK,
            store=store,
            lines=[(variant_in_stock(store), 1)],
            customer_details={"phone": "030 1234567"},
        )
        assert reservation.customer == anna

    def test_new_customer_is_created_with_the_reservation(self, store):
        reservation = reserve_for_customer(
            actor=PHONE_DESK,
            store=store,
            lines=[(variant_in_stock(store), 1)],
            customer_details={"phone": "0170 1234567", "first_name": "Ben", "last_name": "Kurz"},
        )
        assert reservation.customer.phone == "+491701234567"
        assert reservation.customer.source_channel == Channel.PHONE


class TestExtend:
    def test_extends_by_hours_and_counts(self, store):
        reservation = reservation_for(store, now=THURSDAY)  # until Saturday 15:00
        extend_reservation(actor=PHONE_DESK, reservation=reservation, hours=2, now=THURSDAY)
        reservation.refresh_from_db()
        assert reservation.expires_at == datetime(2026, 5, 9, 17, 0, tzinfo=BERLIN)
        assert reservation.extension_count == 1
        assert reservation.remind_at == datetime(2026, 5, 9, 14, 0, tzinfo=BERLIN)
        assert reservation.customer.timeline.filter(kind=TimelineKind.RESERVATION_EXTENDED).exists()

    def test_extension_ending_after_closing_ends_at_closing(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        extend_reservation(actor=PHONE_DESK, reservation=reservation, hours=24, now=THURSDAY)
        reservation.refresh_from_db()
        # Sunday 15:00 is closed: Saturday 20:00.
        assert reservation.expires_at == datetime(2026, 5, 9, 20, 0, tzinfo=BERLIN)

    def test_more_extensions_than_the_store_allows_is_a_conflict(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        for _ in range(store.max_hold_extensions):
            extend_reservation(actor=PHONE_DESK, reservation=reservation, hours=1, now=THURSDAY)
        with pytest.raises(ExtensionLimit) as caught:
            extend_reservation(actor=PHONE_DESK, reservation=reservation, hours=1, now=THURSDAY)
        assert caught.value.code == "extension_limit"

    def test_beyond_the_maximum_hold_is_a_conflict(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        with pytest.raises(ExtensionLimit):
            extend_reservation(
                actor=PHONE_DESK,
                reservation=reservation,
                expires_at=THURSDAY + timedelta(hours=169),
                now=THURSDAY,
            )
        reservation.refresh_from_db()
        assert reservation.extension_count == 0

    def test_expired_reservation_cannot_be_extended(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        with pytest.raises(ReservationExpired):
            extend_reservation(
                actor=PHONE_DESK,
                reservation=reservation,
                hours=1,
                now=reservation.expires_at + timedelta(seconds=1),
            )


class TestCancel:
    def test_releases_stock_and_tells_the_customer(self, store, on_commit):
        variant = variant_in_stock(store, on_hand=2)
        reservation = reservation_for(store, lines=[(variant, 2)])
        with on_commit(execute=True):
            cancel_reservation(actor=PHONE_DESK, reservation=reservation, note="Customer called")
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.RELEASED
        assert reservation.release_reason == ReleaseReason.CANCELLED
        assert stock_of(variant, store).reserved == 0
        assert len(mail.outbox) == 1 and "cancelled" in mail.outbox[0].subject
        assert_ledger_consistent()
        with pytest.raises(ReservationNotActive):
            cancel_reservation(actor=PHONE_DESK, reservation=reservation)


class TestCollect:
    def test_full_collection_is_a_store_sale_from_the_reserved_units(self, store):
        clerk = Actor(user=staff_user(store), channel=Channel.STORE)
        variant = variant_in_stock(store, on_hand=3)
        reservation = reservation_for(store, lines=[(variant, 2)])
        collect_reservation(actor=clerk, reservation=reservation)
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.COLLECTED
        order = reservation.order
        assert (order.channel, order.fulfilment_store, order.status) == (
            Channel.STORE,
            store,
            "collected",
        )
        assert list(order.lines.values_list("sku", "quantity", "handed_over")) == [
            (variant.sku, 2, 2)
        ]
        item = stock_of(variant, store)
        assert (item.on_hand, item.reserved) == (1, 0)
        assert reservation.lines.get().collected == 2
        assert reservation.customer.timeline.filter(
            kind=TimelineKind.RESERVATION_COLLECTED
        ).exists()
        assert_ledger_consistent()

    def test_partial_collection_releases_the_rest(self, store):
        shirt, socks = variant_in_stock(store, 3), variant_in_stock(store, 3)
        reservation = reservation_for(store, lines=[(shirt, 2), (socks, 1)])
        shirt_line, socks_line = reservation.lines.order_by("pk")
        collect_reservation(
            actor=PHONE_DESK, reservation=reservation, lines=[(shirt_line.pk, 1), (socks_line, 0)]
        )
        assert (stock_of(shirt, store).on_hand, stock_of(shirt, store).reserved) == (2, 0)
        assert (stock_of(socks, store).on_hand, stock_of(socks, store).reserved) == (3, 0)
        assert list(Reservation.objects.get().order.lines.values_list("sku", "quantity")) == [
            (shirt.sku, 1)
        ]
        assert_ledger_consistent()

    def test_collecting_more_than_reserved_or_nothing_is_refused(self, store):
        reservation = reservation_for(store)
        line = reservation.lines.get()
        for lines in ([(line.pk, 2)], [(line.pk, 0)], [(999999, 1)]):
            with pytest.raises(InvalidReservation):
                collect_reservation(actor=PHONE_DESK, reservation=reservation, lines=lines)
        assert not Order.objects.exists()

    def test_collecting_after_the_deadline_is_a_conflict_even_before_the_task_ran(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        with pytest.raises(ReservationExpired) as caught:
            collect_reservation(
                actor=PHONE_DESK,
                reservation=reservation,
                now=reservation.expires_at + timedelta(minutes=1),
            )
        assert caught.value.status == 409
        assert not Order.objects.exists()

    def test_collecting_twice_is_a_conflict(self, store):
        reservation = reservation_for(store)
        collect_reservation(actor=PHONE_DESK, reservation=reservation)
        with pytest.raises(ReservationNotActive) as caught:
            collect_reservation(actor=PHONE_DESK, reservation=reservation)
        assert isinstance(caught.value, ApplicationError) and caught.value.status == 409
        assert Order.objects.count() == 1


class TestReleaseExpired:
    def test_reminds_before_and_releases_after_the_deadline_once(self, store, on_commit):
        variant = variant_in_stock(store, 1)
        reservation = reservation_for(store, lines=[(variant, 1)], now=THURSDAY)

        def run(now):
            with on_commit(execute=True):
                return release_expired_reservations(now=now)

        before_reminder = reservation.remind_at - timedelta(minutes=1)
        assert run(before_reminder) == {"reminded": 0, "released": 0}

        in_reminder_window = reservation.remind_at + timedelta(minutes=1)
        assert run(in_reminder_window) == {"reminded": 1, "released": 0}
        assert run(in_reminder_window)["reminded"] == 0
        assert [m.subject.split(":")[0] for m in mail.outbox] == ["Reminder"]

        after = reservation.expires_at + timedelta(seconds=1)
        assert run(after) == {"reminded": 0, "released": 1}
        assert run(after) == {"reminded": 0, "released": 0}
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.RELEASED
        assert reservation.release_reason == ReleaseReason.EXPIRED
        assert stock_of(variant, store).reserved == 0
        assert len(mail.outbox) == 2 and "expired" in mail.outbox[1].subject
        assert TimelineEvent.objects.filter(kind=TimelineKind.RESERVATION_RELEASED).count() == 1
        assert_ledger_consistent()

    def test_active_holds_before_their_deadline_stay(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        release_expired_reservations(now=reservation.expires_at - timedelta(seconds=1))
        reservation.refresh_from_db()
        assert reservation.status == ReservationStatus.ACTIVE

    def test_extension_gets_a_new_reminder(self, store):
        reservation = reservation_for(store, now=THURSDAY)
        release_expired_reservations(now=reservation.remind_at)
        extend_reservation(
            actor=PHONE_DESK, reservation=reservation, hours=2, now=reservation.remind_at
        )
        reservation.refresh_from_db()
        assert reservation.reminder_sent_at is None
        assert release_expired_reservations(now=reservation.remind_at)["reminded"] == 1


class TestNotifications:
    def test_each_message_goes_out_once_even_when_the_task_runs_twice(self, store):
        reservation = reservation_for(store)
        assert send_reservation_confirmation(reservation.pk) is True
        assert send_reservation_confirmation(reservation.pk) is False
        assert send_reservation_reminder(reservation.pk) is True
        assert send_reservation_reminder(reservation.pk) is False
        assert len(mail.outbox) == 2
        assert str(reservation.pk) in mail.outbox[0].body

    def test_no_e_mail_address_sends_nothing(self, store):
        reservation = reservation_for(store, customer=CustomerFactory(email=None))
        assert send_reservation_confirmation(reservation.pk) is False
        assert mail.outbox == []
