"""Stock over HTTP: availability for every channel, stock receipts/counts and transfers for staff.

Thin views: parse the input, call one selector or service, render the output.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, SIGNED_IN, Rule
from common.actor import actor_from_request
from common.idempotency import idempotent
from common.params import parse_bool, parse_near
from inventory import selectors, services
from inventory.models import StockItem, Transfer, TransferStatus
from stores.models import Store
from stores.selectors import (
    active_stores_by_code,
    store_by_code,
    store_ids_for_staff,
    stores_by_distance,
)

MAX_SKUS = 50


# --- shared parsing --------------------------------------------------------------------------


def _variants(skus: list[str], field: str = "sku", lookup=selectors.variants_by_sku) -> dict:
    found = lookup(skus)
    unknown = [sku for sku in dict.fromkeys(skus) if sku not in found]
    if unknown:
        raise ValidationError({field: [f"Unknown SKU: {', '.join(unknown)}."]})
    return found


def _store(code: str) -> Store:
    store = store_by_code(code)
    if store is None:
        raise ValidationError({"store": [f"Unknown store: {code}."]})
    return store


def _staff_store(request, code: str) -> Store:
    store = _store(code)
    if store.pk not in store_ids_for_staff(request.user):
        raise PermissionDenied(f"You do not work in {store.code}.")
    return store


# --- availability ----------------------------------------------------------------------------


class AvailabilityOutput(serializers.Serializer):
    sku = serializers.CharField()
    store = serializers.CharField(source="store.code")
    store_name = serializers.CharField(source="store.name")
    pickup = serializers.BooleanField(source="store.offers_pickup")
    warehouse = serializers.BooleanField(source="store.is_warehouse")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField(help_text="What can still be promised (≥ 0).")
    distance_km = serializers.FloatField(allow_null=True)

    def to_representation(self, row):
        # Up to 50 SKUs × every store: the plain values, without a field object per cell.
        store = row.store
        return {
            "sku": row.sku,
            "store": store.code,
            "store_name": store.name,
            "pickup": store.offers_pickup,
            "warehouse": store.is_warehouse,
            "on_hand": row.on_hand,
            "reserved": row.reserved,
            "available": row.available,
            "distance_km": None if row.distance_km is None else float(row.distance_km),
        }


class AvailabilityView(ListAPIView):
    """Stock per SKU per store: three queries (the caller, the SKUs, their stock) whatever the
    number of SKUs and stores; the stores come from the process's store directory."""

    access = {"GET": SIGNED_IN}
    serializer_class = AvailabilityOutput

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "sku", OpenApiTypes.STR, many=True, required=True, description="Repeat per SKU."
            ),
            OpenApiParameter("store", OpenApiTypes.STR, description="Only this store (code)."),
            OpenApiParameter("pickup", OpenApiTypes.BOOL, description="Only pickup stores."),
            OpenApiParameter(
                "near", OpenApiTypes.STR, description="LAT,LON: nearest stores first."
            ),
        ],
        summary="Stock per SKU per store",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return StockItem.objects.none()
        params = self.request.query_params
        skus = [s.strip() for s in params.getlist("sku") if s.strip()]
        if not skus:
            raise ValidationError({"sku": ["Give at least one sku=…"]})
        if len(set(skus)) > MAX_SKUS:
            raise ValidationError({"sku": [f"At most {MAX_SKUS} SKUs per call."]})
        pickup = parse_bool(params.get("pickup"), "pickup")
        near = parse_near(params.get("near"))
        variants = _variants(skus, lookup=selectors.sku_refs)
        stores = active_stores_by_code()  # the process's store directory: no query
        if params.get("store"):
            code = _store(params["store"]).code
            stores = [store for store in stores if store.code == code]
        if pickup is not None:
            stores = [store for store in stores if store.offers_pickup == pickup]
        stores = stores_by_distance(stores, *near) if near else stores
        ordered = [variants[sku] for sku in dict.fromkeys(skus)]
        return selectors.availability(variants=ordered, stores=stores)


# --- stock receipts and counts ---------------------------------------------------------------


class StockLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class StockReceiptInput(serializers.Serializer):
    store = serializers.CharField(max_length=6)
    lines = StockLineInput(many=True, allow_empty=False)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class StockLevelOutput(serializers.Serializer):
    sku = serializers.CharField()
    store = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()


class StockReceiptOutput(serializers.Serializer):
    store = serializers.CharField()
    lines = StockLevelOutput(many=True)


def _levels(store: Store, variants) -> list[dict]:
    items = selectors.stock_items_for(store=store, variants=variants)
    return [
        {
            "sku": v.sku,
            "store": store.code,
            "on_hand": items[v.pk].on_hand,
            "reserved": items[v.pk].reserved,
            "available": items[v.pk].available,
        }
        for v in variants
    ]


