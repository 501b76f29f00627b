"""Deadlocks and serialization failures: retried around the outermost transaction, then a 503."""

import threading
from unittest import mock

import psycopg.errors
import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings

from common.retry import Busy, is_retryable, retry_when_busy
from inventory.models import StockItem
from orders.models.orders import Order
from orders.services import orders as order_services
from tests.conftest import requires_postgres
from tests.factories import CustomerFactory, StoreFactory, VariantFactory
from tests.orders.factories_orders import stocked_variant

FAST = override_settings(OMNIS_BUSY_RETRIES=3, OMNIS_BUSY_RETRY_BASE_DELAY=0.001)


def deadlock() -> OperationalError:
    """What Django raises when PostgreSQL picks this transaction as a deadlock's victim."""
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


def serialization_failure() -> OperationalError:
    error = OperationalError("could not serialize access")
    error.__cause__ = psycopg.errors.SerializationFailure("could not serialize access")
    return error


def failing(times: int, make=deadlock):
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise make()
        return "done"

    return calls, work


@FAST
def test_a_deadlock_is_retried_and_then_succeeds():
    calls, work = failing(2)
    assert retry_when_busy(work)() == "done"
    assert len(calls) == 3


@FAST
def test_a_serialization_failure_is_retried_too():
    calls, work = failing(1, serialization_failure)
    assert retry_when_busy(work)() == "done"
    assert len(calls) == 2


@FAST
def test_after_the_last_attempt_the_caller_gets_busy_not_a_database_error():
    calls, work = failing(99)
    with pytest.raises(Busy) as refused:
        retry_when_busy(work)()
    assert len(calls) == 3
    assert refused.value.code == "busy_try_again"
    assert refused.value.status == 503
    assert is_retryable(refused.value.__cause__)


@FAST
def test_other_database_errors_are_not_retried():
    calls: list[int] = []

    @retry_when_busy
    def work():
        calls.append(1)
        raise OperationalError("disk full")

    with pytest.raises(OperationalError):
        work()
    assert len(calls) == 1


@FAST
@pytest.mark.django_db
def test_inside_an_atomic_block_only_the_outermost_level_retries():
    calls, work = failing(1)
    inner = retry_when_busy(work)
    with pytest.raises(OperationalError), transaction.atomic():
        inner()  # the enclosing transaction is aborted: running again here cannot help
    assert len(calls) == 1


def place(api, customer, store, variant, **headers):
    body = {
        "customer": customer.pk,
        "fulfilment": "pickup",
        "pickup_store": store.code,
        "lines": [{"sku": variant.sku, "quantity": 1}],
        "payment_reference": "psp_pay_retry",
    }
    return api.post("/api/v1/orders/", body, format="json", **headers)


def deadlocking(module, name: str, times: int):
    """`module.name`, a deadlock's victim the first `times` times it is called: (calls, patch)."""
    real = getattr(module, name)
    calls: list[int] = []

    def victim(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise deadlock()
        return real(*args, **kwargs)

    return calls, mock.patch.object(module, name, victim)


def deadlocking_create(times: int):
    """Order creation that is a deadlock's victim the first `times` times."""
    return deadlocking(order_services, "_create_order", times)


@FAST
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "k-deadlock"}])
def test_an_api_post_that_hits_a_deadlock_is_run_again(web, headers):
    store = StoreFactory()
    variant = stocked_variant(store, 3)
    calls, patched = deadlocking_create(1)
    with patched:
        response = place(web, CustomerFactory(), store, variant, **headers)
    assert response.status_code == 201, response.json()
    assert len(calls) == 2
    assert Order.objects.count() == 1
    assert StockItem.objects.get(variant=variant, store=store).reserved == 1


@FAST
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "k-busy"}])
def test_an_api_post_that_keeps_deadlocking_answers_503_with_retry_after(web, headers):
    store = StoreFactory()
    variant = stocked_variant(store, 3)
    customer = CustomerFactory()
    calls, patched = deadlocking_create(99)
    with patched:
        response = place(web, customer, store, variant, **headers)
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "busy_try_again"
    assert len(calls) == 3
    assert Order.objects.count() == 0
    # Nothing was remembered for the key: the client's retry runs the work again.
    again = place(web, customer, store, variant, **headers)
    assert again.status_code == 201


@requires_postgres
@pytest.mark.postgres
@FAST
@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_between_two_callers_is_retried_by_the_victim():
    store = StoreFactory()
    first, second = (
        StockItem.objects.create(store=store, variant=VariantFactory()) for _ in range(2)
    )
    both_hold_one = threading.Barrier(2)
    attempts: list[str] = []
    results: dict[str, object] = {}

    @retry_when_busy
    @transaction.atomic
    def lock_both(name: str, a: StockItem, b: StockItem) -> str:
        attempts.append(name)
        StockItem.objects.select_for_update().get(pk=a.pk)
        if attempts.count(name) == 1:
            both_hold_one.wait(timeout=10)  # only the first attempts cross each other
        StockItem.objects.select_for_update().get(pk=b.pk)
        return "ok"

    def run(name: str, a: StockItem, b: StockItem) -> None:
        try:
            results[name] = lock_both(name, a, b)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("ab", first, second)),
        threading.Thread(target=run, args=("ba", second, first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"ab": "ok", "ba": "ok"}
    assert len(attempts) == 3  # PostgreSQL aborted one of the two once
