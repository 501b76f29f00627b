"""Benchmark: click & collect orders through the REST API, served by gunicorn on PostgreSQL.

    .venv/bin/python bench/orders.py [--duration 30] [--clients 16] [--workers 4]

Creates (drops first) a dedicated database, migrates it, creates a store, SKUs with stock, customers
and a webshop API client, starts gunicorn (config.wsgi) on a free local port, and lets N client
threads place pickup orders (POST /api/v1/orders/) and read each one back
(GET /api/v1/orders/{number}/) for the given time. Prints orders/s, p50 and p95 latency for both,
checks that the stock still adds up, and stops gunicorn.
"""

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._setup import Gunicorn, call, make_drill_shop, migrate, recreate_database  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--skus", type=int, default=40, help="SKUs the orders pick from")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database name",
    )
    parser.add_argument("--database", default="omnis_bench_orders")
    return parser.parse_args()


def load(base, key, store_code, skus, customer_ids, clients, duration):
    results = {"post": [], "get": [], "errors": {}}
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    barrier = threading.Barrier(clients)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        post_times, get_times, errors = [], [], {}
        barrier.wait()
        while time.monotonic() < stop_at:
            body = {
                "customer": rng.choice(customer_ids),
                "fulfilment": "pickup",
                "pickup_store": store_code,
                "payment_reference": f"psp_bench_{seed}",
                "lines": [
                    {"sku": sku, "quantity": rng.randint(1, 3)}
                    for sku in rng.sample(skus, rng.randint(1, 3))
                ],
            }
            status, payload, seconds = call("POST", f"{base}/api/v1/orders/", key, body)
            if status != 201:
                errors[status] = errors.get(status, 0) + 1
                continue
            post_times.append(seconds)
            status, _, seconds = call("GET", f"{base}/api/v1/orders/{payload['number']}/", key)
            if status == 200:
                get_times.append(seconds)
            else:
                errors[status] = errors.get(status, 0) + 1
        with lock:
            results["post"] += post_times
            results["get"] += get_times
            for status, count in errors.items():
                results["errors"][status] = results["errors"].get(status, 0) + count

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def report(name: str, values: list[float], duration: float) -> None:
    print(
        f"{name:<28} {len(values) / duration:8.1f}/s   "
        f"p50 {percentile(values, 50) * 1000:7.1f} ms   "
        f"p95 {percentile(values, 95) * 1000:7.1f} ms   ({len(values)} requests)"
    )


def check_stock() -> None:
    from django.db.models import Sum

    from inventory.models import StockItem, StockMovement
    from orders.models.orders import OrderLine

    reserved = StockItem.objects.aggregate(s=Sum("reserved"))["s"] or 0
    ordered = OrderLine.objects.aggregate(s=Sum("quantity"))["s"] or 0
    ledger = StockMovement.objects.aggregate(s=Sum("reserved_delta"))["s"] or 0
    print(f"stock check: reserved {reserved}, ordered {ordered}, ledger {ledger}")
    if not reserved == ordered == ledger:
        raise SystemExit("stock does not add up")


def main() -> None:
    args = parse_args()
    database_url = f"{args.server}/{args.database}"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "",
        # E-mails are rendered and handed to a backend that drops them: no console flood.
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    print(f"preparing {database_url} …")
    recreate_database(args.server, args.database)
    migrate()
    data = make_drill_shop(skus=args.skus, customers=200, units=1_000_000)
    key, store_code, skus, customer_ids = (
        data["key"],
        data["store"],
        data["skus"],
        data["customers"],
    )

    server = Gunicorn(env, args.workers, key)
    try:
        print(
            f"gunicorn: {args.workers} workers on {server.base}; {args.clients} clients for "
            f"{args.duration:.0f} s; pickup orders of 1–3 lines from {len(skus)} SKUs"
        )
        results = load(
            server.base, key, store_code, skus, customer_ids, args.clients, args.duration
        )
    finally:
        server.stop()
    report("POST /api/v1/orders/", results["post"], args.duration)
    report("GET /api/v1/orders/{number}/", results["get"], args.duration)
    if results["errors"]:
        print(f"non-2xx answers: {results['errors']}")
    check_stock()
    # A run whose calls were refused measured nothing: it must not pass for a result.
    if results["errors"] or not results["post"]:
        raise SystemExit("calls failed: the figures above are not a measurement")


if __name__ == "__main__":
    main()
