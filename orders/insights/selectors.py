"""Reading the insights: KPIs per period and journeys, summed from the daily rollups.

Per-store figures follow the caller's stores: one store, or the sum of the stores they may see
(the whole retailer, with what belongs to no store, for whoever sees every store). Customers
(multichannel or not) and journeys are people, not stores: they are retailer-wide whatever the
store filter.
"""

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from common.errors import InvalidInput
from orders.insights.rollups import (
    STEP_SEPARATOR,
    bucket_upper_edge,
    month_of,
    next_month,
    week_of,
)
from orders.models import CustomerFigure, DailyFigure, JourneyFigure, PeriodGrain
from stores.models import Store
from stores.selectors import store_ids_for_staff

CHANNELS = ("web", "app", "phone", "store")
ONLINE = ("web", "app", "phone")
FULFILMENTS = ("pickup", "delivery", "counter")
MAX_PERIODS = 400
ZERO = Decimal("0.00")


def insight_store_ids(user) -> set[int] | None:
    """The stores a manager's insights cover; None for every store (and what has no store)."""
    mine = store_ids_for_staff(user)
    if getattr(user, "is_superuser", False) or not Store.objects.exclude(pk__in=mine).exists():
        return None
    return mine


def period_start(period: str, day: date) -> date:
    return {"day": day, "week": week_of(day), "month": month_of(day)}[period]


def period_end(period: str, start: date) -> date:
    if period == PeriodGrain.WEEK:
        return start + timedelta(days=6)
    if period == PeriodGrain.MONTH:
        return next_month(start) - timedelta(days=1)
    return start


def period_starts(period: str, first: date, last: date) -> list[date]:
    starts, current = [], period_start(period, first)
    while current <= last:
        starts.append(current)
        if len(starts) > MAX_PERIODS:
            raise InvalidInput(
                "Too many periods.",
                errors={
                    "to": [f"At most {MAX_PERIODS} {period}s at once; choose a longer period."]
                },
            )
        current = period_end(period, current) + timedelta(days=1)
    return starts


