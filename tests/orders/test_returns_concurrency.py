"""Two counters returning the same order line at the same moment never exceed what was bought."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from common.actor import Actor
from common.errors import ApplicationError
from orders.models import Return, ReturnLine
from orders.services import returns as returns_service
from orders.services.returns import (
    ReturnLineRequest,
    create_return,
    receive_return,
    refund_return,
)
from tests.conftest import requires_postgres
from tests.factories import StoreFactory, VariantFactory
from tests.orders.factories_returns import bought

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(jobs):
    """Start every job at the same moment, each on its own database connection."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def slow_count(monkeypatch):
    """Widen the gap between counting what is returnable and writing the return, so that the
    test would catch two transactions that both count before either writes."""
    original = returns_service._in_returns

    def counted_then_pause(order_line_ids):
        result = original(order_line_ids)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(returns_service, "_in_returns", counted_then_pause)


def test_two_counters_cannot_return_the_same_unit_twice(slow_count):
    berlin, hamburg = StoreFactory(code="BER-01"), StoreFactory(code="HAM-01")
    order = bought(store=berlin, lines=[(VariantFactory(), 3, Decimal("10.00"))])
    line = order.lines.get()

    def counter(store, quantity):
        def job():
            r = create_return(
                actor=Actor.system(),
                order=order,
                store=store,
                lines=[ReturnLineRequest(order_line=line.pk, quantity=quantity, reason="other")],
            )
            receive_return(
                actor=Actor.system(),
                return_request=r,
                conditions={r.lines.get().pk: "resellable"},
            )
            return r

        return job

    for _ in range(3):
        results = run_together([counter(berlin, 2), counter(hamburg, 2)])
        # Exactly one counter wins each time the line still has 2 units; afterwards none.
        assert sum(isinstance(r, Return) for r in results) <= 1
        assert all(isinstance(r, Return | ApplicationError) for r in results), results

    line.refresh_from_db()
    held = sum(ReturnLine.objects.filter(order_line=line).values_list("quantity", flat=True))
    assert held == line.returned == 2
    assert line.returned <= line.handed_over


def test_two_refunds_of_one_return_pay_once():
    store = StoreFactory(code="BER-01")
    order = bought(store=store, lines=[(VariantFactory(), 1, Decimal("10.00"))])
    r = create_return(
        actor=Actor.system(),
        order=order,
        store=store,
        lines=[ReturnLineRequest(order_line=order.lines.get().pk, quantity=1, reason="other")],
    )
    receive_return(actor=Actor.system(), return_request=r, conditions={r.lines.get().pk: "damaged"})

    results = run_together(
        [lambda: refund_return(actor=Actor.system(), return_request=r, method="original")] * 2
    )

    assert sum(isinstance(x, list) for x in results) == 1
    assert [getattr(x, "code", None) for x in results if not isinstance(x, list)] == [
        "already_refunded"
    ]
    assert sum(x.amount for x in order.refunds.all()) == Decimal("10.00")
