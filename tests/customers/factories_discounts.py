"""Discount codes for tests, always issued through the service."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.discounts import issue_discount_code
from customers.models import DiscountCode
from stores.models import Store
from tests.factories import staff_user


def clerk(store: Store) -> Actor:
    return Actor(
        user=staff_user(store, first_name="Jana", last_name="Vogel"), channel=Channel.STORE
    )


def discount_code(store: Store, **kwargs) -> DiscountCode:
    """A code issued by a salesperson in `store`: 10 % for one use, valid a week, unless told."""
    if "amount" not in kwargs:
        kwargs.setdefault("percent", Decimal("10"))
    kwargs.setdefault("valid_until", timezone.now() + timedelta(days=7))
    return issue_discount_code(
        actor=kwargs.pop("actor", None) or clerk(store), store=store, **kwargs
    )
