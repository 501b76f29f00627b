"""Orders already handed over, ready to be returned (built directly, without the order workflow)."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from common.auth import issue_user_token
from common.models import Channel
from orders.models import Fulfilment, Order, OrderLine, OrderStatus, PaymentStatus
from stores.models import StaffRole
from tests.conftest import token_client
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, staff_user


class HandedOverOrderFactory(DjangoModelFactory):
    """A store purchase (collected at the counter, paid by card)."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T-{n + 1:06d}")
    channel = Channel.STORE
    fulfilment = Fulfilment.COUNTER
    status = OrderStatus.COLLECTED
    customer = factory.SubFactory(CustomerFactory)
    fulfilment_store = factory.SubFactory(StoreFactory)
    payment_status = PaymentStatus.PAID
    payment_method = "card"
    collected_at = factory.LazyFunction(timezone.now)


class HandedOverLineFactory(DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(HandedOverOrderFactory)
    variant = factory.SubFactory(VariantFactory)
    sku = factory.LazyAttribute(lambda o: o.variant.sku)
    name = factory.LazyAttribute(lambda o: o.variant.product.name)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.variant.price)
    discount = Decimal("0.00")
    handed_over = factory.LazyAttribute(lambda o: o.quantity)


def bought(
    *,
    customer=None,
    store=None,
    lines: list[tuple] = (),
    days_ago: int = 1,
    channel: str = Channel.STORE,
    order_discount: Decimal = Decimal("0.00"),
    store_credit_used: Decimal = Decimal("0.00"),
    payment_method: str = "card",
    **order_fields,
) -> Order:
    """An order handed over `days_ago` days ago. `lines`: (variant, quantity, unit_price[, line
    discount]) tuples; totals are computed like the checkout does."""
    kwargs = {"channel": channel, "payment_method": payment_method, **order_fields}
    if customer is not None:
        kwargs["customer"] = customer
    if store is not None:
        kwargs["fulfilment_store"] = store
    when = timezone.now() - timedelta(days=days_ago)
    if channel != Channel.STORE and "fulfilment" not in kwargs:
        kwargs["fulfilment"] = Fulfilment.DELIVERY
        kwargs["status"] = OrderStatus.DELIVERED
        kwargs["delivered_at"] = when
        kwargs["collected_at"] = None
    else:
        kwargs.setdefault("collected_at", when)
    order = HandedOverOrderFactory(**kwargs)
    subtotal = Decimal("0.00")
    for spec in lines or [(VariantFactory(), 1, Decimal("19.90"))]:
        variant, quantity, unit_price, *rest = spec
        discount = rest[0] if rest else Decimal("0.00")
        line = HandedOverLineFactory(
            order=order,
            variant=variant,
            quantity=quantity,
            unit_price=Decimal(unit_price),
            discount=Decimal(discount),
        )
        subtotal += line.line_total
    order.subtotal = subtotal
    order.discount = order_discount
    order.total = subtotal - order_discount
    order.store_credit_used = store_credit_used
    order.save()
    Order.objects.filter(pk=order.pk).update(created_at=when)
    order.refresh_from_db()
    return order


def staff_api(*stores, role: str = StaffRole.STORE_STAFF):
    """An API client logged in with the token of a staff member of `stores`."""
    user = staff_user(*stores, role=role)
    api = token_client(issue_user_token(user))
    api.user = user
    return api
