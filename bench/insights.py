"""Benchmark: the insights on real volumes — 1,000,000 orders and 10,000,000 timeline events.

    BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432 .venv/bin/python bench/insights.py [--scale 1]

Creates (drops first) a dedicated PostgreSQL database, generates a year of a 20-store retailer in
SQL (generate_series, INSERT … SELECT: orders of every channel and fulfilment with their pickup
times, no-shows, holds, returns, store credit, discount codes, refusals for lack of stock and the
customers' timelines), then times the full rebuild of the rollups (manage.py rebuild_insights),
the periodic refresh of the last days, and the API and the desk page (p50/p95 over repeated calls
through Django's test client). `--scale 0.01` is a quick run with a hundredth of the volume.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import DEFAULT_SERVER, django_on_fresh_database, make_catalogue, make_stores, table

# generate_series in PostgreSQL: each table in one statement; random() seeded for repeatability.
ORDERS_SQL = """
INSERT INTO orders_order (created_at, updated_at, number, channel, fulfilment, status,
    shipping_address, payment_status, payment_method, currency, subtotal, discount, total,
    store_credit_used, pickup_code_attempts, ready_at, pickup_deadline, collected_at,
    cancelled_at, shipped_at, customer_id, fulfilment_store_id, pickup_store_id,
    payment_reference)
SELECT created, created, 'B-' || i, channel, fulfilment,
    CASE WHEN fulfilment = 'counter' THEN 'collected'
         WHEN fulfilment = 'delivery' THEN 'delivered'
         WHEN outcome < 0.86 THEN 'collected'
         WHEN outcome < 0.93 THEN 'cancelled' ELSE 'ready_for_pickup' END,
    '{}', 'paid', 'card', 'EUR', total, 0, total, 0, 0,
    CASE WHEN fulfilment = 'pickup' THEN ready END,
    CASE WHEN fulfilment = 'pickup' THEN ready + interval '3 days' END,
    CASE WHEN fulfilment = 'counter' THEN created
         WHEN fulfilment = 'pickup' AND outcome < 0.86
         THEN ready + (20 + random() * 4000) * interval '1 minute' END,
    CASE WHEN fulfilment = 'pickup' AND outcome >= 0.86 AND outcome < 0.93
         THEN ready + interval '3 days 1 hour' END,
    CASE WHEN fulfilment = 'delivery' THEN created + interval '1 day' END,
    customer, store, CASE WHEN fulfilment = 'pickup' THEN store END, ''
FROM (
    SELECT i, created, channel, customer, store, outcome, total,
        CASE WHEN channel = 'store' THEN 'counter'
             WHEN random() < 0.6 THEN 'pickup' ELSE 'delivery' END AS fulfilment,
        created + (5 + random() * random() * 900) * interval '1 minute' AS ready
    FROM (
        SELECT i, %(start)s::timestamptz + (i::float / %(orders)s) * %(days)s * interval '1 day'
                AS created,
            (ARRAY['web', 'web', 'web', 'app', 'app', 'phone', 'store', 'store'])
                [1 + floor(random() * 8)::int] AS channel,
            %(first_customer)s + floor(random() * %(customers)s)::bigint AS customer,
            %(first_store)s + floor(random() * %(stores)s)::bigint AS store,
            random() AS outcome, round((10 + random() * 190)::numeric, 2) AS total
        FROM generate_series(1, %(orders)s) AS i
    ) base
) o
"""

EVENTS_SQL = """
INSERT INTO customers_timelineevent (kind, channel, at, summary, sku, subject_type, subject_id,
    data, customer_id, store_id, campaign)
SELECT (ARRAY['product_view', 'product_view', 'product_view', 'size_filter', 'wishlist_added',
              'reservation_created', 'order_placed', 'order_ready', 'order_collected',
              'return_requested', 'note'])[1 + floor(random() * 11)::int],
    (ARRAY['web', 'web', 'app', 'phone', 'store'])[1 + floor(random() * 5)::int],
    %(start)s::timestamptz + random() * %(days)s * interval '1 day',
    'bench', '', '', '', '{}',
    %(first_customer)s + floor(random() * %(customers)s)::bigint, NULL, ''
FROM generate_series(1, %(events)s)
"""

RESERVATIONS_SQL = """
INSERT INTO orders_reservation (created_at, updated_at, channel, status, release_reason,
    expires_at, extension_count, collected_at, released_at, note, customer_id, store_id)
