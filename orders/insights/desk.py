"""The desk's insights page (/desk/insights/): the KPIs and journeys as charts for managers,
filtered by store and period, each chart's numbers as CSV.

The page lists the charts' numbers; each chart is its own SVG (/desk/insights/chart/<name>.svg),
drawn on the server, so the browser loads them side by side. The figures behind page, charts and
CSV are computed once per filter and rollup generation and kept in the cache for a few minutes.
"""

import logging

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from common.access import desk_rule
from common.errors import InvalidInput
from orders.insights import charts, rollups, selectors
from orders.insights.api import InsightsQuery
from orders.models import PeriodGrain
from stores.models import Store

PERMISSION = "orders.see_insights"
CACHE_SECONDS = 300
log = logging.getLogger(__name__)


def _cached(key: str, compute):
    try:
        hit = cache.get(key)
    except Exception:  # noqa: BLE001 - without the cache the page is computed, not refused
        log.warning("insights cache unavailable", exc_info=True)
        hit = None
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        log.warning("insights cache unavailable", exc_info=True)
    return value


def _figures(request) -> dict:
    """Filters → tables; a bad filter comes back as field errors, never as a 500."""
    query = InsightsQuery(data=request.GET)
    mine = selectors.insight_store_ids(request.user)
    stores = Store.objects.order_by("code")
    if mine is not None:
        stores = stores.filter(pk__in=mine)
    context = {"stores": list(stores), "periods": PeriodGrain.choices, "errors": {}}
    if not query.is_valid():
        context["errors"] = {k: [str(m) for m in v] for k, v in query.errors.items()}
        query = InsightsQuery(data={})
        query.is_valid()
    data = query.validated_data
    store = data.get("store")
    if store is not None and mine is not None and store.pk not in mine:
        context["errors"]["store"] = [_("Not one of your stores.")]
        store = None
    store_ids = {store.pk} if store else mine
    try:
        selectors.period_starts(data["period"], data["from"], data["to"])
    except InvalidInput as exc:
        context["errors"].update(exc.errors)
        data = {**data, "from": data["to"]}
    key = ":".join(
        str(part)
        for part in (
            "insights",
            rollups.generation(),
            translation.get_language(),
            data["period"],
            data["from"],
            data["to"],
            "all" if store_ids is None else ",".join(map(str, sorted(store_ids))),
        )
    )
    context.update(
        _cached(key, lambda: _tables(data["period"], data["from"], data["to"], store_ids)),
        key=key,
        store=store,
        whole_retailer=mine is None and store is None,
    )
    return context


def _tables(period: str, first, last, store_ids) -> dict:
    rows = selectors.kpis(period=period, first=first, last=last, store_ids=store_ids)
    first, last = rows[0]["start"], rows[-1]["end"]
    paths = selectors.journeys(first=first, last=last, limit=10)
    return {
        "period": period,
        "first": first,
        "last": last,
        "tables": [*charts.kpi_tables(rows, period), charts.journey_table(paths)],
    }


@desk_rule(PERMISSION, scope="")
@require_safe
def insights_page(request):
    context = _figures(request)
    context["query"] = request.GET.urlencode()
    status = 400 if context["errors"] else 200
    return render(request, "desk/insights/page.html", context, status=status)


@desk_rule(PERMISSION, scope="")
@require_safe
def insights_csv(request, chart: str):
    if chart not in charts.CHART_NAMES:
        raise Http404("No such chart.")
    context = _figures(request)
    if context["errors"]:
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in context["errors"].items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    table = next(t for t in context["tables"] if t.name == chart)
    response = HttpResponse(charts.as_csv(table), content_type="text/csv; charset=utf-8")
    where = context["store"].code if context["store"] else "all"
    response["Content-Disposition"] = (
        f'attachment; filename="{chart}-{where}-{context["first"]}-{context["last"]}.csv"'
    )
    return response


@desk_rule(PERMISSION, scope="")
@require_safe
def insights_chart(request, chart: str):
    if chart not in charts.CHART_NAMES:
        raise Http404("No such chart.")
    context = _figures(request)
    drawing = _cached(
        f"{context['key']}:{chart}",
        lambda: charts.svg(next(t for t in context["tables"] if t.name == chart)),
    )
    response = HttpResponse(drawing, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, max-age=60"
    return response


urlpatterns = [
    path("insights/", insights_page, name="insights"),
    path("insights/<str:chart>.csv", insights_csv, name="insights-csv"),
    path("insights/chart/<str:chart>.svg", insights_chart, name="insights-chart"),
]
