"""The daily rollups behind the insights, refreshed in SQL.

A day is a calendar day in the deployment's time zone (settings.TIME_ZONE): its bounds are
computed here and passed to each statement, so the same SQL runs on SQLite and PostgreSQL without
date functions. Each figure is counted on the day its event happened (an order on the day it was
placed, a pickup on the day it was collected), which is why refreshing the last few days catches
everything that changed. Refreshing a day deletes and re-inserts its rows in one transaction, so
running it twice, or concurrently with the page, gives the same numbers.

Minutes from order to ready and from ready to hand-over are kept as histograms per day (buckets
of 5 minutes under an hour, 15 minutes under 4 hours, an hour under a day, 6 hours under a week,
one bucket beyond), so p50/p90 of any period are combined from the days' buckets: an exact
percentile of a day cannot be merged with the next day's, a histogram can. A percentile is the
upper edge of the bucket holding it ("half were ready within 35 minutes").

Distinct customers do not add up over days: CustomerDay keeps each customer's channels and spend
per day, and CustomerFigure counts them for each day, ISO week and month. Journeys are each
customer's sequence of touchpoints within a calendar month (JourneyFigure).
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from time import time_ns
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from customers.models import TimelineKind
from customers.services import WALK_IN_EMAIL
from orders.models import CustomerFigure, JourneyFigure, PeriodGrain

log = logging.getLogger(__name__)

# Lower edges (minutes) of the histogram buckets and their widths, in order.
BUCKET_STEPS = ((0, 5), (60, 15), (240, 60), (1440, 360))
LAST_BUCKET = 10080  # a week and more
# How many days back the periodic refresh recounts: pickups and holds end within this.
REFRESH_DAYS = 3


def bucket_upper_edge(lower: int) -> int:
    """The upper edge of the bucket starting at `lower` (the last bucket is open: its lower edge)."""
    if lower >= LAST_BUCKET:
        return LAST_BUCKET
    for start, width in reversed(BUCKET_STEPS):
        if lower >= start:
            return lower + width
    return lower + BUCKET_STEPS[0][1]


def bucket_of(minutes: float) -> int:
    """The same bucketing as the SQL, for tests and readers."""
    minutes = max(minutes, 0)
    if minutes >= LAST_BUCKET:
        return LAST_BUCKET
    for start, width in reversed(BUCKET_STEPS):
        if minutes >= start:
            return start + int((minutes - start) // width) * width
    return 0


def _minutes(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 60.0)"
    # julianday() is a float of days: round to whole seconds first, or 30 minutes is 29.99999.
    return f"(ROUND((julianday({later}) - julianday({earlier})) * 86400.0) / 60.0)"


def _floor(expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(FLOOR({expr}) AS INTEGER)"
    return f"CAST({expr} AS INTEGER)"  # values here are never negative: truncation is floor


def _bucket_sql(later: str, earlier: str) -> str:
    m = _minutes(later, earlier)
    cases = [f"WHEN {m} < {BUCKET_STEPS[0][0] + BUCKET_STEPS[0][1]} THEN 0"]
    edges = [start for start, _ in BUCKET_STEPS[1:]] + [LAST_BUCKET]
    for (start, width), end in zip(BUCKET_STEPS, edges, strict=True):
        cases.append(
            f"WHEN {m} < {end} THEN {start} + {_floor(f'({m} - {start}) / {width}')} * {width}"
        )
    return f"CAST(CASE {' '.join(cases)} ELSE {LAST_BUCKET} END AS VARCHAR(40))"


class Figure(NamedTuple):
    name: str
    store: str
    detail: str
    amount: str
    source: str  # FROM … WHERE …; {w} is the day's window on `column`
    column: str


def _day_figures() -> list[Figure]:
    ready = _bucket_sql("o.ready_at", "o.created_at")
    handed = _bucket_sql("o.collected_at", "o.ready_at")
    order_store = "o.fulfilment_store_id"
    pickups = "FROM orders_order o WHERE o.fulfilment = 'pickup' AND o.ready_at IS NOT NULL"
    return [
        Figure(
            "orders",
            order_store,
            "o.channel || ':' || o.fulfilment",
            "SUM(o.total)",
            "FROM orders_order o WHERE {w}",
            "o.created_at",
        ),
        Figure(
            "ready_minutes",
            order_store,
            ready,
            "0",
            "FROM orders_order o WHERE o.fulfilment = 'pickup' AND {w}",
            "o.ready_at",
        ),
        Figure(
            "handover_minutes", order_store, handed, "0", pickups + " AND {w}", "o.collected_at"
        ),
        Figure(
            "pickups",
            order_store,
            "'collected'",
            "SUM(o.total)",
            pickups + " AND {w}",
            "o.collected_at",
        ),
        # Cancelled at or after its pickup deadline: the customer never came (a no-show).
        Figure(
            "pickups",
            order_store,
            "'no_show'",
            "SUM(o.total)",
            pickups + " AND o.status = 'cancelled' AND o.cancelled_at >= o.pickup_deadline AND {w}",
            "o.cancelled_at",
        ),
        Figure(
            "reservations",
            "r.store_id",
            "r.channel || ':collected'",
            "0",
            "FROM orders_reservation r WHERE {w}",
            "r.collected_at",
        ),
        Figure(
            "reservations",
            "r.store_id",
            "r.channel || ':' || CASE WHEN r.release_reason = 'expired' THEN 'expired' "
            "ELSE 'cancelled' END",
            "0",
            "FROM orders_reservation r WHERE {w}",
            "r.released_at",
        ),
        # Returned in: over a store's counter, or the channel that announced a mail return.
        Figure(
            "returns",
            "rt.store_id",
            "o.channel || '>' || CASE WHEN rt.method = 'store' THEN 'store' ELSE rt.channel END",
            "0",
            "FROM orders_return rt JOIN orders_order o ON o.id = rt.order_id "
            "WHERE rt.status <> 'rejected' AND {w}",
            "rt.created_at",
        ),
        Figure(
            "store_credit",
            "COALESCE(rt.store_id, o.fulfilment_store_id)",
            "CASE WHEN e.amount > 0 THEN 'issued' ELSE 'spent' END",
            "SUM(ABS(e.amount))",
            "FROM customers_storecreditentry e "
            "LEFT JOIN orders_order o ON e.cause_type = 'order' AND o.number = e.cause_id "
            "LEFT JOIN orders_return rt ON e.cause_type = 'return' "
            "AND CAST(rt.id AS VARCHAR(64)) = e.cause_id WHERE {w}",
            "e.created_at",
        ),
        Figure(
            "discount_codes",
            "d.issued_at_store_id",
            "'issued'",
            "0",
            "FROM customers_discountcode d WHERE {w}",
            "d.created_at",
        ),
        Figure(
            "discount_codes",
            order_store,
            "'redeemed'",
            "SUM(x.amount)",
            "FROM orders_discountredemption x JOIN orders_order o ON o.id = x.order_id WHERE {w}",
            "x.at",
        ),
        Figure(
            "stock_refusals",
            "s.store_id",
            "s.kind || ':' || s.channel",
            "0",
            "FROM orders_stockrefusal s WHERE {w}",
            "s.at",
        ),
    ]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day's first moment and the next day's, in the deployment's time zone."""
    zone = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), zone)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), zone)
    return start, end


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _dt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _d(value: date):
    return connection.ops.adapt_datefield_value(value)


