"""Expiry vs. collect, and two expiry runs at once: exactly one wins, stock stays consistent."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from inventory.models import StockItem
from orders.models import Order, Reservation, ReservationStatus
from orders.services.reservations import collect_reservation, release_expired_reservations
from tests.conftest import requires_postgres
from tests.factories import staff_user
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_reservations import reservation_for, variant_in_stock

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THURSDAY = datetime(2026, 5, 7, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def run_together(*jobs):
    """Start the jobs at the same moment in threads; returns each job's result or exception."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_expiry_and_collect_at_the_same_moment_exactly_one_wins(store):
    clerk = Actor(user=staff_user(store), channel=Channel.STORE)
    variant = variant_in_stock(store, on_hand=20)
    outcomes = []
    for _ in range(8):
        reservation = reservation_for(store, lines=[(variant, 2)], now=THURSDAY)
        # The counter's clock says "just in time", the task's "just too late": without the row
        # lock both would go ahead.
        collect_result, expiry_result = run_together(
            lambda r=reservation: collect_reservation(
                actor=clerk, reservation=r, now=r.expires_at - timedelta(seconds=1)
            ),
            lambda r=reservation: release_expired_reservations(
                now=r.expires_at + timedelta(seconds=1)
            ),
        )
        reservation.refresh_from_db()
        if reservation.status == ReservationStatus.COLLECTED:
            assert isinstance(collect_result, Reservation)
            assert expiry_result == {"reminded": 0, "released": 0}
        else:
            assert reservation.status == ReservationStatus.RELEASED
            assert isinstance(collect_result, ApplicationError), collect_result
            assert collect_result.status == 409
            assert expiry_result["released"] == 1
        outcomes.append(reservation.status)

    collected = outcomes.count(ReservationStatus.COLLECTED)
    assert Order.objects.count() == collected
    item = StockItem.objects.get(variant=variant, store=store)
    assert (item.on_hand, item.reserved) == (20 - 2 * collected, 0)
    assert_ledger_consistent()


def test_two_expiry_runs_at_once_release_each_hold_once(store):
    variant = variant_in_stock(store, on_hand=30)
    for _ in range(12):
        reservation_for(store, lines=[(variant, 2)], now=THURSDAY)
    later = THURSDAY + timedelta(days=3)
    first, second = run_together(
        lambda: release_expired_reservations(now=later),
        lambda: release_expired_reservations(now=later),
    )
    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    assert first["released"] + second["released"] == 12
    assert not Reservation.objects.filter(status=ReservationStatus.ACTIVE).exists()
    assert Reservation.objects.get(pk=Reservation.objects.first().pk).history.count() == 2
    assert StockItem.objects.get(variant=variant).reserved == 0
    assert_ledger_consistent()


def test_racing_holds_of_one_customer_never_pass_the_limit(store, settings):
    from common.models import Channel as Ch
    from orders.exceptions import ReservationLimit
    from orders.services.reservations import reserve_for_customer
    from tests.factories import CustomerFactory

    settings.OMNIS_RESERVATION_MAX_ACTIVE = 3
    variant = variant_in_stock(store, on_hand=100)
    customer = CustomerFactory()
    web = Actor(channel=Ch.WEB)

    def hold():
        return reserve_for_customer(actor=web, store=store, lines=[(variant, 1)], customer=customer)

    results = run_together(*[hold] * 8)
    made = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, ReservationLimit)]
    assert len(made) == 3 and len(refused) == 5, results
    assert StockItem.objects.get(variant=variant).reserved == 3
    assert_ledger_consistent()
