"""manage.py check_stock: invariant 1 for every stock item (exit status 1 with the offenders).

Quantities must equal the ledger's sum and 0 <= reserved <= on_hand. The ledger is summed by the
database in one pass and the offenders are streamed, so a million stock items take seconds.
"""

from django.core.management.base import BaseCommand, CommandError

from inventory.models import StockItem
from inventory.selectors import stock_offenders


class Command(BaseCommand):
    help = "Check that every stock item matches its ledger and 0 <= reserved <= on_hand."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-report", type=int, default=1000, help="Offenders printed (all are counted)."
        )

    def handle(self, *args, max_report: int, **options):
        total = StockItem.objects.count()
        found = 0
        for offender in stock_offenders():
            found += 1
            if found <= max_report:
                self.stdout.write(
                    f"{offender.sku} @ {offender.store} (stock item {offender.stock_item_id}): "
                    + "; ".join(offender.problems)
                )
        if found:
            if found > max_report:
                self.stdout.write(f"… and {found - max_report} more")
            raise CommandError(
                f"{found} of {total} stock items break the stock invariants.", returncode=1
            )
        self.stdout.write(self.style.SUCCESS(f"{total} stock items match their ledger."))