SELECT created, created, channel,
    CASE WHEN outcome < 0.6 THEN 'collected' ELSE 'released' END,
    CASE WHEN outcome < 0.6 THEN '' WHEN outcome < 0.9 THEN 'expired' ELSE 'cancelled' END,
    created + interval '2 days', 0,
    CASE WHEN outcome < 0.6 THEN created + random() * interval '2 days' END,
    CASE WHEN outcome >= 0.6 THEN created + interval '2 days' END,
    '', customer, store
FROM (
    SELECT %(start)s::timestamptz + random() * %(days)s * interval '1 day' AS created,
        (ARRAY['web', 'phone', 'phone', 'app'])[1 + floor(random() * 4)::int] AS channel,
        random() AS outcome,
        %(first_customer)s + floor(random() * %(customers)s)::bigint AS customer,
        %(first_store)s + floor(random() * %(stores)s)::bigint AS store
    FROM generate_series(1, %(reservations)s)
) r
"""

RETURNS_SQL = """
INSERT INTO orders_return (created_at, updated_at, number, method, channel, status,
    window_override_reason, rejection_reason, customer_id, order_id, store_id)
SELECT o.created_at + interval '5 days', o.created_at + interval '5 days', 'BR-' || o.id,
    CASE WHEN random() < 0.7 THEN 'store' ELSE 'mail' END, o.channel, 'received', '', '',
    o.customer_id, o.id, o.fulfilment_store_id
FROM orders_order o WHERE o.id %% 20 = 0 AND o.status IN ('collected', 'delivered')
"""

SMALL_SQL = [
    # Store credit: issued for a twentieth of the returns, spent on some orders.
    """INSERT INTO customers_storecreditentry (amount, reason, cause_type, cause_id, created_at,
        customer_id)
    SELECT 10.00, 'bench', 'return', rt.id::text, rt.created_at, rt.customer_id
    FROM orders_return rt WHERE rt.id %% 20 = 0""",
    """INSERT INTO customers_storecreditentry (amount, reason, cause_type, cause_id, created_at,
        customer_id)
    SELECT -5.00, 'bench', 'order', o.number, o.created_at, o.customer_id
    FROM orders_order o WHERE o.id %% 500 = 0""",
    """INSERT INTO orders_stockrefusal (at, kind, channel, lines, store_id)
    SELECT %(start)s::timestamptz + random() * %(days)s * interval '1 day',
        (ARRAY['order', 'reservation', 'sale'])[1 + floor(random() * 3)::int],
        (ARRAY['web', 'app', 'phone', 'store'])[1 + floor(random() * 4)::int], '[]',
        %(first_store)s + floor(random() * %(stores)s)::bigint
    FROM generate_series(1, %(refusals)s)""",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 1M orders, 10M events")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=20, help="timed calls per request")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--database", default="omnis_insights_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="time a database kept by --keep; generate nothing"
    )
    return parser.parse_args()


def timed(what: str, timings: list, fn):
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    timings.append([what, f"{seconds:.1f} s"])
    print(f"  {what}: {seconds:.1f} s", flush=True)
    return result


def _without_secondary_indexes(cursor, tables: list[str], load) -> None:
    """Bulk loads go faster into bare tables: drop the plain indexes, load, create them again."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        [tables],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    load()
    for _, definition in indexes:
        cursor.execute(definition)