def _walk_in_id(cursor) -> int:
    cursor.execute("SELECT id FROM customers_customer WHERE email = %s", [WALK_IN_EMAIL])
    row = cursor.fetchone()
    return row[0] if row else -1


def refresh_day(day: date) -> None:
    """Count one day again: its daily figures and its customer days."""
    start, end = day_bounds(day)
    dates = [_d(day), _d(week_of(day)), _d(month_of(day))]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders_dailyfigure WHERE day = %s", [dates[0]])
        for f in _day_figures():
            window = f"{f.column} >= %s AND {f.column} < %s"
            cursor.execute(
                "INSERT INTO orders_dailyfigure "
                "(day, week, month, figure, store_id, detail, tally, amount, whole_retailer) "
                f"SELECT %s, %s, %s, '{f.name}', {f.store}, {f.detail}, COUNT(*), "
                f"COALESCE({f.amount}, 0), %s {f.source.format(w=window)} "
                "GROUP BY 5, 6",  # store and detail, by position (a detail may be a constant)
                [*dates, False, _dt(start), _dt(end)],
            )
        cursor.execute("DELETE FROM orders_customerday WHERE day = %s", [dates[0]])
        kinds = list(STEP_OF_KIND)
        marks = ", ".join(["%s"] * len(kinds))
        cursor.execute(
            "INSERT INTO orders_customerday "
            "(day, week, month, customer_id, web, app, phone, store, spend) "
            "SELECT %s, %s, %s, c, MAX(web), MAX(app), MAX(phone), MAX(store), SUM(spend) FROM ("
            f"SELECT t.customer_id AS c, {_flags(_step_channel('t'))}, 0 AS spend "
            f"FROM customers_timelineevent t WHERE t.at >= %s AND t.at < %s AND t.kind IN ({marks}) "
            "UNION ALL "
            f"SELECT o.customer_id AS c, {_flags('o.channel')}, o.total AS spend "
            "FROM orders_order o WHERE o.created_at >= %s AND o.created_at < %s "
            "AND o.status <> 'cancelled'"
            ") x WHERE c <> %s GROUP BY c",
            [*dates, _dt(start), _dt(end), *kinds, _dt(start), _dt(end), _walk_in_id(cursor)],
        )
        _count_customers(cursor, PeriodGrain.DAY, day)


