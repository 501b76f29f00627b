"""A return's refund, rejection, counter return and a refund's retry are run again when the
database picks them as a deadlock's victim: one outcome, written once."""

from decimal import Decimal

import pytest

from common.actor import Actor
from orders.models import Refund, RefundStatus, ReturnStatus
from orders.services import refunds as refund_services
from orders.services import returns as return_services
from orders.services.returns import ReturnLineRequest
from tests.common.test_retry import deadlocking
from tests.factories import StoreFactory, VariantFactory
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.OMNIS_BUSY_RETRIES = 3
    settings.OMNIS_BUSY_RETRY_BASE_DELAY = 0.001


SYSTEM = Actor.system()


@pytest.fixture
def order():
    store = StoreFactory()
    return bought(store=store, lines=[(VariantFactory(price=Decimal("30.00")), 2, "30.00")])


def announced(order, quantity=1):
    line = order.lines.get()
    return return_services.create_return(
        actor=SYSTEM,
        order=order,
        store=order.pickup_store or order.fulfilment_store,
        lines=[ReturnLineRequest(order_line=line.pk, quantity=quantity, reason="too_small")],
    )


def received(return_request):
    return return_services.receive_return(
        actor=SYSTEM,
        return_request=return_request,
        conditions={line.pk: "resellable" for line in return_request.lines.all()},
    )


def test_a_refund_hit_by_a_deadlock_is_run_again_and_books_one_refund(order):
    return_request = received(announced(order))
    calls, patch = deadlocking(return_services, "_record_status", times=1)
    with patch:
        (refund,) = return_services.refund_return(
            actor=SYSTEM, return_request=return_request, method="store_credit"
        )

    assert len(calls) >= 2
    assert refund.amount == Decimal("30.00")
    assert Refund.objects.filter(return_request=return_request).count() == 1
    return_request.refresh_from_db()
    assert return_request.status == ReturnStatus.REFUNDED


def test_a_rejection_hit_by_a_deadlock_is_run_again(order):
    return_request = announced(order)
    calls, patch = deadlocking(return_services, "_record_status", times=1)
    with patch:
        return_services.reject_return(
            actor=SYSTEM, return_request=return_request, reason="Not bought here"
        )

    assert len(calls) == 2
    return_request.refresh_from_db()
    assert return_request.status == ReturnStatus.REJECTED
    assert return_request.history.count() == 2  # requested, rejected: once each


def test_a_counter_return_hit_by_a_deadlock_is_run_again_and_written_once(order):
    line = order.lines.get()
    calls, patch = deadlocking(return_services, "_record_status", times=1)
    with patch:
        return_request, refunds = return_services.counter_return(
            actor=SYSTEM,
            order=order,
            store=order.pickup_store or order.fulfilment_store,
            lines=[ReturnLineRequest(order_line=line.pk, quantity=1, reason="too_small")],
            conditions=["resellable"],
            refund_method="store_credit",
        )

    assert len(calls) >= 2
    assert order.returns.count() == 1
    assert [r.amount for r in refunds] == [Decimal("30.00")]
    assert return_request.status == ReturnStatus.REFUNDED


def test_a_refunds_retry_hit_by_a_deadlock_is_run_again(order):
    return_request = received(announced(order))
    (refund,) = return_services.refund_return(
        actor=SYSTEM, return_request=return_request, method="original"
    )
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED)
    refund.refresh_from_db()
    calls, patch = deadlocking(refund_services, "settle_payment_status", times=1)
    with patch:
        retried = refund_services.retry_refund(actor=SYSTEM, refund=refund)

    assert len(calls) >= 2
    assert retried.status != RefundStatus.FAILED
