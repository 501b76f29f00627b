"""The till: a sale at the store counter from the shelf, paid in cash, by card or store credit.

The sale is an order like any other (channel store, fulfilment counter, collected at once), so
it shows in the customer's timeline, teaches their sizes and can be returned at any store by
scanning the receipt's barcode. Stock leaves the shelf through inventory's `sell`.
"""

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction

from common import outbox
from common.actor import Actor
from common.errors import InvalidInput
from common.retry import retry_when_busy
from customers.models import Customer
from customers.services import (
    add_store_credit_entry,
    is_walk_in,
    store_credit_balance,
    walk_in_customer,
)
from inventory import services as stock
from inventory.models import CauseType, Variant
from orders.models.insights import RefusalKind
from orders.models.orders import Order
from orders.services.orders import _check_lines, create_counter_sale
from orders.services.refusals import records_stock_refusals
from stores.models import Store


class PaymentMethod:
    CASH = "cash"
    CARD = "card"
    STORE_CREDIT = "store_credit"
    CHOICES = (CASH, CARD, STORE_CREDIT)


def receipt_code(order: Order) -> str:
    """What the receipt's barcode holds: the order number, which the returns counter looks up."""
    return order.number


@records_stock_refusals(RefusalKind.SALE, lambda kw: kw.get("store"))
@retry_when_busy
def sell_at_till(
    *,
    actor: Actor,
    store: Store,
    lines: Sequence[tuple[Variant, int]],
    payment_method: str,
    customer: Customer | None = None,
    discount_code: str | None = None,
) -> Order:
    """Sell shelf stock at the counter in one transaction and queue the receipt to the customer.

    Without a customer the sale goes to the walk-in record (no receipt is sent). Store credit pays
    the whole total and needs a known customer with that balance. A discount code is spent as on
    any order (customers.discounts: 409 discount_code_invalid when it may not be used). Raises InvalidInput (400, field
    errors) for bad lines, store, payment or customer, InsufficientStock (409) naming each line
    the shelf lacks (reserved units are promised to others), CustomerConflict when the credit
    was spent concurrently. Nothing is written when it raises.
    """
    errors: dict[str, list] = {}
    if store is None or not (store.is_active and store.sells_in_store):
        errors["store"] = ["This location does not sell at a till."]
    if payment_method not in PaymentMethod.CHOICES:
        errors["payment_method"] = [f"Use one of {', '.join(PaymentMethod.CHOICES)}."]
    if customer is not None and (customer.pk is None or customer.merged_into_id):
        errors["customer"] = ["An existing customer is needed (merged records are aliases)."]
    errors.update(_check_lines(list(lines)))
    if not errors and payment_method == PaymentMethod.STORE_CREDIT and not discount_code:
        total = sum((v.price * q for v, q in lines), Decimal("0.00"))
        if customer is None:
            errors["payment_method"] = ["Store credit needs the customer."]
        elif store_credit_balance(customer) < total:
            errors["payment_method"] = [
                f"Only {store_credit_balance(customer)} store credit available."
            ]
    if errors:
        raise InvalidInput("Invalid sale.", errors=errors)

    buyer = customer or walk_in_customer()
    with transaction.atomic():
        if payment_method == PaymentMethod.STORE_CREDIT and customer is None:
            raise InvalidInput(
                "Invalid sale.", errors={"payment_method": ["Store credit needs the customer."]}
            )
        order = create_counter_sale(
            actor=actor, customer=buyer, store=store, lines=list(lines), discount_code=discount_code
        )
        order.payment_method = payment_method
        if payment_method == PaymentMethod.STORE_CREDIT:
            # Locks the customer's row (the global order: before the stock rows sold below).
            add_store_credit_entry(
                customer=buyer,
                amount=-order.total,
                reason=f"Spent on order {order.number}",
                cause_type="order",
                cause_id=order.number,
            )
            order.store_credit_used = order.total
        order.save(update_fields=["payment_method", "store_credit_used", "updated_at"])
        stock.sell(
            actor=actor,
            store=store,
            lines=[(line.variant, line.quantity, str(line.pk)) for line in order.lines.all()],
            cause_type=CauseType.ORDER_LINE,
            from_reserved=False,
            reason=f"Sold at the till, order {order.number}",
        )
        if not is_walk_in(buyer):
            outbox.enqueue("orders.send_receipt", {"order_id": order.pk})
    return order
