"""One global lock order: customer rows before stock rows, stock rows by (store id, stock item
id), customers merged in id order. Each test holds the row a service must take FIRST in another
transaction, and checks that while the service waits for it, it holds none of the rows that come
later: a service that waits while holding a later row is half of a deadlock."""

import threading
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction

from common.actor import Actor
from customers.models import Customer
from customers.services import add_store_credit_entry, merge_customers
from inventory.models import StockItem
from inventory.services import dispatch_transfer, receive_transfer
from orders.models.orders import Fulfilment
from orders.services import orders as order_services
from orders.services.reservations import collect_reservation, reserve_for_customer
from orders.services.returns import ReturnLineRequest, create_return, receive_return
from tests.conftest import requires_postgres
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, WarehouseFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_returns import bought

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.system()


def _someone_waits_for_a_lock(timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def _is_locked(row) -> bool:
    try:
        with transaction.atomic():
            type(row).objects.select_for_update(nowait=True).filter(pk=row.pk).first()
        return False
    except DatabaseError:
        return True


def held_while_waiting(first, later: list, work) -> list:
    """Hold `first` elsewhere, run `work` in a thread until it waits, and return those of the
    `later` rows it holds meanwhile. Then let it finish; it must succeed."""
    holding, done = threading.Event(), threading.Event()
    outcome: dict = {}

    def blocker() -> None:
        try:
            with transaction.atomic():
                type(first).objects.select_for_update().get(pk=first.pk)
                holding.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    def worker() -> None:
        try:
            outcome["result"] = work()
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=blocker), threading.Thread(target=worker)]
    threads[0].start()
    assert holding.wait(timeout=10)
    threads[1].start()
    try:
        assert _someone_waits_for_a_lock(), "the service never waited for the held row"
        held = [row for row in later if _is_locked(row)]
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    return held


def item(variant, store) -> StockItem:
    return StockItem.objects.get(variant=variant, store=store)


def test_a_partial_hand_over_sells_and_releases_in_one_pass():
    store = StoreFactory()
    given_back, taken = VariantFactory(), VariantFactory()
    stocked(given_back, store, 5)  # the lower stock item id
    stocked(taken, store, 5)
    order = order_services.place_order(
        actor=SYSTEM,
        customer=CustomerFactory(),
        fulfilment=Fulfilment.PICKUP,
        pickup_store=store,
        lines=[(given_back, 1), (taken, 1)],
    )
    order_services.mark_ready_for_pickup(actor=SYSTEM, order=order)
    order.refresh_from_db()
    taken_line = order.lines.get(variant=taken)

    held = held_while_waiting(
        item(given_back, store),
        [item(taken, store)],
        lambda: order_services.hand_over(
            actor=SYSTEM,
            order=order,
            pickup_code=order.pickup_code,
            lines=[(taken_line, 1)],
        ),
    )
    assert held == []
    assert (item(taken, store).on_hand, item(given_back, store).reserved) == (4, 0)
    assert_ledger_consistent()


def test_a_return_restocks_in_stock_item_order_not_return_line_order():
    store = StoreFactory()
    low, high = VariantFactory(), VariantFactory()
    stocked(low, store, 1)
    stocked(high, store, 1)
    order = bought(store=store, lines=[(high, 1, "10.00"), (low, 1, "10.00")])
    by_variant = {line.variant_id: line.pk for line in order.lines.all()}
    # Return lines in the order high, low: the line order disagrees with the stock item order.
    request = create_return(
        actor=SYSTEM,
        order=order,
        store=store,
        lines=[
            ReturnLineRequest(order_line=by_variant[high.pk], quantity=1, reason="too_small"),
            ReturnLineRequest(order_line=by_variant[low.pk], quantity=1, reason="too_small"),
        ],
    )
    conditions = {line.pk: "resellable" for line in request.lines.all()}

    held = held_while_waiting(
        item(low, store),
        [item(high, store)],
        lambda: receive_return(actor=SYSTEM, return_request=request, conditions=conditions),
    )
    assert held == []
    assert (item(low, store).on_hand, item(high, store).on_hand) == (2, 2)
    assert_ledger_consistent()


