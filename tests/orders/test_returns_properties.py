"""Invariant 3 for any split of a line into returns: what is refunded never exceeds what was paid,
and returning everything pays back exactly what the line cost after its discounts."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from common.actor import Actor
from orders.services.returns import (
    NothingToRefund,
    ReturnLineRequest,
    create_return,
    receive_return,
    refund_due,
    refund_return,
)
from tests.factories import StoreFactory, VariantFactory
from tests.orders.factories_returns import bought

SYSTEM = Actor.system()
cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100)


@st.composite
def purchases(draw):
    quantity = draw(st.integers(min_value=1, max_value=7))
    unit_price = draw(cents)
    line_discount = draw(st.integers(min_value=0, max_value=int(unit_price * quantity * 100)))
    splits, left = [], quantity
    while left:
        part = draw(st.integers(min_value=1, max_value=left))
        splits.append(part)
        left -= part
    order_discount_share = draw(st.sampled_from([0, 0, 10, 33]))
    return quantity, unit_price, Decimal(line_discount) / 100, splits, order_discount_share


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(purchase=purchases(), method=st.sampled_from(["original", "store_credit"]))
# A middle return worth nothing after rounding must not lose the last cent.
@example(purchase=(3, Decimal("0.01"), Decimal("0.01"), [1, 1, 1], 0), method="original")
def test_refunds_never_exceed_what_was_paid(purchase, method):
    quantity, unit_price, line_discount, splits, order_discount_share = purchase
    store = StoreFactory(code="PRP-01")
    line_total = unit_price * quantity - line_discount
    order_discount = (line_total * order_discount_share / 100).quantize(Decimal("0.01"))
    order = bought(
        store=store,
        lines=[(VariantFactory(), quantity, unit_price, line_discount)],
        order_discount=order_discount,
    )
    line = order.lines.get()

    refunded = Decimal("0.00")
    for part in splits:
        r = create_return(
            actor=SYSTEM,
            order=order,
            store=store,
            lines=[ReturnLineRequest(order_line=line.pk, quantity=part, reason="other")],
        )
        receive_return(actor=SYSTEM, return_request=r, conditions={r.lines.get().pk: "damaged"})
        if refund_due(r) == 0:
            # Worth nothing after discounts and rounding (or all paid back): refused, not zero.
            with pytest.raises(NothingToRefund):
                refund_return(actor=SYSTEM, return_request=r, method=method)
            continue
        amounts = [x.amount for x in refund_return(actor=SYSTEM, return_request=r, method=method)]
        assert all(a >= 0 for a in amounts)
        refunded += sum(amounts)
        assert refunded <= order.total

    assert refunded == order.total
