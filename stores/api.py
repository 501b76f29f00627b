"""GET /api/v1/stores/ for everyone authenticated; the staff's own store under /staff/."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, SIGNED_IN, Rule
from common.params import parse_bool, parse_near
from stores.models import Store
from stores.selectors import active_stores, can_act_on_store, stores_by_distance


class StoreOutput(serializers.ModelSerializer):
    pickup = serializers.BooleanField(source="offers_pickup")
    returns = serializers.BooleanField(source="accepts_returns")
    reservations = serializers.BooleanField(source="takes_reservations")
    warehouse = serializers.BooleanField(source="is_warehouse")
    distance_km = serializers.SerializerMethodField()

    class Meta:
        model = Store
        fields = [
            "code",
            "name",
            "street",
            "postcode",
            "city",
            "country",
            "phone",
            "latitude",
            "longitude",
            "time_zone",
            "opening_hours",
            "pickup",
            "returns",
            "reservations",
            "warehouse",
            "pickup_window_days",
            "default_hold_hours",
            "distance_km",
        ]

    def get_distance_km(self, store) -> float | None:
        return getattr(store, "distance_km", None)


class StoreListView(ListAPIView):
    access = {"GET": SIGNED_IN}
    serializer_class = StoreOutput

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "pickup", OpenApiTypes.BOOL, description="Only stores that offer click & collect."
            ),
            OpenApiParameter(
                "returns", OpenApiTypes.BOOL, description="Only stores that accept returns."
            ),
            OpenApiParameter(
                "near", OpenApiTypes.STR, description="LAT,LON: nearest first, with distance_km."
            ),
        ],
        summary="Stores and warehouses",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = active_stores().order_by("code")
        pickup = parse_bool(self.request.query_params.get("pickup"), "pickup")
        if pickup is not None:
            qs = qs.filter(offers_pickup=pickup)
        returns = parse_bool(self.request.query_params.get("returns"), "returns")
        if returns is not None:
            qs = qs.filter(accepts_returns=returns)
        near = parse_near(self.request.query_params.get("near"))
        if near:
            return stores_by_distance(qs, *near)
        return qs


class StaffStoreView(APIView):
    """A store the staff member works in (403 for any other store)."""

    access = {"GET": Rule(staff=ANY_STAFF, scope="store")}

    @extend_schema(responses=StoreOutput, summary="One of the staff member's stores")
    def get(self, request, code: str):
        store = get_object_or_404(Store, code=code)
        if not can_act_on_store(request.user, store):
            raise PermissionDenied(f"You do not work in {store.code}.")
        return Response(StoreOutput(store).data)