def generate(args, timings: list) -> tuple[date, date]:
    from django.db import connection

    from customers.models import Customer

    stores = make_stores(args.stores)
    make_catalogue(100)
    customers = max(int(200_000 * args.scale), 100)
    last = date.today()
    first = last - timedelta(days=args.days - 1)
    params = {
        "start": f"{first.isoformat()} 00:00:00+01",
        "days": args.days,
        "orders": max(int(1_000_000 * args.scale), 1000),
        "events": max(int(10_000_000 * args.scale), 10_000),
        "reservations": max(int(100_000 * args.scale), 100),
        "refusals": max(int(20_000 * args.scale), 20),
        "customers": customers,
        "stores": args.stores,
        "first_store": min(s.pk for s in stores),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")

        def people():
            cursor.execute(
                "INSERT INTO customers_customer (created_at, updated_at, first_name, last_name, "
                "email, source_channel, postcode, sizes, favourite_categories, contact_channel, "
                "marketing_consent, marketing_consent_source) "
                "SELECT now(), now(), 'Bench', 'Kunde ' || i, 'bench' || i || '@example.com', "
                "'web', '', '{}', '[]', 'email', false, '' FROM generate_series(1, %s) i",
                [customers],
            )

        timed(f"{customers:,} customers", timings, people)
        params["first_customer"] = Customer.objects.order_by("pk").values_list("pk", flat=True)[0]

        def run(sql):
            return lambda: cursor.execute(sql, params)

        timed(
            f"{params['orders']:,} orders",
            timings,
            lambda: _without_secondary_indexes(cursor, ["orders_order"], run(ORDERS_SQL)),
        )
        timed(
            f"{params['events']:,} timeline events",
            timings,
            lambda: _without_secondary_indexes(
                cursor, ["customers_timelineevent"], run(EVENTS_SQL)
            ),
        )
        timed(f"{params['reservations']:,} holds", timings, run(RESERVATIONS_SQL))
        timed(
            "returns, store credit, refusals",
            timings,
            lambda: [cursor.execute(sql, params) for sql in (RETURNS_SQL, *SMALL_SQL)],
        )
        timed("ANALYZE", timings, lambda: cursor.execute("ANALYZE"))
        cursor.execute("SELECT count(*) FROM orders_order")
        print(f"  orders: {cursor.fetchone()[0]:,}", flush=True)
        cursor.execute("SELECT count(*) FROM customers_timelineevent")
        print(f"  timeline events: {cursor.fetchone()[0]:,}", flush=True)
    return first, last


def latency(client, url: str, calls: int) -> tuple[float, float, float]:
    """The first call (nothing cached yet), then p50 and p95 of `calls` more."""
    started = time.perf_counter()
    response = client.get(url)
    first = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return first, statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    args = parse_args()
    print(f"Database {args.database} on {args.server} (scale {args.scale})", flush=True)
    if args.reuse:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
        os.environ["DJANGO_DEBUG"] = "0"
        import django

        django.setup()
        from django.core.management import call_command as migrate_first

        migrate_first("migrate", verbosity=0, interactive=False)
    else:
        django_on_fresh_database(args.server, args.database)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from orders.insights import rollups

    timings: list = []
    if args.reuse:
        last = date.today()
        first = last - timedelta(days=args.days - 1)
    else:
        print("Generating", flush=True)
        first, last = generate(args, timings)
    print("Rollups", flush=True)
    if args.reuse:
        timed(
            f"whole-retailer sums ({args.days} days)",
            timings,
            lambda: rollups.sum_whole_retailer(first, last),
        )
    else:
        timed(
            f"full rebuild ({args.days} days)",
            timings,
            lambda: call_command("rebuild_insights", "--from", str(first), "--to", str(last)),
        )
    timed(
        f"periodic refresh (last {rollups.REFRESH_DAYS} days)",
        timings,
        lambda: rollups.refresh_recent(last),
    )

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-manager", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    from stores.models import Store

    store = Store.objects.order_by("code").first().code
    requests = [
        ("API: KPIs, 12 weeks, whole retailer", "/api/v1/insights/kpis/"),
        ("API: KPIs, 12 months, whole retailer", "/api/v1/insights/kpis/?period=month"),
        (
            "API: KPIs, 30 days, one store",
            f"/api/v1/insights/kpis/?period=day&store={store}",
        ),
        ("API: journeys, 3 months", "/api/v1/insights/journeys/"),
        ("desk page, 12 weeks, whole retailer", "/desk/insights/"),
        ("desk page, 12 months, one store", f"/desk/insights/?period=month&store={store}"),
        ("one chart (SVG), 12 weeks", "/desk/insights/chart/pickup_minutes.svg"),
        ("CSV of one chart, 12 months", "/desk/insights/orders_by_channel.csv?period=month"),
        ("for comparison: API store list", "/api/v1/stores/"),
    ]
    rows = []
    for what, url in requests:
        first_call, p50, p95 = latency(client, url, args.calls)
        rows.append([what, f"{first_call:.0f}", f"{p50:.0f}", f"{p95:.0f}"])
        print(
            f"  {what}: first {first_call:.0f} ms, p50 {p50:.0f} ms, p95 {p95:.0f} ms", flush=True
        )
    print()
    print(table(["step", "time"], timings))
    print()
    print(table(["request", "first call ms", "p50 ms", "p95 ms"], rows))
    if not args.keep:
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("OMNIS_LOG_LEVEL", "WARNING")
    main()
