"""The desk's insights page (/desk/insights/): the KPIs and journeys as charts for managers,
filtered by store and period, each chart's numbers as CSV."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from common.access import desk_rule
from common.errors import InvalidInput
from orders.insights import charts, selectors
from orders.insights.api import InsightsQuery
from orders.models import PeriodGrain
from stores.models import Store

PERMISSION = "orders.see_insights"


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
    try:
        rows = selectors.kpis(
            period=data["period"],
            first=data["from"],
            last=data["to"],
            store_ids={store.pk} if store else mine,
        )
    except InvalidInput as exc:
        context["errors"].update(exc.errors)
        data = {**data, "from": data["to"]}
        rows = selectors.kpis(
            period=data["period"], first=data["to"], last=data["to"], store_ids=mine
        )
    first, last = rows[0]["start"], rows[-1]["end"]
    paths = selectors.journeys(first=first, last=last, limit=10)
    context.update(
        store=store,
        period=data["period"],
        first=first,
        last=last,
        whole_retailer=mine is None and store is None,
        tables=[*charts.kpi_tables(rows, data["period"]), charts.journey_table(paths)],
    )
    return context


@desk_rule(PERMISSION, scope="")
def insights_page(request):
    context = _figures(request)
    context["charts"] = [(t, mark_safe(charts.svg(t))) for t in context["tables"]]  # noqa: S308 - pygal escapes the labels
    context["query"] = request.GET.urlencode()
    status = 400 if context["errors"] else 200
    return render(request, "desk/insights/page.html", context, status=status)


@desk_rule(PERMISSION, scope="")
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


urlpatterns = [
    path("insights/", insights_page, name="insights"),
    path("insights/<str:chart>.csv", insights_csv, name="insights-csv"),
]