def _flags(channel: str) -> str:
    return ", ".join(
        f"CASE WHEN {channel} = '{c}' THEN 1 ELSE 0 END AS {c}"
        for c in ("web", "app", "phone", "store")
    )


def _step_channel(t: str) -> str:
    """A pickup happens in the store, whoever recorded it."""
    pickups = ", ".join(f"'{k}'" for k in PICKUP_KINDS)
    return f"CASE WHEN {t}.kind IN ({pickups}) THEN 'store' ELSE {t}.channel END"


def _count_customers(cursor, period: str, start: date) -> None:
    column = {"day": "day", "week": "week", "month": "month"}[period]
    cursor.execute(
        "DELETE FROM orders_customerfigure WHERE period = %s AND start = %s", [period, _d(start)]
    )
    cursor.execute(
        "INSERT INTO orders_customerfigure (period, start, channels, customers, spend) "
        "SELECT %s, %s, n, COUNT(*), SUM(spend) FROM ("
        "SELECT customer_id, MAX(web) + MAX(app) + MAX(phone) + MAX(store) AS n, "
        f"SUM(spend) AS spend FROM orders_customerday WHERE {column} = %s GROUP BY customer_id"
        ") x WHERE n > 0 GROUP BY n",
        [period, _d(start), _d(start)],
    )


def refresh_customer_period(period: str, start: date) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _count_customers(cursor, period, start)


# What a touchpoint was, as a journey step; kinds not named here are not steps.
STEP_OF_KIND = {
    TimelineKind.PRODUCT_VIEW: "view",
    TimelineKind.SIZE_FILTER: "view",
    TimelineKind.TOUCHPOINT: "view",
    TimelineKind.WISHLIST_ADDED: "wishlist",
    TimelineKind.RESERVATION_CREATED: "reservation",
    TimelineKind.ORDER_PLACED: "order",
    TimelineKind.ORDER_COLLECTED: "pickup",
    TimelineKind.RESERVATION_COLLECTED: "pickup",
    TimelineKind.RETURN_REQUESTED: "return",
}
PICKUP_KINDS = (TimelineKind.ORDER_COLLECTED, TimelineKind.RESERVATION_COLLECTED)
MAX_STEPS = 6
# Paths kept per month: the long tail of paths taken once is not what a manager reads, and it
# would make a quarter's top list sum millions of rows.
KEEP_PATHS = 1000
STEP_SEPARATOR = ">"


def journey_path(steps: Iterable[str]) -> list[str]:
    """Repeats in a row count once ("web view, web view" is one step); at most MAX_STEPS."""
    path: list[str] = []
    for step in steps:
        if not path or path[-1] != step:
            path.append(step)
    return path[:MAX_STEPS]


