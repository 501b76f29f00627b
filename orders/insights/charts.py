"""The insights page's charts: each one a table of numbers, drawn as SVG on the server (pygal)
and offered as CSV, so the picture and the download always show the same figures."""

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pygal
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from pygal.style import Style

SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1d1d1f",
    foreground_strong="#1d1d1f",
    foreground_subtle="#6b7280",
    colors=("#243447", "#2f80ed", "#27ae60", "#f2994a", "#9b51e0", "#eb5757", "#56ccf2"),
    font_family="system-ui, sans-serif",
)


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]  # the first column is the period (or the path for journeys)
    rows: list[list]
    kind: str = "bar"  # bar, stacked, line, horizontal
    unit: str = ""
    period: str = ""


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _label(start, period: str) -> str:
    if period == "month":
        return date_format(start, "M Y")
    return date_format(start, "d.m.")


def _spend_per_head(spend, customers) -> float | None:
    return round(float(spend) / customers, 2) if customers else None


TABLES: dict[str, tuple[str, str, str, list[str], Callable[[dict], list]]] = {
    # name: (title, kind, unit, value columns, row → values)
    "orders_by_channel": (
        _("Orders by channel"),
        "stacked",
        "",
        [_("Web"), _("App"), _("Phone"), _("Store")],
        lambda r: [r["orders_by_channel"][c] for c in ("web", "app", "phone", "store")],
    ),
    "orders_by_fulfilment": (
        _("Orders by fulfilment"),
        "stacked",
        "",
        [_("Click & collect"), _("Home delivery"), _("Counter")],
        lambda r: [r["orders_by_fulfilment"][f] for f in ("pickup", "delivery", "counter")],
    ),
    "click_collect": (
        _("Online orders collected in a store"),
        "line",
        "%",
        [_("Share of online orders (%)")],
        lambda r: [_pct(r["click_collect_share"])],
    ),
    "pickup_minutes": (
        _("Minutes from order to ready and from ready to hand-over"),
        "line",
        "min",
        [_("Ready p50"), _("Ready p90"), _("Hand-over p50"), _("Hand-over p90")],
        lambda r: [
            r["ready_minutes_p50"],
            r["ready_minutes_p90"],
            r["handover_minutes_p50"],
            r["handover_minutes_p90"],
        ],
    ),
    "pickups_and_holds": (
        _("Pickup no-shows and reservations collected"),
        "line",
        "%",
        [
            _("Pickup no-show rate (%)"),
            _("Reservations collected (%)"),
            _("Collected, web (%)"),
            _("Collected, app (%)"),
            _("Collected, phone (%)"),
            _("Collected, store (%)"),
        ],
        lambda r: [
            _pct(r["pickup_no_show_rate"]),
            _pct(r["reservation_conversion"]),
            *(
                _pct(r["reservation_conversion_by_channel"][c])
                for c in ("web", "app", "phone", "store")
            ),
        ],
    ),
    "returns": (
        _("Returns: same channel and cross-channel"),
        "stacked",
        "",
        [_("Same channel"), _("Cross-channel"), _("Cross-channel share (%)")],
        lambda r: [
            r["returns"] - r["cross_channel_returns"],
            r["cross_channel_returns"],
            _pct(r["cross_channel_return_share"]),
        ],
    ),
    "customers": (
        _("Customers by channels used (whole retailer)"),
        "bar",
        "",
        [
            _("One channel"),
            _("Two or more channels"),
            _("Spend, one channel"),
            _("Spend, two or more"),
            _("Spend per customer, one channel"),
            _("Spend per customer, two or more"),
        ],
        lambda r: [
            r["single_channel_customers"],
            r["multichannel_customers"],
            r["single_channel_spend"],
            r["multichannel_spend"],
            _spend_per_head(r["single_channel_spend"], r["single_channel_customers"]),
            _spend_per_head(r["multichannel_spend"], r["multichannel_customers"]),
        ],
    ),
    "store_credit": (
        _("Store credit issued and spent"),
        "bar",
        "",
        [_("Issued"), _("Spent")],
        lambda r: [r["store_credit_issued"], r["store_credit_spent"]],
    ),
    "discount_codes": (
        _("Discount codes issued and redeemed"),
        "bar",
        "",
        [_("Issued"), _("Redeemed"), _("Discount given")],
        lambda r: [
            r["discount_codes_issued"],
            r["discount_codes_redeemed"],
            r["discount_redeemed_amount"],
        ],
    ),
    "stock_refusals": (
        _("Refused for lack of stock"),
        "stacked",
        "",
        [_("Orders"), _("Reservations"), _("Till sales")],
        lambda r: [
            r["orders_refused_for_stock"],
            r["holds_refused_for_stock"],
            r["sales_refused_for_stock"],
        ],
    ),
}
# Columns drawn per chart (the others are in the CSV only): spend is another unit than people.
DRAWN = {"returns": 2, "customers": 2, "discount_codes": 2, "pickups_and_holds": 2}
CHART_NAMES = [*TABLES, "journeys"]


def kpi_tables(rows: list[dict], period: str) -> list[Table]:
    tables = []
    for name, (title, kind, unit, columns, values) in TABLES.items():
        tables.append(
            Table(
                name=name,
                title=str(title),
                columns=[str(_("Period")), *(str(c) for c in columns)],
                rows=[[r["start"], *values(r)] for r in rows],
                kind=kind,
                unit=unit,
                period=period,
            )
        )
    return tables


def journey_table(paths: list[dict]) -> Table:
    return Table(
        name="journeys",
        title=str(_("Most frequent customer journeys")),
        columns=[str(_("Journey")), str(_("Customers"))],
        rows=[[" → ".join(p["path"]), p["customers"]] for p in paths],
        kind="horizontal",
    )


def svg(table: Table) -> str:
    """The chart as an inline <svg> element (no script: pygal's tooltips would load from a CDN)."""
    config = {
        "style": STYLE,
        "js": [],
        "width": 560,
        "height": 300,
        "show_legend": True,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "legend_box_size": 10,
        "no_data_text": str(_("No data")),
        "print_values": False,
        "truncate_label": -1,
        "truncate_legend": -1,
        "x_label_rotation": 30 if len(table.rows) > 8 else 0,
        "show_minor_x_labels": len(table.rows) <= 16,
        "x_labels_major_every": max(len(table.rows) // 8, 1),
    }
    if table.kind == "horizontal":
        chart = pygal.HorizontalBar(
            **{**config, "height": 60 + 28 * max(len(table.rows), 1), "show_legend": False}
        )
        for label, count in reversed(table.rows):
            chart.add(label, [{"value": count, "label": label}])
        chart.x_labels = []
    else:
        chart_class = {"stacked": pygal.StackedBar, "line": pygal.Line}.get(table.kind, pygal.Bar)
        chart = chart_class(**config)
        chart.x_labels = [_label(row[0], table.period) for row in table.rows]
        drawn = DRAWN.get(table.name, len(table.columns) - 1)
        for i, column in enumerate(table.columns[1 : drawn + 1], start=1):
            chart.add(column, [None if r[i] is None else float(r[i]) for r in table.rows])
    drawing = chart.render(is_unicode=True, disable_xml_declaration=True)
    return SCRIPT.sub("", drawing)  # pygal's config script: only its tooltips would use it


def as_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(
            ["" if v is None else getattr(v, "isoformat", lambda v=v: v)() for v in row]
        )
    return out.getvalue()
