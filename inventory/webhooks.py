"""What a `stock.changed` webhook carries: the stock of one SKU in one store when it is sent."""

from common import webhooks
from inventory.models import StockItem


def stock_changed(stock_item_ids) -> None:
    """Called where ledger rows are written: subscribers hear of each row's SKU and store once
    per burst, with the stock as it is when the event is sent."""
    webhooks.publish_coalesced("stock.changed", subjects=[f"stock:{pk}" for pk in stock_item_ids])


@webhooks.data_reader("stock.changed")
def read_stock(subject: str) -> dict | None:
    item = (
        StockItem.objects.select_related("variant", "store")
        .filter(pk=int(subject.removeprefix("stock:")))
        .first()
    )
    if item is None:
        return None
    return {
        "sku": item.variant.sku,
        "store": item.store.code,
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "available": item.available,
    }
