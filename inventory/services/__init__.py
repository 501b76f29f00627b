"""Stock services: every change of on_hand or reserved, each with its ledger rows.

Only this package writes StockItem quantities and StockMovement rows. Every service is one
transaction, takes stock rows in the global lock order stated in stock.py, and is run again after
a deadlock or serialization failure when it is the outermost transaction (common.retry). A
reservation is a conditional UPDATE that only succeeds while enough is available, so concurrent
callers can never promise the same unit twice.

    stock.py      receive, adjust_to_count, set_safety_stock, reserve, release, sell,
                  lock_stock_rows, restock_return, mark_damaged
    counts.py     apply_counts (many counts at once: the ERP import)
    transfers.py  create_transfer, dispatch_transfer, receive_transfer, cancel_transfer
"""

from inventory.services._ledger import CausedStockLine, StockLine
from inventory.services.counts import CountOutcome, StockCount, apply_counts
from inventory.services.stock import (
    adjust_to_count,
    lock_stock_rows,
    mark_damaged,
    receive,
    release,
    reserve,
    restock_return,
    sell,
    set_safety_stock,
)
from inventory.services.transfers import (
    cancel_transfer,
    create_transfer,
    dispatch_transfer,
    receive_transfer,
)

__all__ = [
    "CausedStockLine",
    "CountOutcome",
    "StockCount",
    "StockLine",
    "adjust_to_count",
    "apply_counts",
    "cancel_transfer",
    "create_transfer",
    "dispatch_transfer",
    "lock_stock_rows",
    "mark_damaged",
    "receive",
    "receive_transfer",
    "release",
    "reserve",
    "restock_return",
    "sell",
    "set_safety_stock",
]
