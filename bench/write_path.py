"""Benchmark: what the write path costs over HTTP, as a multiple of the cheapest authenticated GET.

    .venv/bin/python bench/write_path.py [--seconds 2] [--workers 2,4] [--broker redis://…/N]

Creates (drops first) a dedicated PostgreSQL database with one store, 40 SKUs with plenty of stock,
200 customers, a webshop API key and a store manager's token, then starts gunicorn (config.wsgi,
sync workers, persistent database connections) once per set-up: 2 and 4 workers, each without a
broker (the embedded default: the outbox is relayed in-process after the response) and with one
(`--broker`, default BENCH_BROKER or redis://127.0.0.1:6379/14; the set-ups with a broker are
skipped when it cannot be reached). In each set-up every operation runs for `--seconds` at 1 and
at 10 clients, in three turns with the GET measured before, between and after them:

  GET /api/v1/stores/?pickup=true          the cheapest authenticated GET (the yardstick)
  GET /api/v1/availability/?sku=… ×20       stock of 20 SKUs
  POST /api/v1/reservations/               a hold of one SKU
  POST /api/v1/orders/ (1 and 3 lines)     click & collect orders
  POST …/hand-over/                        an order made ready beforehand (not timed)
  return + refund                          POST /returns/, …/receive/, …/refund/ (3 calls)

Printed per operation: calls per second, p50 and p95, and the cost as a multiple of the GET
measured beside it (the machine's speed drifts within a set-up; a ratio compares like with like):
p50 ÷ the GET's p50 at 1 client (the work of one call), rate of the GET ÷ rate of the operation
at 10 clients (what it takes from the machine). The GET's own row sums all its windows. The targets (set-ups with a
broker) are checked at the end; exit status 1 when one is missed or a call failed.
"""

import argparse
import os
import random
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._setup import (  # noqa: E402
    Gunicorn,
    call,
    drop_database,
    make_drill_shop,
    migrate,
    recreate_database,
    table,
)

# operation → highest allowed multiple of the GET (set-ups with a broker).
TARGETS = {"reservation": 2.5, "order 1 line": 3.0, "order 3 lines": 3.0, "availability 20": 1.5}
SKUS = 40
YARDSTICK = "GET (yardstick)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per operation and level")
    parser.add_argument("--clients", default="1,10", help="client threads, comma-separated")
    parser.add_argument("--workers", default="2,4", help="gunicorn workers, comma-separated")
    parser.add_argument(
        "--broker",
        default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14"),
        help="Celery broker for the set-ups with one ('' for none)",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database name",
    )
    parser.add_argument("--database", default="omnis_bench_http")
    return parser.parse_args()


# --- the data --------------------------------------------------------------------------------


