"""Benchmark: click & collect orders through the REST API, served by gunicorn on PostgreSQL.

    .venv/bin/python bench/orders.py [--duration 30] [--clients 16] [--workers 4]

Creates (drops first) a dedicated database, migrates it, creates stores, SKUs with stock, customers
and a webshop API client, starts gunicorn (config.wsgi) on a free local port, and lets N client
threads place pickup orders (POST /api/v1/orders/) and read each one back
(GET /api/v1/orders/{number}/) for the given time. Prints orders/s, p50 and p95 latency for both,
checks that the stock still adds up, and stops gunicorn.
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare_data(skus: int, customers: int) -> tuple[str, str, list[str], list[int]]:
    """Migrate, then create the retailer's data through the services; returns the API key."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from decimal import Decimal

    from common.actor import Actor
    from common.auth import create_api_client_key
    from common.models import Channel
    from customers.models import Customer
    from inventory import services as stock
    from inventory.models import Category, Product, Variant
    from inventory.validators import ean13_check_digit
    from stores.models import Store

    store = Store.objects.create(
        code="BER-01",
        name="Berlin Mitte",
        street="Alexanderplatz 1",
        postcode="10178",
        city="Berlin",
        latitude=Decimal("52.521918"),
        longitude=Decimal("13.413215"),
    )
    category = Category.objects.create(name="Tools", slug="tools")
    variants = []
    for n in range(skus):
        product = Product.objects.create(name=f"Drill {n}", category=category)
        first12 = f"400{n:09d}"
        variants.append(
            Variant.objects.create(
                product=product,
                sku=f"DRL-{n:05d}",
                ean=first12 + str(ean13_check_digit(first12)),
                price=Decimal("99.90"),
            )
        )
    stock.receive(
        actor=Actor.system(), store=store, lines=[(v, 1_000_000) for v in variants], reason="bench"
    )
    customer_ids = [
        Customer.objects.create(email=f"bench{n}@example.de", first_name="Bench").pk
        for n in range(customers)
    ]
    _, key = create_api_client_key(name="bench-webshop", channel=Channel.WEB)
    return key, store.code, [v.sku for v in variants], customer_ids


def wait_for_server(base: str, key: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited early")
        try:
            request = urllib.request.Request(
                f"{base}/api/v1/orders/W-000000/", headers={"Authorization": f"Token {key}"}
            )
            urllib.request.urlopen(request, timeout=2)
        except urllib.error.HTTPError:
            return  # 404: the application answers
        except OSError:
            time.sleep(0.3)
        else:
            return
    raise SystemExit("gunicorn did not answer in time")


def call(method: str, url: str, key: str, body: dict | None = None) -> tuple[int, dict, float]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read() or b"null")
            status = response.status
    except urllib.error.HTTPError as exc:
        payload = json.loads(exc.read() or b"null")
        status = exc.code
    return status, payload, time.perf_counter() - started


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
    key, store_code, skus, customer_ids = prepare_data(args.skus, 200)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "--timeout", "60"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_server(base, key, server)
        print(
            f"gunicorn: {args.workers} workers on {base}; {args.clients} clients for "
            f"{args.duration:.0f} s; pickup orders of 1–3 lines from {len(skus)} SKUs"
        )
        results = load(base, key, store_code, skus, customer_ids, args.clients, args.duration)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
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
