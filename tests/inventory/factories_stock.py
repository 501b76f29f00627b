"""Stock for tests, always through the ledger so that check_stock holds."""

from common.actor import Actor
from inventory import services
from inventory.models import StockItem, Variant
from stores.models import Store


def stocked(variant: Variant, store: Store, on_hand: int, safety_stock: int = 0) -> StockItem:
    """A StockItem with `on_hand` units received through inventory.services.receive."""
    system = Actor.system()
    if on_hand:
        services.receive(actor=system, store=store, lines=[(variant, on_hand)], reason="Test stock")
    if safety_stock or not on_hand:
        services.set_safety_stock(actor=system, store=store, variant=variant, quantity=safety_stock)
    return StockItem.objects.get(variant=variant, store=store)