class StockReceiptView(APIView):
    """Goods received in one of the staff member's stores."""

    access = {"POST": Rule(staff="inventory.receive_stock", scope="store")}

    @extend_schema(
        request=StockReceiptInput,
        responses={201: StockReceiptOutput},
        summary="Goods received",
    )
    @idempotent
    def post(self, request):
        data = StockReceiptInput(data=request.data)
        data.is_valid(raise_exception=True)
        store = _staff_store(request, data.validated_data["store"])
        lines = data.validated_data["lines"]
        variants = _variants([line["sku"] for line in lines], field="lines")
        services.receive(
            actor=actor_from_request(request),
            store=store,
            lines=[(variants[line["sku"]], line["quantity"]) for line in lines],
            reason=data.validated_data["reason"],
        )
        received = list({line["sku"]: variants[line["sku"]] for line in lines}.values())
        body = {"store": store.code, "lines": _levels(store, received)}
        return Response(StockReceiptOutput(body).data, status=201)


class StockAdjustmentInput(serializers.Serializer):
    store = serializers.CharField(max_length=6)
    sku = serializers.CharField(max_length=32)
    counted = serializers.IntegerField(min_value=0, max_value=10_000_000)
    reason = serializers.CharField(max_length=255)


class StockAdjustmentOutput(StockLevelOutput):
    difference = serializers.IntegerField(help_text="counted minus on_hand before the count")


class StockAdjustmentView(APIView):
    """A stock count in one of the staff member's stores sets on_hand (reason required)."""

    access = {"POST": Rule(staff="inventory.adjust_stock", scope="store")}

    @extend_schema(
        request=StockAdjustmentInput,
        responses={201: StockAdjustmentOutput, 200: StockAdjustmentOutput},
        summary="Counted stock differs",
        description="201 when on_hand changed, 200 when the count matched (nothing written). "
        "409 `count_below_reserved` when fewer were counted than are reserved.",
    )
    @idempotent
    def post(self, request):
        data = StockAdjustmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        store = _staff_store(request, data.validated_data["store"])
        variant = _variants([data.validated_data["sku"]])[data.validated_data["sku"]]
        movement = services.adjust_to_count(
            actor=actor_from_request(request),
            store=store,
            variant=variant,
            counted=data.validated_data["counted"],
            reason=data.validated_data["reason"],
        )
        body = _levels(store, [variant])[0]
        body["difference"] = movement.on_hand_delta if movement else 0
        return Response(StockAdjustmentOutput(body).data, status=201 if movement else 200)


# --- transfers -------------------------------------------------------------------------------


class TransferLineOutput(serializers.Serializer):
    sku = serializers.CharField(source="variant.sku")
    quantity = serializers.IntegerField()
    destined_cause_id = serializers.CharField()


class TransferOutput(serializers.ModelSerializer):
    from_store = serializers.CharField(source="from_store.code")
    to_store = serializers.CharField(source="to_store.code")
    lines = TransferLineOutput(many=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "from_store",
            "to_store",
            "status",
            "reason",
            "destined_cause_type",
            "destined_cause_id",
            "lines",
            "created_at",
            "shipped_at",
            "received_at",
        ]


class StaffTransferListView(ListAPIView):
    """Transfers leaving or reaching the staff member's stores."""

    access = {"GET": Rule(staff=ANY_STAFF)}
    serializer_class = TransferOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("store", OpenApiTypes.STR, description="One of your stores (code)."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=TransferStatus.values),
        ],
        summary="Transfers of your stores",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Transfer.objects.none()
        params = self.request.query_params
        status = params.get("status") or None
        if status and status not in TransferStatus.values:
            raise ValidationError({"status": [f"One of {', '.join(TransferStatus.values)}."]})
        if params.get("store"):
            store_ids = [_staff_store(self.request, params["store"]).pk]
        else:
            store_ids = store_ids_for_staff(self.request.user)
        return selectors.transfers_for_stores(store_ids=store_ids, status=status)


class _TransferStepView(APIView):
    access = {"POST": Rule(staff="inventory.change_transfer", scope="store")}
    #: which end of the transfer the staff member must work at
    side = "from_store"

    def step(self, actor, transfer: Transfer) -> Transfer:
        raise NotImplementedError

    def post(self, request, pk: int):
        transfer = get_object_or_404(selectors.transfers(), pk=pk)
        store = getattr(transfer, self.side)
        if store.pk not in store_ids_for_staff(request.user):
            raise PermissionDenied(f"Only staff of {store.code} may do this.")
        self.step(actor_from_request(request), transfer)
        return Response(TransferOutput(selectors.transfers().get(pk=pk)).data)


class TransferDispatchView(_TransferStepView):
    """The source store sends the goods (staff of the source store)."""

    side = "from_store"

    def step(self, actor, transfer):
        return services.dispatch_transfer(actor=actor, transfer=transfer)

    @extend_schema(request=None, responses=TransferOutput, summary="Send a transfer")
    @idempotent
    def post(self, request, pk: int):
        return super().post(request, pk)


class TransferReceiveView(_TransferStepView):
    """The destination store takes the goods in (staff of the destination store)."""

    side = "to_store"

    def step(self, actor, transfer):
        return services.receive_transfer(actor=actor, transfer=transfer)

    @extend_schema(request=None, responses=TransferOutput, summary="Receive a transfer")
    @idempotent
    def post(self, request, pk: int):
        return super().post(request, pk)
