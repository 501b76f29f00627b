"""manage.py import_stock FILE.csv: absolute stock counts from the ERP (sku,store,on_hand).

Good rows become adjustment movements, applied in batches (one transaction each); a count equal
to what is on hand writes nothing, so running the same file again changes nothing. Rows with an
unknown SKU or store, a bad number or missing fields are reported with their line number and
skipped; counts below what is reserved are reported and not applied.
"""

import csv
import os
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.actor import Actor
from inventory import services
from inventory.models import CauseType, Variant
from inventory.services import StockCount
from stores.selectors import active_stores

COLUMNS = ("sku", "store", "on_hand")
# The largest count a stock adjustment takes (the API refuses more, too).
MAX_COUNT = 10_000_000


@dataclass
class ImportReport:
    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.problems.append((line, message))


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


class Command(BaseCommand):
    help = "Import absolute stock counts (CSV: sku,store,on_hand) from the ERP."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file with the columns sku,store,on_hand")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument(
            "--max-report", type=int, default=200, help="Problem lines printed (all are counted)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, file: str, batch_size: int, max_report: int, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.stores = {s.code: s for s in active_stores()}
        self.variant_ids: dict[str, int | None] = {}
        self.actor = Actor.system()
        self.source = os.path.basename(file)[:40]
        report = ImportReport()
        progress = tqdm(
            total=_count_lines(file),
            unit=" rows",
            unit_scale=True,
            disable=options["no_progress"],
            file=self.stderr._out,
            desc="import_stock",
        )
        batch: list[tuple[int, str, str, int]] = []
        batch_no = 0
        with open(file, newline="", encoding="utf-8-sig") as f, progress:
            reader = csv.reader(f)
            for row in reader:
                line = reader.line_num
                progress.update(1)
                if line == 1 and [c.strip().lower() for c in row] == list(COLUMNS):
                    continue
                parsed = self._parse(line, row, report)
                if parsed is not None:
                    batch.append(parsed)
                if len(batch) >= batch_size:
                    batch_no += 1
                    self._apply(batch, batch_no, report)
                    batch = []
            if batch:
                batch_no += 1
                self._apply(batch, batch_no, report)
        self._print(report, max_report)

    def _parse(self, line: int, row: list[str], report: ImportReport):
        if not row or all(not c.strip() for c in row):
            return None
        report.rows += 1
        if len(row) != len(COLUMNS):
            report.add(line, f"expected 3 fields sku,store,on_hand, found {len(row)}")
            return None
        sku, code, raw = (c.strip() for c in row)
        try:
            counted = int(raw)
        except ValueError:
            report.add(line, f"on_hand {raw!r} is not a whole number")
            return None
        if counted < 0:
            report.add(line, f"on_hand {counted} is negative")
            return None
        if counted > MAX_COUNT:
            # A stock column holds 32 bits; a count this high is a typo, not a shelf.
            report.add(line, f"on_hand {counted} is more than {MAX_COUNT}")
            return None
        if code not in self.stores:
            report.add(line, f"unknown store {code!r}")
            return None
        if not sku:
            report.add(line, "sku is empty")
            return None
        return line, sku, code, counted

    def _resolve(self, skus: set[str]) -> None:
        unknown = [s for s in skus if s not in self.variant_ids]
        if unknown:
            found = dict(Variant.objects.filter(sku__in=unknown).values_list("sku", "id"))
            for sku in unknown:
                self.variant_ids[sku] = found.get(sku)

    def _apply(self, batch, batch_no: int, report: ImportReport) -> None:
        self._resolve({sku for _, sku, _, _ in batch})
        counts = []
        for line, sku, code, counted in batch:
            variant_id = self.variant_ids[sku]
            if variant_id is None:
                report.add(line, f"unknown SKU {sku!r}")
                continue
            counts.append(StockCount(self.stores[code], variant_id, counted, ref=f"line {line}"))
        outcome = services.apply_counts(
            actor=self.actor,
            counts=counts,
            reason=f"ERP count {self.source}",
            cause_type=CauseType.IMPORT_BATCH,
            cause_id=f"{self.source}#{batch_no}",
        )
        report.changed += outcome.changed
        report.unchanged += outcome.unchanged
        for count, reserved in outcome.below_reserved:
            line = int(count.ref.removeprefix("line "))
            report.add(
                line,
                f"count {count.counted} is below the {reserved} reserved at {count.store.code}; "
                "not applied",
            )

    def _print(self, report: ImportReport, max_report: int) -> None:
        problems = sorted(report.problems)
        for line, message in problems[:max_report]:
            self.stdout.write(f"line {line}: {message}")
        if len(problems) > max_report:
            self.stdout.write(f"… and {len(problems) - max_report} more problem lines")
        style = self.style.WARNING if problems else self.style.SUCCESS
        self.stdout.write(
            style(
                f"{report.rows} rows: {report.changed} changed, {report.unchanged} unchanged, "
                f"{len(problems)} skipped or refused."
            )
        )
