"""common.rows.insert_rows: rows of several tables in one statement on PostgreSQL (one per row
elsewhere), rows pointing at each other, the lock and the count that travel with them."""

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Now
from django.utils import timezone

from common.rows import insert_rows
from customers.models import Customer
from orders.models import Reservation, ReservationLine, ReservationStatus
from tests.conftest import requires_postgres
from tests.factories import CustomerFactory, StoreFactory, VariantFactory

pytestmark = pytest.mark.django_db


def a_hold(customer, store, **fields) -> Reservation:
    return Reservation(
        customer=customer,
        store=store,
        status=ReservationStatus.ACTIVE,
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(hours=2)),
        **fields,
    )


def test_a_parent_and_its_lines_are_written_with_their_keys_in_one_statement(
    django_assert_num_queries,
):
    customer, store = CustomerFactory(), StoreFactory()
    drill, saw = VariantFactory(), VariantFactory()
    hold = a_hold(customer, store, note="for Saturday")
    lines = [
        ReservationLine(reservation=hold, variant=drill, quantity=2),
        ReservationLine(reservation=hold, variant=saw, quantity=1),
    ]
    statements = 1 if connection.vendor == "postgresql" else 3
    with transaction.atomic(), django_assert_num_queries(statements, exact=False):
        insert_rows(hold, *lines)

    assert hold.pk and all(line.pk for line in lines)
    assert [line.reservation_id for line in lines] == [hold.pk, hold.pk]
    # The lines still know their reservation object: no query to reach it.
    with django_assert_num_queries(0):
        assert lines[0].reservation is hold
    saved = Reservation.objects.get(pk=hold.pk)
    assert (saved.note, saved.customer_id, saved.store_id) == (
        "for Saturday",
        customer.pk,
        store.pk,
    )
    assert saved.created_at is not None  # auto_now_add applied as by save()
    assert list(saved.lines.order_by("pk").values_list("variant_id", "quantity")) == [
        (drill.pk, 2),
        (saw.pk, 1),
    ]


def test_a_value_that_is_an_expression_is_written_by_the_database():
    customer, store = CustomerFactory(), StoreFactory()
    hold = a_hold(customer, store, expires_at=Now())
    # A line whose own value is an expression still points at the hold of the same statement.
    line = ReservationLine(reservation=hold, variant=VariantFactory(), quantity=Value(2))
    before = timezone.now()
    with transaction.atomic():
        insert_rows(hold, line)
    saved = Reservation.objects.get(pk=hold.pk)
    assert saved.expires_at >= before - timedelta(seconds=1)
    written = ReservationLine.objects.get(pk=line.pk)
    assert (written.reservation_id, written.quantity) == (hold.pk, 2)
    assert line.reservation_id == hold.pk


def test_the_count_sees_earlier_statements_of_the_transaction_but_not_its_own_rows():
    customer, store = CustomerFactory(), StoreFactory()
    active = Reservation.objects.filter(customer=customer, status=ReservationStatus.ACTIVE)
    with transaction.atomic():
        first = a_hold(customer, store)
        assert insert_rows(first, counting=active).counted == 0
        second = a_hold(customer, store)
        assert insert_rows(second, counting=active).counted == 1
    assert active.count() == 2


def test_the_lock_travels_with_the_rows(django_assert_num_queries):
    customer, store = CustomerFactory(), StoreFactory()
    lock = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk)
    statements = 1 if connection.vendor == "postgresql" else 2
    with transaction.atomic(), django_assert_num_queries(statements, exact=False):
        written = insert_rows(a_hold(customer, store), locking=lock)
    assert written.locked == 1
    assert Reservation.objects.filter(customer=customer).count() == 1


def test_a_lock_that_finds_no_row_says_so():
    customer, store = CustomerFactory(), StoreFactory()
    nobody = Customer.objects.select_for_update().filter(pk=customer.pk + 1000)
    hold = a_hold(customer, store)
    with transaction.atomic():
        assert insert_rows(hold, locking=nobody).locked == 0


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_locked_row_stays_locked_until_the_transaction_ends():
    customer, store = CustomerFactory(), StoreFactory()
    lock = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk)
    outcome = []

    def try_to_lock() -> None:
        try:
            with transaction.atomic():
                list(Customer.objects.select_for_update(nowait=True).filter(pk=customer.pk))
            outcome.append("locked")
        except DatabaseError:
            outcome.append("refused")
        finally:
            connection.close()

    with transaction.atomic():
        insert_rows(a_hold(customer, store), locking=lock)
        other = threading.Thread(target=try_to_lock)
        other.start()
        other.join()
    assert outcome == ["refused"]
    again = threading.Thread(target=try_to_lock)
    again.start()
    again.join()
    assert outcome == ["refused", "locked"]
