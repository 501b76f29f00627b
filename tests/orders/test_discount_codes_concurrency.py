"""20 orders race for a discount code: never more redemptions than the code's uses; the code row
is taken before the customer and stock rows (the global lock order)."""

from decimal import Decimal

import pytest

from customers.discounts import DiscountCodeInvalid
from customers.services import add_store_credit_entry
from inventory.models import StockItem
from orders.models import DiscountRedemption, Order
from orders.services.orders import place_order
from tests.conftest import requires_postgres
from tests.customers.factories_discounts import discount_code
from tests.factories import CustomerFactory
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import stocked_variant, web_actor
from tests.orders.test_lock_order import held_while_waiting
from tests.orders.test_reservations_concurrency import run_together

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 20


@pytest.mark.parametrize(("max_uses", "bound"), [(1, True), (3, False)])
def test_racing_orders_get_exactly_the_codes_uses(store, max_uses, bound):
    customers = (
        [CustomerFactory()] * RACERS if bound else [CustomerFactory() for _ in range(RACERS)]
    )
    code = discount_code(
        store, customer=customers[0] if bound else None, percent=Decimal("10"), max_uses=max_uses
    )
    variant = stocked_variant(store, RACERS * 2)

    def order_for(customer):
        return lambda: place_order(
            actor=web_actor(),
            customer=customer,
            fulfilment="pickup",
            pickup_store=store,
            lines=[(variant, 1)],
            discount_code=code.code,
        )

    results = run_together(*(order_for(c) for c in customers))

    placed = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, DiscountCodeInvalid)]
    assert len(placed) == max_uses, results
    assert len(refused) == RACERS - max_uses, results
    assert {e.extra["reason"] for e in refused} == {"used_up"}
    code.refresh_from_db()
    assert code.uses == max_uses
    # The refused orders wrote nothing: no order, no redemption, no reserved stock.
    assert Order.objects.count() == max_uses
    assert DiscountRedemption.objects.filter(code=code).count() == max_uses
    assert all(o.discount == Decimal("1.99") for o in Order.objects.all())
    assert StockItem.objects.get(variant=variant, store=store).reserved == max_uses
    assert_ledger_consistent()


def test_an_order_waiting_for_its_code_holds_no_customer_or_stock_row(store):
    customer = CustomerFactory()
    add_store_credit_entry(customer=customer, amount=Decimal("5.00"), reason="Return R-1")
    code = discount_code(store, customer=customer, amount=Decimal("5.00"))
    variant = stocked_variant(store, 5)

    held = held_while_waiting(
        code,
        [customer, StockItem.objects.get(variant=variant, store=store)],
        lambda: place_order(
            actor=web_actor(),
            customer=customer,
            fulfilment="pickup",
            pickup_store=store,
            lines=[(variant, 1)],
            store_credit_amount=Decimal("5.00"),
            discount_code=code.code,
        ),
    )
    assert held == []
    order = Order.objects.get()
    assert (order.discount, order.store_credit_used, order.total) == (
        Decimal("5.00"),
        Decimal("5.00"),
        Decimal("14.90"),
    )
