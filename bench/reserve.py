"""Benchmark: reservations per second through inventory.services.reserve vs. raw SQL.

    .venv/bin/python bench/reserve.py [--threads 1,4,16] [--seconds 5] [--skus 10000]

Creates (drops first) the database omnis_bench_reserve, one store and 10,000 SKUs with plenty
of stock (through the ledger). Then, for N threads, each thread reserves 1 unit after another
(a) of one hot SKU, (b) of a random SKU out of 10,000 — once through the service and once as the
same transaction written by hand (one conditional UPDATE plus one ledger INSERT, the stock row's
id known in advance): the ceiling. Prints reservations/s for both and the ratio; the target is
service ≥ 0.5 × raw for random SKUs. Ends with check_stock on everything written.
"""

import argparse
import random
import sys
import threading
import time

from _setup import DEFAULT_SERVER, django_on_fresh_database, make_catalogue, make_stores, table

ROUNDS = 3
RAW_UPDATE = (
    "UPDATE inventory_stockitem SET reserved = reserved + %s, updated_at = now() "
    "WHERE id = %s AND on_hand - reserved - safety_stock >= %s"
)
RAW_INSERT = (
    "INSERT INTO inventory_stockmovement (stock_item_id, kind, on_hand_delta, reserved_delta, "
    "cause_type, cause_id, reason, created_at) "
    "VALUES (%s, 'reserve', 0, %s, 'order_line', %s, '', now())"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--database", default="omnis_bench_reserve")
    return parser.parse_args()


def measure(threads: int, seconds: float, one_reservation) -> float:
    """Reservations per second: `threads` callers looping for `seconds`."""
    from django.db import connection

    counts = [0] * threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def caller(i: int) -> None:
        rng = random.Random(i)
        try:
            connection.ensure_connection()
            barrier.wait()
            n = 0
            while not stop.is_set():
                one_reservation(rng, f"{i}-{n}")
                n += 1
            counts[i] = n
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def main() -> int:
    args = parse_args()
    thread_counts = [int(n) for n in args.threads.split(",")]
    print(f"Preparing {args.database}: 1 store, {args.skus} SKUs …", flush=True)
    django_on_fresh_database(args.server, args.database)

    from django.core.management import call_command
    from django.db import connection, transaction

    from common.actor import Actor
    from inventory import services
    from inventory.models import CauseType, StockItem
    from inventory.services import StockCount

    store = make_stores(1)[0]
    variants = make_catalogue(args.skus)
    for start in range(0, len(variants), 5000):
        services.apply_counts(
            actor=Actor.system(),
            counts=[StockCount(store, v.pk, 1_000_000) for v in variants[start : start + 5000]],
            reason="Bench opening stock",
        )
    item_ids = dict(StockItem.objects.filter(store=store).values_list("variant_id", "id"))
    hot = variants[0]
    system = Actor.system()

    def via_service(pick):
        def one(rng, cause_id):
            variant = pick(rng)
            services.reserve(
                actor=system,
                store=store,
                lines=[(variant, 1, cause_id)],
                cause_type=CauseType.ORDER_LINE,
            )

        return one

    def via_raw_sql(pick):
        def one(rng, cause_id):
            item_id = item_ids[pick(rng).pk]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(RAW_UPDATE, [1, item_id, 1])
                if cursor.rowcount != 1:
                    raise RuntimeError("out of stock: the bench needs more opening stock")
                cursor.execute(RAW_INSERT, [item_id, 1, cause_id])

        return one

    scenarios = {
        "hot SKU": lambda rng: hot,
        f"random of {args.skus}": lambda rng: variants[rng.randrange(len(variants))],
    }
    rows = []
    ratios_random = []
    for name, pick in scenarios.items():
        for threads in thread_counts:
            # Alternate short rounds so that a load spike on the machine hits both sides alike.
            service = raw = 0.0
            for _ in range(ROUNDS):
                service += measure(threads, args.seconds / ROUNDS, via_service(pick)) / ROUNDS
                raw += measure(threads, args.seconds / ROUNDS, via_raw_sql(pick)) / ROUNDS
            ratio = service / raw if raw else 0
            if name.startswith("random"):
                ratios_random.append(ratio)
            rows.append([name, threads, f"{service:,.0f}", f"{raw:,.0f}", f"{ratio:.2f}"])
            print(f"  {name}, {threads} threads: {service:,.0f}/s vs {raw:,.0f}/s", flush=True)

    print()
    print(table(["SKUs", "threads", "service res/s", "raw SQL res/s", "service/raw"], rows))
    target_met = min(ratios_random) >= 0.5
    print(
        f"\nRandom SKUs: service reaches {min(ratios_random):.2f}–{max(ratios_random):.2f} of the "
        f"raw-SQL ceiling (target ≥ 0.50: {'met' if target_met else 'NOT met'})."
    )
    print("check_stock on everything written:", flush=True)
    call_command("check_stock")
    return 0


if __name__ == "__main__":
    sys.exit(main())