def vacuum(server: str, name: str) -> None:
    """Each set-up starts from a database at rest: the one before left dead row versions behind
    (every call rewrites a stock row of only 40), which autovacuum would clear in its own time."""
    import psycopg

    with psycopg.connect(f"{server}/{name}", autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def prepare_data() -> dict:
    """Migrate, then the shop (through the services) and a store manager's token."""
    migrate()
    from django.db import connection

    from common.auth import issue_user_token
    from stores.models import StaffRole, Store
    from stores.services import create_or_update_staff

    data = make_drill_shop(skus=SKUS, customers=200, units=10_000_000)
    manager, _ = create_or_update_staff(
        username="bench-manager",
        stores=[Store.objects.get(code=data["store"])],
        role=StaffRole.MANAGER,
        password="Xq7-lantern-Otter-4411",
    )
    data["staff"] = issue_user_token(manager)
    connection.close()
    return data


# --- HTTP ------------------------------------------------------------------------------------


def broker_reachable(url: str) -> bool:
    if not url:
        return False
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


# --- the operations --------------------------------------------------------------------------


class Pool:
    """Orders handed from one operation to the next (placed → ready → handed over → returned)."""

    def __init__(self) -> None:
        self._items: list = []
        self._lock = threading.Lock()

    def put(self, item) -> None:
        with self._lock:
            self._items.append(item)

    def take(self):
        with self._lock:
            return self._items.pop() if self._items else None

    def drain(self) -> list:
        with self._lock:
            items, self._items = self._items, []
            return items


def operations(base: str, data: dict, pools: dict) -> dict:
    """name → function(rng) returning (status, seconds) or None when there is nothing to do."""
    key, staff, store = data["key"], data["staff"], data["store"]
    skus, customers = data["skus"], data["customers"]
    availability = f"{base}/api/v1/availability/?" + "&".join(f"sku={s}" for s in skus[:20])

    def get(rng):
        status, _, seconds = call("GET", f"{base}/api/v1/stores/?pickup=true", key)
        return status, seconds

    def stock(rng):
        status, _, seconds = call("GET", availability, key)
        return status, seconds

    def reserve(rng):
        body = {
            "customer": rng.choice(customers),
            "store": store,
            "lines": [{"sku": rng.choice(skus), "quantity": 1}],
        }
        status, _, seconds = call("POST", f"{base}/api/v1/reservations/", key, body)
        return status, seconds

    def order(lines: int):
        def place(rng):
            body = {
                "customer": rng.choice(customers),
                "fulfilment": "pickup",
                "pickup_store": store,
                "payment_reference": "psp_bench",
                "lines": [{"sku": s, "quantity": 1} for s in rng.sample(skus, lines)],
            }
            status, payload, seconds = call("POST", f"{base}/api/v1/orders/", key, body)
            if status == 201:
                pools["placed"].put(payload["number"])
            return status, seconds

        return place

    def hand_over(rng):
        ready = pools["ready"].take()
        if ready is None:
            return None
        number, code = ready
        url = f"{base}/api/v1/staff/orders/{number}/hand-over/"
        status, payload, seconds = call("POST", url, staff, {"pickup_code": code})
        if status == 200:
            pools["collected"].put((number, payload["lines"][0]["id"]))
        return status, seconds

    def return_and_refund(rng):
        collected = pools["collected"].take()
        if collected is None:
            return None
        number, line_id = collected
        body = {
            "order": number,
            "store": store,
            "lines": [{"order_line": line_id, "quantity": 1, "reason": "too_small"}],
        }
        status, created, total = call("POST", f"{base}/api/v1/returns/", key, body)
        if status != 201:
            return status, total
        pk = created["id"]
        receive = {"lines": [{"return_line": created["lines"][0]["id"], "condition": "resellable"}]}
        status, _, seconds = call(
            "POST", f"{base}/api/v1/staff/returns/{pk}/receive/", staff, receive
        )
        total += seconds
        if status != 200:
            return status, total
        status, _, seconds = call(
            "POST", f"{base}/api/v1/staff/returns/{pk}/refund/", staff, {"method": "original"}
        )
        return status, total + seconds

    return {
        YARDSTICK: get,
        "availability 20": stock,
        "reservation": reserve,
        "order 1 line": order(1),
        "order 3 lines": order(3),
        "hand-over": hand_over,
        "return + refund (3 calls)": return_and_refund,
    }


def make_ready(base: str, staff: str, pools: dict, threads: int = 8) -> None:
    """Untimed: the orders placed so far are picked (ready), their codes kept for the hand-over."""
    numbers = pools["placed"].drain()
    queue = list(numbers)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                number = queue.pop()
            status, payload, _ = call("POST", f"{base}/api/v1/staff/orders/{number}/ready/", staff)
            if status == 200:
                pools["ready"].put((number, payload["pickup_code"]))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


def measure(function, clients: int, seconds: float) -> dict:
    times: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[float] = []
        failed: Counter = Counter()
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            outcome = function(rng)
            if outcome is None:
                break  # nothing left to hand over or return
            status, elapsed = outcome
            if 200 <= status < 300:
                mine.append(elapsed)
            else:
                failed[status] += 1
        with lock:
            times.extend(mine)
            errors.update(failed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + seconds
    started = time.monotonic()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    rate = len(times) / elapsed if elapsed else 0.0
    return {"times": times, "errors": errors, "elapsed": elapsed, "rate": rate}


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def merged(*results: dict) -> dict:
    """Several windows of one operation as one: all their calls, their summed time."""
    times = [t for r in results for t in r["times"]]
    elapsed = sum(r["elapsed"] for r in results)
    errors: Counter = Counter()
    for r in results:
        errors.update(r["errors"])
    return {"times": times, "errors": errors, "elapsed": elapsed, "rate": len(times) / elapsed}


def run_setup(label: str, env: dict, workers: int, data: dict, args, levels: list[int]) -> list:
    """(operation, clients, result, the GET measured beside it) for every operation and level.

    Each operation runs in three turns with the GET measured before, between and after them
    (two thirds of the operation's time in all), and is compared with those windows: the
    machine's speed drifts within a set-up (another process, the database's own upkeep), and a
    ratio must compare like with like."""
    server = Gunicorn(env, workers, data["key"])
    pools = {"placed": Pool(), "ready": Pool(), "collected": Pool()}
    results = []
    try:
        ops = operations(server.base, data, pools)
        get = ops.pop(YARDSTICK)
        # Warm every worker (imports, connections, prepared statements) before anything is timed.
        warm = random.Random(0)
        for _ in range(3 * workers):
            get(warm)
            for name in ("availability 20", "reservation", "order 1 line"):
                ops[name](warm)
        pools["placed"].drain()
        gets: dict[int, list] = {clients: [] for clients in levels}
        for name, function in ops.items():
            if name == "hand-over":
                make_ready(server.base, data["staff"], pools)
            for clients in levels:
                print(f"  {label}: {name}, {clients} client(s) …", flush=True)
                # Three turns of the operation, the GET before, between and after them.
                turns, windows = [], [measure(get, clients, args.seconds / 6)]
                for _ in range(3):
                    turns.append(measure(function, clients, args.seconds / 3))
                    windows.append(measure(get, clients, args.seconds / 6))
                result, beside = merged(*turns), merged(*windows)
                gets[clients].append(beside)
                results.append((name, clients, result, beside))
        yardstick = [(YARDSTICK, clients, merged(*gets[clients]), None) for clients in levels]
    finally:
        server.stop()
    return yardstick + results


def rows_for(label: str, results: list) -> tuple[list[list], dict, Counter]:
    rows, ratios, errors = [], {}, Counter()
    for name, clients, result, beside in results:
        times = result["times"]
        p50 = percentile(times, 50)
        if beside is None:
            ratio = 1.0
        elif clients == 1:
            ratio = p50 / percentile(beside["times"], 50)
        else:
            ratio = beside["rate"] / result["rate"] if result["rate"] else float("inf")
        ratios[(name, clients)] = ratio
        errors.update({f"{name} {status}": n for status, n in result["errors"].items()})
        rows.append(
            [
                label,
                name,
                clients,
                len(times),
                f"{result['rate']:.1f}",
                f"{p50 * 1000:.1f}",
                f"{percentile(times, 95) * 1000:.1f}",
                f"{ratio:.2f}",
            ]
        )
    return rows, ratios, errors


def main() -> int:
    args = parse_args()
    levels = [int(n) for n in args.clients.split(",")]
    worker_counts = [int(n) for n in args.workers.split(",")]
    database_url = f"{args.server}/{args.database}"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "600",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
        # The benchmark's one key and one login call far more often than a real client does.
        "OMNIS_THROTTLE_CLIENT": "10000000/min",
        "OMNIS_THROTTLE_STAFF": "10000000/min",
        "OMNIS_RESERVATION_MAX_ACTIVE": "1000000",
        "CELERY_BROKER_URL": "",
    }
    os.environ.update(env)
    load = os.getloadavg()
    print(f"preparing {database_url} … (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    recreate_database(args.server, args.database)
    data = prepare_data()
    setups = [("no broker", "")]
    if broker_reachable(args.broker):
        setups.append(("broker", args.broker))
    else:
        print(f"broker {args.broker or '(none)'} not reachable: set-ups with a broker skipped")
    all_rows, ratios, errors = [], {}, Counter()
    started = time.monotonic()
    try:
        for broker_label, broker in setups:
            for workers in worker_counts:
                label = f"{workers}w {broker_label}"
                setup_env = env | {"CELERY_BROKER_URL": broker}
                vacuum(args.server, args.database)
                results = run_setup(label, setup_env, workers, data, args, levels)
                rows, setup_ratios, setup_errors = rows_for(label, results)
                all_rows += rows
                ratios.update({(label, *k): v for k, v in setup_ratios.items()})
                errors.update(setup_errors)
    finally:
        if any(broker for _, broker in setups):
            purge_broker(args.broker)
        drop_database(args.server, args.database)
    headers = ["set-up", "operation", "clients", "calls", "calls/s", "p50 ms", "p95 ms", "× GET"]
    print()
    print(table(headers, all_rows))
    load = os.getloadavg()
    print(
        f"\n{time.monotonic() - started:.0f} s; load average at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. × GET, against the GET measured between the "
        "operation's turns: p50 ÷ its p50 at 1 client, its calls/s ÷ calls/s at more."
    )
    missed = [
        f"{label} {name} at {clients} client(s): {ratio:.2f} > {TARGETS[name]}"
        for (label, name, clients), ratio in sorted(ratios.items())
        if label.endswith(" broker")
        and not label.endswith("no broker")
        and name in TARGETS
        and ratio > TARGETS[name]
    ]
    limits = ", ".join(f"{name} ≤ {limit}×" for name, limit in TARGETS.items())
    if len(setups) > 1:
        print(f"targets (set-ups with a broker): {limits}" + ("" if missed else ": all met"))
    else:
        print(f"targets not checked (no broker): {limits}")
    for line in missed:
        print(f"missed: {line}")
    if errors:
        print(f"failed calls: {dict(errors)}")
    return 1 if missed or errors else 0


def purge_broker(url: str) -> None:
    """The runs queued relay kicks for no worker: leave the broker's database as it was."""
    try:
        import redis

        redis.Redis.from_url(url).delete("celery")
    except Exception as exc:  # noqa: BLE001 - best effort, the figures are printed anyway
        print(f"could not empty the broker queue: {exc}")


if __name__ == "__main__":
    sys.exit(main())