def refresh_journeys(month: date) -> None:
    """Each customer's path of touchpoints in the month, counted per path (two steps or more)."""
    start, _ = day_bounds(month)
    end, _ = day_bounds(next_month(month))
    kinds = list(STEP_OF_KIND)
    counts: Counter = Counter()
    current, steps = None, []
    with connection.cursor() as cursor:
        walk_in = _walk_in_id(cursor)
        marks = ", ".join(["%s"] * len(kinds))
        cursor.execute(
            "SELECT customer_id, channel, kind FROM customers_timelineevent "
            f"WHERE at >= %s AND at < %s AND kind IN ({marks}) AND customer_id <> %s "
            "ORDER BY customer_id, at, id",
            [_dt(start), _dt(end), *kinds, walk_in],
        )
        while rows := cursor.fetchmany(5000):
            for customer_id, channel, kind in rows:
                if customer_id != current:
                    if len(path := journey_path(steps)) > 1:
                        counts[STEP_SEPARATOR.join(path)] += 1
                    current, steps = customer_id, []
                if kind in PICKUP_KINDS:
                    channel = "store"
                steps.append(f"{channel} {STEP_OF_KIND[kind]}")
        if len(path := journey_path(steps)) > 1:
            counts[STEP_SEPARATOR.join(path)] += 1
    with transaction.atomic():
        JourneyFigure.objects.filter(month=month).delete()
        JourneyFigure.objects.bulk_create(
            [
                JourneyFigure(month=month, path=p, customers=n)
                for p, n in counts.most_common(KEEP_PATHS)
            ],
            batch_size=2000,
        )


def refresh(
    first: date, last: date, *, progress: Callable[[Iterable], Iterable] = lambda it: it
) -> int:
    """Count the days from `first` to `last` again, then the weeks' and months' customers and the
    months' journeys they touch. Returns the number of days counted."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    for day in progress(days):
        refresh_day(day)
    for week in sorted({week_of(d) for d in days}):
        refresh_customer_period(PeriodGrain.WEEK, week)
    for month in sorted({month_of(d) for d in days}):
        refresh_customer_period(PeriodGrain.MONTH, month)
        refresh_journeys(month)
    sum_whole_retailer(first, last)
    new_generation()
    return len(days)


def sum_whole_retailer(first: date, last: date) -> None:
    """The retailer's rows of the days from `first` to `last`: the stores' rows summed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM orders_dailyfigure WHERE whole_retailer = %s AND day >= %s AND day <= %s",
            [True, _d(first), _d(last)],
        )
        cursor.execute(
            "INSERT INTO orders_dailyfigure "
            "(day, week, month, figure, store_id, detail, tally, amount, whole_retailer) "
            "SELECT day, week, month, figure, NULL, detail, SUM(tally), SUM(amount), %s "
            "FROM orders_dailyfigure WHERE whole_retailer = %s AND day >= %s AND day <= %s "
            "GROUP BY day, week, month, figure, detail",
            [True, False, _d(first), _d(last)],
        )


GENERATION_KEY = "insights:generation"


def new_generation() -> None:
    """Pages cache what they drew under the rollups' generation: a refresh starts a new one."""
    try:
        cache.set(GENERATION_KEY, time_ns(), None)
    except Exception:  # noqa: BLE001 - a cache outage only costs the pages their shortcut
        log.warning("Could not start a new insights generation in the cache", exc_info=True)


def generation() -> int:
    try:
        return cache.get(GENERATION_KEY, 0)
    except Exception:  # noqa: BLE001
        return 0


def refresh_all(*, max_days: int = 400) -> int:
    """Count every day from the first timeline entry (at most `max_days` back) to today: for a
    new installation and the demo retailer."""
    from customers.models import TimelineEvent

    today = timezone.localdate()
    oldest = TimelineEvent.objects.order_by("at").values_list("at", flat=True).first()
    first = timezone.localtime(oldest).date() if oldest else today
    return refresh(max(first, today - timedelta(days=max_days - 1)), today)


def refresh_recent(today: date | None = None) -> int:
    """What the periodic task does: the last REFRESH_DAYS days up to today."""
    today = today or timezone.localdate()
    return refresh(today - timedelta(days=REFRESH_DAYS - 1), today)


__all__ = ["CustomerFigure", "refresh", "refresh_day", "refresh_recent"]
