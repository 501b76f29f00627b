"""Benchmark: the ERP stock import (manage.py import_stock) with a million rows, and check_stock.

    .venv/bin/python bench/import.py [--rows 1000000] [--stores 20] [--batch-size 5000]

Creates (drops first) the database omnis_bench_import with its own stores and SKUs
(rows / stores SKUs, every SKU in every store), writes the CSV into a temporary directory, then
times: the first import (every row a new stock item and an adjustment movement), the same file
again (must change nothing), a file where 10 % of the counts differ, and check_stock over all
stock items. Shows the import's progress bar. Target: the first import under 2 minutes.
"""

import argparse
import csv
import random
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

from _setup import DEFAULT_SERVER, django_on_fresh_database, make_catalogue, make_stores, table

TARGET_SECONDS = 120


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--database", default="omnis_bench_import")
    return parser.parse_args()


def write_csv(path: Path, skus: list[str], codes: list[str], counts: dict) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["sku", "store", "on_hand"])
        for sku in skus:
            for code in codes:
                out.writerow([sku, code, counts[sku, code]])


def main() -> int:
    args = parse_args()
    skus_needed = max(args.rows // args.stores, 1)
    print(f"Preparing {args.database}: {args.stores} stores, {skus_needed:,} SKUs …", flush=True)
    django_on_fresh_database(args.server, args.database)

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from inventory.models import StockItem, StockMovement

    stores = make_stores(args.stores)
    variants = make_catalogue(skus_needed)
    skus = [v.sku for v in variants]
    codes = [s.code for s in stores]
    rng = random.Random(7)
    # Never 0, so that every row of the first file really creates a stock item.
    counts = {(sku, code): rng.randint(1, 60) for sku in skus for code in codes}
    rows = len(counts)
    results = []

    def timed_import(label: str, path: Path) -> str:
        out = StringIO()
        started = time.perf_counter()
        call_command("import_stock", str(path), batch_size=args.batch_size, stdout=out)
        seconds = time.perf_counter() - started
        summary = out.getvalue().strip().splitlines()[-1]
        results.append([label, f"{rows:,}", f"{seconds:.1f}", f"{rows / seconds:,.0f}", summary])
        print(f"  {label}: {seconds:.1f} s — {summary}", flush=True)
        return summary

    with tempfile.TemporaryDirectory(prefix="omnis-bench-") as tmp:
        first = Path(tmp) / "erp-stock.csv"
        write_csv(first, skus, codes, counts)
        size_mb = first.stat().st_size / 1e6
        print(f"CSV: {rows:,} rows, {size_mb:.0f} MB in {tmp}", flush=True)

        first_summary = timed_import("first import", first)
        again_summary = timed_import("same file again", first)
        for key in rng.sample(sorted(counts), rows // 10):
            counts[key] += rng.choice((-1, 1)) if counts[key] > 1 else 1
        changed = Path(tmp) / "erp-stock-changed.csv"
        write_csv(changed, skus, codes, counts)
        timed_import("10 % changed", changed)

    started = time.perf_counter()
    out = StringIO()
    try:
        call_command("check_stock", stdout=out)
        check = "passed"
    except CommandError as exc:
        check = f"FAILED: {exc}"
    seconds = time.perf_counter() - started
    items = StockItem.objects.count()
    results.append(
        ["check_stock", f"{items:,} items", f"{seconds:.1f}", f"{items / seconds:,.0f}", check]
    )

    print()
    print(table(["run", "rows", "seconds", "rows/s", "result"], results))
    print(f"\nstock items: {items:,}, ledger rows: {StockMovement.objects.count():,}")
    first_seconds = float(results[0][2])
    ok = f"{rows} changed" in first_summary and "0 changed" in again_summary and check == "passed"
    print(
        f"First import of {rows:,} rows: {first_seconds:.0f} s "
        f"(target < {TARGET_SECONDS} s: {'met' if first_seconds < TARGET_SECONDS else 'NOT met'})."
    )
    if not ok:
        print("Something is wrong: see the results above.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
