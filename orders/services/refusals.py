"""Demand we could not serve: an order, hold or till sale refused for lack of stock is recorded.

The refused work rolls back with its transaction; the record is written after that, on the
refusal's way out (in the caller's transaction if there is one, e.g. an Idempotency-Key's, which
keeps the 409 it answers), so only the failure path costs a statement.
"""

import functools
import logging
from collections.abc import Callable

from django.db import DatabaseError

from inventory.exceptions import InsufficientStock
from orders.models import StockRefusal

log = logging.getLogger(__name__)


def record_stock_refusal(
    *, kind: str, channel: str, store_id: int | None, shortage: InsufficientStock
) -> None:
    """Write one StockRefusal; a failure to write it never hides the refusal itself."""
    lines = [
        {k: line.get(k) for k in ("sku", "requested", "available")} for line in shortage.short_lines
    ]
    try:
        StockRefusal.objects.create(kind=kind, channel=channel, store_id=store_id, lines=lines)
    except DatabaseError:
        log.exception("Could not record a refusal for lack of stock")


def records_stock_refusals(kind: str, store_of: Callable[[dict], object]):
    """Decorate a service that raises InsufficientStock: the refusal is recorded, then re-raised.

    `store_of(kwargs)` names the store that lacked the stock (None: no warehouse had it).
    """

    def decorate(service):
        @functools.wraps(service)
        def wrapper(**kwargs):
            try:
                return service(**kwargs)
            except InsufficientStock as shortage:
                store = store_of(kwargs)
                actor = kwargs.get("actor")
                record_stock_refusal(
                    kind=kind,
                    channel=kwargs.get("channel") or getattr(actor, "channel", "") or "store",
                    store_id=getattr(store, "pk", None),
                    shortage=shortage,
                )
                raise

        return wrapper

    return decorate
