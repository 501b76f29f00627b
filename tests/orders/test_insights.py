"""The insights' KPIs, counted by hand on one small retail day (tests/orders/factories_insights)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from common.actor import Actor
from common.auth import issue_user_token
from customers.models import TimelineKind
from customers.services import record_timeline_event
from orders.insights import rollups, selectors
from orders.models import CustomerFigure, DailyFigure, Order, StockRefusal
from stores.models import StaffRole
from tests.conftest import token_client
from tests.factories import CustomerFactory, staff_user
from tests.orders.factories_insights import DAY, at, retail_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def day():
    world = retail_day()
    rollups.refresh(DAY, DAY)
    return world


def figures(store_ids=None, period="day"):
    (row,) = selectors.kpis(period=period, first=DAY, last=DAY, store_ids=store_ids)
    return row


class TestTheWholeRetailersDay:
    def test_orders_by_channel_and_fulfilment(self, day):
        row = figures()
        assert row["orders"] == 6
        assert row["orders_by_channel"] == {"web": 3, "app": 1, "phone": 0, "store": 2}
        assert row["orders_by_fulfilment"] == {"pickup": 2, "delivery": 2, "counter": 2}
        assert row["online_orders"] == 4
        # Two of the four online orders are collected in a store.
        assert row["click_collect_share"] == 0.5
        assert row["order_value"] == sum(
            o.total for o in (day.o1, day.o2, day.o3, day.o4, day.collected_hold, day.till_sale)
        )

    def test_minutes_to_ready_and_to_hand_over(self, day):
        row = figures()
        # Ready after 30 and 120 minutes: buckets 30–35 and 120–135.
        assert (row["ready_minutes_p50"], row["ready_minutes_p90"]) == (35, 135)
        # Handed over 90 minutes after ready: bucket 90–105.
        assert (row["handover_minutes_p50"], row["handover_minutes_p90"]) == (105, 105)

    def test_pickup_no_shows(self, day):
        row = figures()
        assert (row["pickups_collected"], row["pickups_no_show"]) == (1, 1)
        assert row["pickup_no_show_rate"] == 0.5

    def test_reservation_conversion_by_channel(self, day):
        row = figures()
        assert (row["reservations_collected"], row["reservations_released"]) == (1, 1)
        assert row["reservation_conversion"] == 0.5
        assert row["reservation_conversion_by_channel"] == {
            "web": None,
            "app": None,
            "phone": 0.5,
            "store": None,
        }

    def test_cross_channel_returns(self, day):
        row = figures()
        assert (row["returns"], row["cross_channel_returns"]) == (1, 1)
        assert row["cross_channel_return_share"] == 1.0

    def test_multichannel_customers_and_their_spend(self, day):
        row = figures()
        # Anna: web order, phone hold collected in the store, app order. Ben: web; Carl: phone.
        assert row["multichannel_customers"] == 1
        assert row["multichannel_spend"] == day.o1.total + day.collected_hold.total + day.o4.total
        assert row["single_channel_customers"] == 2
        assert row["single_channel_spend"] == day.o3.total  # o2 was cancelled; Carl bought nothing
        assert set(CustomerFigure.objects.values_list("period", flat=True)) == {
            "day",
            "week",
            "month",
        }

    def test_store_credit_and_discount_codes(self, day):
        row = figures()
        assert row["store_credit_issued"] == day.credit > 0
        assert row["store_credit_spent"] == Decimal("5.00")
        assert (row["discount_codes_issued"], row["discount_codes_redeemed"]) == (1, 1)
        assert row["discount_redeemed_amount"] == day.o3.discount > 0

    def test_refused_for_lack_of_stock(self, day):
        row = figures()
        assert row["orders_refused_for_stock"] == 1
        assert row["holds_refused_for_stock"] == 1
        assert row["sales_refused_for_stock"] == 0


def test_one_store_counts_only_what_happened_there(day):
    row = figures({day.berlin.pk})
    assert row["orders_by_channel"] == {"web": 2, "app": 0, "phone": 0, "store": 1}
    assert row["click_collect_share"] == 1.0
    assert row["store_credit_issued"] == day.credit
    assert row["store_credit_spent"] == 0  # spent on an order shipped from the warehouse
    assert (row["discount_codes_issued"], row["discount_codes_redeemed"]) == (1, 0)
    assert row["orders_refused_for_stock"] == row["holds_refused_for_stock"] == 1
    hamburg = figures({day.hamburg.pk})
    assert hamburg["orders_by_channel"] == {"web": 0, "app": 0, "phone": 0, "store": 1}
    assert hamburg["pickup_no_show_rate"] is None


def test_weeks_and_months_add_up_the_days(day):
    week = figures(period="week")
    assert week["start"] == DAY - timedelta(days=DAY.weekday())
    assert week["orders"] == 6 and week["pickup_no_show_rate"] == 0.5
    assert figures(period="month")["multichannel_customers"] == 1


def test_a_refresh_counts_again_instead_of_adding(day):
    before = DailyFigure.objects.count()
    rollups.refresh(DAY, DAY)
    assert DailyFigure.objects.count() == before
    assert figures()["orders"] == 6


def test_an_order_moved_to_the_next_day_leaves_the_day_on_refresh(day):
    Order.objects.filter(pk=day.o3.pk).update(created_at=at(9, day=DAY + timedelta(days=1)))
    rollups.refresh(DAY, DAY + timedelta(days=1))
    assert figures()["orders"] == 5
    (next_day,) = selectors.kpis(
        period="day", first=DAY + timedelta(days=1), last=DAY + timedelta(days=1), store_ids=None
    )
    assert next_day["orders"] == 1


def test_the_refusal_is_recorded_although_the_order_rolled_back(day):
    refusals = list(StockRefusal.objects.order_by("kind"))
    assert [(r.kind, r.channel, r.store_id) for r in refusals] == [
        ("order", "web", day.berlin.pk),
        ("reservation", "phone", day.berlin.pk),
    ]
    assert refusals[0].lines[0]["requested"] == 1 and refusals[0].lines[0]["available"] == 0
    assert Order.objects.count() == 6  # the refused order left nothing else behind


@pytest.mark.parametrize(
    ("minutes", "lower", "upper"),
    [
        (0, 0, 5),
        (4.9, 0, 5),
        (30, 30, 35),
        (61, 60, 75),
        (250, 240, 300),
        (2000, 1800, 2160),
        (20000, 10080, 10080),
    ],
)
def test_histogram_buckets(minutes, lower, upper):
    assert rollups.bucket_of(minutes) == lower
    assert rollups.bucket_upper_edge(lower) == upper


def test_percentiles_over_buckets():
    assert selectors.percentile({}, 0.5) is None
    assert selectors.percentile({30: 1, 120: 1}, 0.5) == 35
    assert selectors.percentile({0: 9, 60: 1}, 0.9) == 5
    assert selectors.percentile({0: 9, 60: 1}, 0.95) == 75


def test_journeys_are_paths_of_channels_with_repeats_once():
    agent = Actor(channel="phone")

    def touch(customer, kind, channel, hour, minute=0):
        record_timeline_event(
            customer=customer,
            kind=kind,
            channel=channel,
            summary="…",
            actor=agent,
            at=at(hour, minute),
        )

    for _ in range(2):
        c = CustomerFactory()
        touch(c, TimelineKind.PRODUCT_VIEW, "web", 8)
        touch(c, TimelineKind.PRODUCT_VIEW, "web", 8, 5)
        touch(c, TimelineKind.RESERVATION_CREATED, "phone", 9)
        touch(c, TimelineKind.NOTE, "phone", 9, 30)  # not a step
        touch(c, TimelineKind.RESERVATION_COLLECTED, "store", 12)
    browser = CustomerFactory()
    touch(browser, TimelineKind.PRODUCT_VIEW, "app", 8)
    touch(browser, TimelineKind.ORDER_PLACED, "app", 10)
    touch(CustomerFactory(), TimelineKind.PRODUCT_VIEW, "web", 8)  # one step: no journey
    rollups.refresh(DAY, DAY)
    assert selectors.journeys(first=DAY, last=DAY) == [
        {"path": ["web view", "phone reservation", "store pickup"], "customers": 2},
        {"path": ["app view", "app order"], "customers": 1},
    ]


class TestKpisApi:
    url = "/api/v1/insights/kpis/"

    def manager(self, *stores):
        return token_client(issue_user_token(staff_user(*stores, role=StaffRole.MANAGER)))

    def test_a_manager_of_every_store_gets_the_whole_retailer(self, day):
        api = self.manager(day.berlin, day.hamburg, day.warehouse)
        response = api.get(self.url, {"from": DAY, "to": DAY, "period": "day"})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["store"] is None and body["period"] == "day"
        assert body["from"] == body["to"] == DAY.isoformat()
        (row,) = body["results"]
        assert row["orders"] == 6 and row["cross_channel_return_share"] == 1.0
        assert row["ready_minutes_p50"] == 35 and row["multichannel_customers"] == 1
        assert row["store_credit_spent"] == "5.00"

    def test_a_store_manager_sees_their_stores_only(self, day):
        api = self.manager(day.berlin)
        body = api.get(self.url, {"from": DAY, "to": DAY, "period": "day"}).json()
        assert body["results"][0]["orders"] == 3  # Berlin's, not the retailer's six
        response = api.get(self.url, {"store": "HAM-01", "from": DAY, "to": DAY})
        assert response.status_code == 403
        assert api.get(self.url, {"store": "BER-01"}).status_code == 200

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"period": "year"}, "period"),
            ({"from": "2026-03-11", "to": "2026-03-10"}, "from"),
            ({"from": "yesterday"}, "from"),
            ({"store": "XXX-99"}, "store"),
            ({"from": "2020-01-01", "to": "2026-01-01", "period": "day"}, "to"),
            ({"to": "9999-12-31", "period": "month"}, "to"),
            ({"to": "0001-01-01"}, "to"),
            ({"from": "0001-01-01", "to": "2026-01-01"}, "from"),
            ({"to": ""}, "to"),
            ({"from": " "}, "from"),
            ({"store": ""}, "store"),
            ({"period": ""}, "period"),
        ],
    )
    def test_bad_filters_are_a_400_naming_the_field(self, day, query, field):
        response = self.manager(day.berlin).get(self.url, query)
        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_store_staff_and_channel_clients_may_not(self, day):
        staff = token_client(issue_user_token(staff_user(day.berlin)))
        assert staff.get(self.url).status_code == 403
        assert APIClient().get(self.url).status_code == 401


def test_journeys_api(day):
    api = token_client(issue_user_token(staff_user(day.berlin, role=StaffRole.MANAGER)))
    response = api.get("/api/v1/insights/journeys/", {"from": DAY, "to": DAY, "limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-03-01" and body["to"] == "2026-03-31"
    # Anna's month, six steps at most (her app order is the seventh); Ben's two web orders are
    # one step, Carl's hold one: no journeys.
    assert body["results"] == [
        {
            "path": [
                "web order",
                "store pickup",
                "phone reservation",
                "store order",
                "store pickup",
                "store return",
            ],
            "customers": 1,
        }
    ]
    assert api.get("/api/v1/insights/journeys/", {"limit": 0}).status_code == 400
    assert api.get("/api/v1/insights/journeys/", {"limit": ""}).status_code == 400


def test_the_kpis_take_the_same_queries_for_a_day_or_a_year(day):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = token_client(issue_user_token(staff_user(day.berlin, role=StaffRole.MANAGER)))
    counts = []
    for query in (
        {"from": DAY, "to": DAY, "period": "day"},
        {"from": DAY - timedelta(days=365), "to": DAY, "period": "month"},
        {"from": DAY - timedelta(days=120), "to": DAY, "period": "day", "store": "BER-01"},
    ):
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/insights/kpis/", query).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2] - 1  # the store's code is looked up


def test_the_periodic_task_counts_the_last_days(day):
    from django.utils import timezone

    from orders.tasks.insights import refresh_insights

    Order.objects.filter(pk=day.o3.pk).update(created_at=timezone.now())
    assert refresh_insights() == rollups.REFRESH_DAYS
    today = timezone.localdate()
    (row,) = selectors.kpis(period="day", first=today, last=today, store_ids=None)
    assert row["orders"] == 1


def test_the_rebuild_command(day):
    from io import StringIO

    from django.core.management import CommandError, call_command

    DailyFigure.objects.all().delete()
    out, err = StringIO(), StringIO()
    call_command(
        "rebuild_insights", "--from", "2026-03-09", "--to", "2026-03-10", stdout=out, stderr=err
    )
    assert "2 day(s) from 2026-03-09 to 2026-03-10 counted" in out.getvalue()
    assert "days" in err.getvalue()  # the progress bar
    assert figures()["orders"] == 6
    with pytest.raises(CommandError, match="not a date"):
        call_command("rebuild_insights", "--from", "March")
    with pytest.raises(CommandError, match="after"):
        call_command("rebuild_insights", "--from", "2026-03-11", "--to", "2026-03-10")
