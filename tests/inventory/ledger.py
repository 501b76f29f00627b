"""Assertions on invariant 1: quantities equal the ledger's sum, 0 <= reserved <= on_hand."""

from django.db.models import Sum
from django.db.models.functions import Coalesce

from inventory.models import StockItem


def assert_ledger_consistent() -> None:
    items = StockItem.objects.annotate(
        ledger_on_hand=Coalesce(Sum("movements__on_hand_delta"), 0),
        ledger_reserved=Coalesce(Sum("movements__reserved_delta"), 0),
    )
    for item in items:
        assert 0 <= item.reserved <= item.on_hand, item
        assert (item.on_hand, item.reserved) == (item.ledger_on_hand, item.ledger_reserved), item
