"""Periodic stock checks. Read-only, so running twice or concurrently is harmless."""

import logging
import time

from celery import shared_task

from common.metrics import record_stock_check
from inventory.selectors import stock_offenders

logger = logging.getLogger(__name__)


@shared_task(name="inventory.tasks.check_stock_ledger")
def check_stock_ledger(max_logged: int = 100) -> int:
    """Nightly: log every stock item that disagrees with its ledger; returns how many do."""
    found = 0
    for offender in stock_offenders():
        found += 1
        if found <= max_logged:
            logger.error(
                "Stock item %s (%s @ %s) breaks the stock invariants: %s",
                offender.stock_item_id,
                offender.sku,
                offender.store,
                "; ".join(offender.problems),
            )
    if found:
        logger.error("%s stock items break the stock invariants; run manage.py check_stock", found)
    record_stock_check(offenders=found, checked_at=time.time())
    return found
