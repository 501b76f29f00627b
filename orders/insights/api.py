"""GET /api/v1/insights/kpis/ and /api/v1/insights/journeys/: the managers' figures as JSON."""

from datetime import date, timedelta

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import Rule
from orders.insights import selectors
from orders.models import PeriodGrain
from stores.models import Store

INSIGHTS = Rule(staff="orders.see_insights", scope="store")
DEFAULT_DAYS = {"day": 30, "week": 12 * 7, "month": 365}
MAX_JOURNEYS = 100
# Dates a retailer's figures can have; beyond them the calendar arithmetic would overflow.
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)


class DateRangeQuery(serializers.Serializer):
    # `from` is a Python keyword: read from the raw query, documented by FROM_PARAMETER.
    to = serializers.DateField(required=False, help_text="Last day (default today).")
    default_days = 90

    def validate(self, attrs):
        # `?to=` is not "leave it out": the schema says a date (a code, a number), so an empty
        # filter is refused like any other value that is not one.
        for name in ("from", *self.fields):
            if name in self.initial_data and not self.initial_data.get(name, "").strip():
                raise serializers.ValidationError({name: ["Give a value or leave it out."]})
        attrs["to"] = attrs.get("to") or timezone.localdate()
        if attrs["to"] < EARLIEST:
            raise serializers.ValidationError({"to": [f"Between {EARLIEST} and {LATEST}."]})
        first = self.initial_data.get("from")
        if first:
            try:
                attrs["from"] = serializers.DateField().to_internal_value(first)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"from": exc.detail}) from exc
        else:
            days = DEFAULT_DAYS.get(attrs.get("period"), self.default_days)
            attrs["from"] = attrs["to"] - timedelta(days=days - 1)
        for name in ("to", "from"):
            if not EARLIEST <= attrs[name] <= LATEST:
                raise serializers.ValidationError({name: [f"Between {EARLIEST} and {LATEST}."]})
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        return attrs


class InsightsQuery(DateRangeQuery):
    store = serializers.CharField(
        required=False, help_text="A store code; without it, every store the caller may see."
    )
    period = serializers.ChoiceField(choices=PeriodGrain.choices, default=PeriodGrain.WEEK)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        code = attrs.get("store")
        if code:
            attrs["store"] = Store.objects.filter(code=code).first()
            if attrs["store"] is None:
                raise serializers.ValidationError({"store": [f"No store '{code}'."]})
        return attrs


class JourneysQuery(DateRangeQuery):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_JOURNEYS, default=20)


FROM_PARAMETER = OpenApiParameter(
    "from", OpenApiTypes.DATE, description="First day (default: a stretch before `to`)."
)


class ChannelCounts(serializers.Serializer):
    web = serializers.IntegerField()
    app = serializers.IntegerField()
    phone = serializers.IntegerField()
    store = serializers.IntegerField()


class ChannelShares(serializers.Serializer):
    web = serializers.FloatField(allow_null=True)
    app = serializers.FloatField(allow_null=True)
    phone = serializers.FloatField(allow_null=True)
    store = serializers.FloatField(allow_null=True)


class FulfilmentCounts(serializers.Serializer):
    pickup = serializers.IntegerField()
    delivery = serializers.IntegerField()
    counter = serializers.IntegerField()


def _share(help_text: str):
    return serializers.FloatField(allow_null=True, help_text=help_text + " 0–1; null: none.")


def _minutes(help_text: str):
    return serializers.IntegerField(
        allow_null=True,
        help_text=help_text + " Upper edge of the histogram bucket (docs/insights.md); null: none.",
    )


class KpiPeriodOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    orders = serializers.IntegerField(help_text="Orders placed.")
    order_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    orders_by_channel = ChannelCounts()
    orders_by_fulfilment = FulfilmentCounts()
    online_orders = serializers.IntegerField(help_text="Placed on the web, in the app, by phone.")
    click_collect_share = _share("Share of online orders to collect in a store.")
    ready_minutes_p50 = _minutes("Minutes from order to ready for pickup, median.")
    ready_minutes_p90 = _minutes("Minutes from order to ready for pickup, 90th percentile.")
    handover_minutes_p50 = _minutes("Minutes from ready to hand-over, median.")
    handover_minutes_p90 = _minutes("Minutes from ready to hand-over, 90th percentile.")
    pickups_collected = serializers.IntegerField()
    pickups_no_show = serializers.IntegerField(
        help_text="Cancelled uncollected after the deadline."
    )
    pickup_no_show_rate = _share("No-shows of the pickups that ended.")
    reservations_collected = serializers.IntegerField()
    reservations_released = serializers.IntegerField(help_text="Cancelled or expired.")
    reservation_conversion = _share("Collected of the holds that ended.")
    reservation_conversion_by_channel = ChannelShares()
    returns = serializers.IntegerField(help_text="Returns announced (rejected ones not counted).")
    cross_channel_returns = serializers.IntegerField(
        help_text="Bought in one channel, returned in another (a counter return is `store`)."
    )
    cross_channel_return_share = _share("Cross-channel returns of all returns.")
    multichannel_customers = serializers.IntegerField(
        help_text="Customers active in two or more channels in the period (retailer-wide)."
    )
    multichannel_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    single_channel_customers = serializers.IntegerField(help_text="Retailer-wide.")
    single_channel_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    store_credit_issued = serializers.DecimalField(max_digits=14, decimal_places=2)
    store_credit_spent = serializers.DecimalField(max_digits=14, decimal_places=2)
    discount_codes_issued = serializers.IntegerField()
    discount_codes_redeemed = serializers.IntegerField()
    discount_redeemed_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    orders_refused_for_stock = serializers.IntegerField()
    holds_refused_for_stock = serializers.IntegerField()
    sales_refused_for_stock = serializers.IntegerField()


class KpisOutput(serializers.Serializer):
    period = serializers.ChoiceField(choices=PeriodGrain.choices)
    store = serializers.CharField(allow_null=True, help_text="null: every store the caller sees.")
    from_ = serializers.DateField(help_text="First day counted (start of the first period).")
    to = serializers.DateField(help_text="Last day counted (end of the last period).")
    results = KpiPeriodOutput(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        fields["from"].source = "from_"
        return fields


class JourneyOutput(serializers.Serializer):
    path = serializers.ListField(
        child=serializers.CharField(), help_text='Steps in order, e.g. ["web view", "store order"].'
    )
    customers = serializers.IntegerField()


class JourneysOutput(serializers.Serializer):
    from_ = serializers.DateField(help_text="First day of the first month counted.")
    to = serializers.DateField(help_text="Last day of the last month counted.")
    results = JourneyOutput(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        fields["from"].source = "from_"
        return fields


def _store_ids(request, store: Store | None) -> set[int] | None:
    mine = selectors.insight_store_ids(request.user)
    if store is None:
        return mine
    if mine is not None and store.pk not in mine:
        raise PermissionDenied("Not one of your stores.")
    return {store.pk}


class KpisView(APIView):
    access = {"GET": INSIGHTS}

    @extend_schema(
        operation_id="insights_kpis",
        summary="The omnichannel figures per day, week or month, for one store or all of yours "
        "(managers)",
        parameters=[InsightsQuery, FROM_PARAMETER],
        responses={200: KpisOutput},
    )
    def get(self, request):
        query = InsightsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        store = data.get("store")
        rows = selectors.kpis(
            period=data["period"],
            first=data["from"],
            last=data["to"],
            store_ids=_store_ids(request, store),
        )
        body = {
            "period": data["period"],
            "store": store.code if store else None,
            "from_": rows[0]["start"],
            "to": rows[-1]["end"],
            "results": rows,
        }
        return Response(KpisOutput(body).data)


class JourneysView(APIView):
    access = {"GET": INSIGHTS}

    @extend_schema(
        operation_id="insights_journeys",
        summary="The most frequent paths of channels of customers with several touchpoints, "
        "per calendar month (managers)",
        parameters=[JourneysQuery, FROM_PARAMETER],
        responses={200: JourneysOutput},
    )
    def get(self, request):
        query = JourneysQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        first = selectors.month_of(data["from"])
        last = selectors.next_month(selectors.month_of(data["to"])) - timedelta(days=1)
        body = {
            "from_": first,
            "to": last,
            "results": selectors.journeys(first=first, last=last, limit=data["limit"]),
        }
        return Response(JourneysOutput(body).data)


urlpatterns = [
    path("insights/kpis/", KpisView.as_view(), name="insights-kpis"),
    path("insights/journeys/", JourneysView.as_view(), name="insights-journeys"),
]