def test_cancelling_locks_the_customer_before_the_stock():
    store = StoreFactory()
    variant = VariantFactory(price=Decimal("20.00"))
    stocked(variant, store, 3)
    customer = CustomerFactory()
    add_store_credit_entry(customer=customer, amount=Decimal("20.00"), reason="Goodwill")
    order = order_services.place_order(
        actor=SYSTEM,
        customer=customer,
        fulfilment=Fulfilment.PICKUP,
        pickup_store=store,
        lines=[(variant, 1)],
        store_credit_amount=Decimal("20.00"),
    )

    held = held_while_waiting(
        customer,
        [item(variant, store)],
        lambda: order_services.cancel_order(actor=SYSTEM, order=order),
    )
    assert held == []
    assert item(variant, store).reserved == 0


def test_an_order_partly_sent_from_the_warehouse_takes_stock_rows_in_store_id_order():
    depot = WarehouseFactory()  # created first: the lower store id
    store = StoreFactory()
    here, there = VariantFactory(), VariantFactory()
    stocked(here, store, 2)
    stocked(there, depot, 2)
    stocked(there, store, 0)

    held = held_while_waiting(
        item(there, depot),
        [item(here, store)],
        lambda: order_services.place_order(
            actor=SYSTEM,
            customer=CustomerFactory(),
            fulfilment=Fulfilment.PICKUP,
            pickup_store=store,
            lines=[(here, 1), (there, 1)],
        ),
    )
    assert held == []
    assert (item(here, store).reserved, item(there, depot).reserved) == (1, 1)


def test_merging_locks_both_customers_in_id_order():
    duplicate = CustomerFactory()  # the lower id
    survivor = CustomerFactory()

    held = held_while_waiting(
        duplicate,
        [survivor],
        lambda: merge_customers(actor=SYSTEM, survivor=survivor, duplicate=duplicate),
    )
    assert held == []
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk


def test_collecting_part_of_a_reservation_sells_and_releases_in_one_pass():
    store = StoreFactory()
    left, taken = VariantFactory(), VariantFactory()
    stocked(left, store, 5)  # the lower stock item id
    stocked(taken, store, 5)
    reservation = reserve_for_customer(
        actor=SYSTEM, store=store, customer=CustomerFactory(), lines=[(left, 1), (taken, 1)]
    )
    taken_line = reservation.lines.get(variant=taken)

    held = held_while_waiting(
        item(left, store),
        [item(taken, store)],
        lambda: collect_reservation(actor=SYSTEM, reservation=reservation, lines=[(taken_line, 1)]),
    )
    assert held == []
    assert (item(taken, store).on_hand, item(left, store).reserved) == (4, 0)
    assert_ledger_consistent()


