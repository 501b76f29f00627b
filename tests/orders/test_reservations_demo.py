"""The demo retailer's reservations: every state, through the services, safe to seed again."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders.demo_reservations import JOURNEY_CALLER_PHONE, seed_reservations
from orders.models import Reservation, ReservationStatus
from orders.selectors.reservations import expires_today
from tests.inventory.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def test_demo_has_reservations_in_every_state_and_seeds_once():
    call_command("seed_demo", products=40, customers=40, verbosity=0)
    reservations = list(Reservation.objects.select_related("store"))
    statuses = {(r.status, r.release_reason) for r in reservations}
    assert {
        ("active", ""),
        ("collected", ""),
        ("released", "expired"),
        ("released", "cancelled"),
    } <= statuses
    active = [r for r in reservations if r.status == ReservationStatus.ACTIVE]
    assert any(expires_today(r) for r in active) or timezone.localtime().hour == 23
    assert all(r.order_id for r in reservations if r.status == ReservationStatus.COLLECTED)
    assert not Reservation.objects.filter(customer__phone=JOURNEY_CALLER_PHONE).exists()
    assert_ledger_consistent()

    out = StringIO()
    assert seed_reservations(stdout=out) == 0
    assert Reservation.objects.count() == len(reservations)