def percentile(histogram: dict[int, int], q: float) -> int | None:
    """Nearest rank over buckets: the upper edge of the bucket holding the q-th value."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = math.ceil(q * total), 0
    for lower in sorted(histogram):
        seen += histogram[lower]
        if seen >= rank:
            return bucket_upper_edge(lower)
    return None  # pragma: no cover - the ranks add up to total


def _share(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _row(start: date, period: str, sums: dict, customers: dict) -> dict:
    def tally(figure: str, detail: str) -> int:
        return sums.get((figure, detail), (0, ZERO))[0]

    def amount(figure: str, detail: str) -> Decimal:
        return sums.get((figure, detail), (0, ZERO))[1]

    orders = {k[1]: v for k, v in sums.items() if k[0] == "orders"}
    by_channel = dict.fromkeys(CHANNELS, 0)
    by_fulfilment = dict.fromkeys(FULFILMENTS, 0)
    online = online_pickup = 0
    for detail, (count, _) in orders.items():
        channel, fulfilment = detail.split(":")
        by_channel[channel] = by_channel.get(channel, 0) + count
        by_fulfilment[fulfilment] = by_fulfilment.get(fulfilment, 0) + count
        if channel in ONLINE:
            online += count
            online_pickup += count if fulfilment == "pickup" else 0
    ready = {int(k[1]): v[0] for k, v in sums.items() if k[0] == "ready_minutes"}
    handed = {int(k[1]): v[0] for k, v in sums.items() if k[0] == "handover_minutes"}
    collected, no_show = tally("pickups", "collected"), tally("pickups", "no_show")
    held = {c: {"collected": 0, "released": 0} for c in CHANNELS}
    for (figure, detail), (count, _) in sums.items():
        if figure == "reservations":
            channel, outcome = detail.split(":")
            held[channel]["collected" if outcome == "collected" else "released"] += count
    held_collected = sum(h["collected"] for h in held.values())
    held_released = sum(h["released"] for h in held.values())
    returns = cross = 0
    for (figure, detail), (count, _) in sums.items():
        if figure == "returns":
            bought, returned = detail.split(">")
            returns += count
            cross += count if bought != returned else 0
    refused = dict.fromkeys(("order", "reservation", "sale"), 0)
    for (figure, detail), (count, _) in sums.items():
        if figure == "stock_refusals":
            kind = detail.split(":")[0]
            refused[kind] = refused.get(kind, 0) + count
    multi = [v for n, v in customers.items() if n >= 2]
    single = customers.get(1, (0, ZERO))
    return {
        "start": start,
        "end": period_end(period, start),
        "orders": sum(by_channel.values()),
        "order_value": sum((v[1] for v in orders.values()), ZERO),
        "orders_by_channel": by_channel,
        "orders_by_fulfilment": by_fulfilment,
        "online_orders": online,
        "click_collect_share": _share(online_pickup, online),
        "ready_minutes_p50": percentile(ready, 0.5),
        "ready_minutes_p90": percentile(ready, 0.9),
        "handover_minutes_p50": percentile(handed, 0.5),
        "handover_minutes_p90": percentile(handed, 0.9),
        "pickups_collected": collected,
        "pickups_no_show": no_show,
        "pickup_no_show_rate": _share(no_show, collected + no_show),
        "reservations_collected": held_collected,
        "reservations_released": held_released,
        "reservation_conversion": _share(held_collected, held_collected + held_released),
        "reservation_conversion_by_channel": {
            c: _share(h["collected"], h["collected"] + h["released"]) for c, h in held.items()
        },
        "returns": returns,
        "cross_channel_returns": cross,
        "cross_channel_return_share": _share(cross, returns),
        "multichannel_customers": sum(v[0] for v in multi),
        "multichannel_spend": sum((v[1] for v in multi), ZERO),
        "single_channel_customers": single[0],
        "single_channel_spend": single[1],
        "store_credit_issued": amount("store_credit", "issued"),
        "store_credit_spent": amount("store_credit", "spent"),
        "discount_codes_issued": tally("discount_codes", "issued"),
        "discount_codes_redeemed": tally("discount_codes", "redeemed"),
        "discount_redeemed_amount": amount("discount_codes", "redeemed"),
        "orders_refused_for_stock": refused["order"],
        "holds_refused_for_stock": refused["reservation"],
        "sales_refused_for_stock": refused["sale"],
    }


def kpis(*, period: str, first: date, last: date, store_ids: set[int] | None) -> list[dict]:
    """One row of figures per period from `first` to `last` (whole periods), oldest first.

    `store_ids`: the stores summed; None for the whole retailer. Raises InvalidInput for more
    than MAX_PERIODS periods."""
    if period not in PeriodGrain.values:
        raise InvalidInput("Invalid period.", errors={"period": ["Use day, week or month."]})
    starts = period_starts(period, first, last)
    first, last = starts[0], period_end(period, starts[-1])
    figures = DailyFigure.objects.filter(day__gte=first, day__lte=last)
    if store_ids is None:
        figures = figures.filter(whole_retailer=True)
    else:
        figures = figures.filter(whole_retailer=False, store_id__in=sorted(store_ids))
    sums: dict[date, dict] = defaultdict(dict)
    for row in (
        figures.values(period, "figure", "detail")
        .annotate(t=Sum("tally"), a=Sum("amount"))
        .order_by()
    ):
        sums[row[period]][(row["figure"], row["detail"])] = (row["t"], row["a"] or ZERO)
    customers: dict[date, dict] = defaultdict(dict)
    for row in CustomerFigure.objects.filter(
        period=period, start__gte=first, start__lte=last
    ).values_list("start", "channels", "customers", "spend"):
        customers[row[0]][row[1]] = (row[2], row[3])
    return [_row(start, period, sums[start], customers[start]) for start in starts]


def journeys(*, first: date, last: date, limit: int = 20) -> list[dict]:
    """The most frequent paths of channels in the months from `first` to `last`, with counts."""
    rows = (
        JourneyFigure.objects.filter(month__gte=month_of(first), month__lte=month_of(last))
        .values("path")
        .annotate(n=Sum("customers"))
        .order_by("-n", "path")[:limit]
    )
    return [{"path": row["path"].split(STEP_SEPARATOR), "customers": row["n"]} for row in rows]