def test_an_order_cancelled_while_its_transfer_is_being_received_releases_the_arrived_units():
    """The receipt holds the order's lock (settling it) while the cancellation waits for it: the
    cancellation must then see the transfer as received, not as it was when it started waiting,
    or the arrived units stay reserved for a cancelled order."""
    depot = WarehouseFactory()
    store = StoreFactory()
    variant = VariantFactory()
    stocked(variant, depot, 2)
    stocked(variant, store, 0)
    order = order_services.place_order(
        actor=SYSTEM,
        customer=CustomerFactory(),
        fulfilment=Fulfilment.PICKUP,
        pickup_store=store,
        lines=[(variant, 1)],
    )
    transfer = order.transfer
    dispatch_transfer(actor=SYSTEM, transfer=transfer)
    settling, go_on = threading.Event(), threading.Event()
    real_event = order_services.record_timeline_event

    def slow_timeline_event(**kwargs):
        if kwargs.get("subject_type") == "transfer":  # the receipt, holding the order's lock
            settling.set()
            go_on.wait(timeout=30)
        return real_event(**kwargs)

    outcome: dict = {}

    def run(name, work):
        try:
            outcome[name] = work()
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcome[name] = exc
        finally:
            connection.close()

    with mock.patch.object(order_services, "record_timeline_event", slow_timeline_event):
        receipt = threading.Thread(
            target=run, args=("receipt", lambda: receive_transfer(actor=SYSTEM, transfer=transfer))
        )
        receipt.start()
        assert settling.wait(timeout=10)
        cancelling = threading.Thread(
            target=run,
            args=("cancel", lambda: order_services.cancel_order(actor=SYSTEM, order=order)),
        )
        cancelling.start()
        assert _someone_waits_for_a_lock()
        go_on.set()
        receipt.join(timeout=30)
        cancelling.join(timeout=30)
    assert not isinstance(outcome["receipt"], Exception), outcome["receipt"]
    assert not isinstance(outcome["cancel"], Exception), outcome["cancel"]
    assert item(variant, store).reserved == 0
    assert item(variant, store).on_hand == 1
    assert_ledger_consistent()


def test_a_transfer_receipt_locks_the_orders_it_settles_before_the_stock():
    depot = WarehouseFactory()
    store = StoreFactory()
    variant = VariantFactory()
    stocked(variant, depot, 2)
    stocked(variant, store, 0)
    order = order_services.place_order(
        actor=SYSTEM,
        customer=CustomerFactory(),
        fulfilment=Fulfilment.PICKUP,
        pickup_store=store,
        lines=[(variant, 1)],
    )
    transfer = order.transfer
    dispatch_transfer(actor=SYSTEM, transfer=transfer)

    held = held_while_waiting(
        order,
        [item(variant, store)],
        lambda: receive_transfer(actor=SYSTEM, transfer=transfer),
    )
    assert held == []
    assert item(variant, store).reserved == 1


def test_cancelling_an_order_partly_sent_from_the_warehouse_takes_stock_in_store_id_order():
    depot = WarehouseFactory()  # created first: the lower store id
    store = StoreFactory()
    here, there = VariantFactory(), VariantFactory()
    stocked(here, store, 2)
    stocked(there, depot, 2)
    order = order_services.place_order(
        actor=SYSTEM,
        customer=CustomerFactory(),
        fulfilment=Fulfilment.PICKUP,
        pickup_store=store,
        lines=[(here, 1), (there, 1)],
    )
    assert order.transfer is not None

    held = held_while_waiting(
        item(there, depot),
        [item(here, store)],
        lambda: order_services.cancel_order(actor=SYSTEM, order=order),
    )
    assert held == []
    assert (item(here, store).reserved, item(there, depot).reserved) == (0, 0)
    assert_ledger_consistent()


def test_the_reservation_limit_check_does_not_hold_up_timeline_entries_of_the_customer():
    """A new hold locks the customer; a timeline entry for them (written by a service that
    already holds stock rows) must not wait for that lock, or the two wait on each other."""
    from django.utils import timezone

    from common.rows import insert_rows
    from customers.models import TimelineKind
    from customers.services import record_timeline_event
    from orders.models import Reservation
    from orders.services.reservations import _customer_lock

    customer, store = CustomerFactory(), StoreFactory()
    holding, done = threading.Event(), threading.Event()

    def check_limits() -> None:
        try:
            with transaction.atomic():
                # As the reservation service takes it: with the hold's own rows.
                hold = Reservation(customer=customer, store=store, expires_at=timezone.now())
                insert_rows(hold, locking=_customer_lock(customer))
                holding.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=check_limits)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            record_timeline_event(
                customer=customer,
                kind=TimelineKind.TOUCHPOINT,
                channel="store",
                summary="Goods arrived",
            )
    finally:
        done.set()
        thread.join(timeout=30)
