"""The demo retailer's returns: every state, through the services, safe to seed again."""

from io import StringIO

import pytest
from django.core.management import call_command

from orders.demo_returns import JULIA, seed_returns
from orders.models import Order, Return, ReturnStatus
from tests.inventory.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def test_demo_has_returns_in_every_state_and_seeds_once():
    call_command("seed_demo", products=40, customers=40, verbosity=0)

    returns = list(Return.objects.prefetch_related("refunds"))
    assert {r.status for r in returns} == set(ReturnStatus.values)
    refunded = [r for r in returns if r.status == ReturnStatus.REFUNDED]
    assert {refund.method for r in refunded for refund in r.refunds.all()} == {
        "original",
        "store_credit",
    }
    assert any(r.method == "mail" for r in returns)
    # Journeys 3 and 7: Julia's orders are handed over and not yet returned.
    julia_orders = Order.objects.filter(
        customer__email=JULIA, status__in=["delivered", "collected"]
    )
    assert {o.channel for o in julia_orders} >= {"web"}
    assert not Return.objects.filter(customer__email=JULIA).exists()
    assert_ledger_consistent()

    assert seed_returns(stdout=StringIO()) == 0
    assert Return.objects.count() == len(returns)
