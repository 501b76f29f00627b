"""Returns API: announce a return (any channel), follow it, and the store devices' receive, refund,
reject and exchange actions; the customer's own returns and store credit under /me/."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, OWN, Rule
from common.actor import actor_from_request
from common.idempotency import idempotent
from common.input_guard import MAX_ID
from common.models import Channel
from common.output import ModelOutput
from common.pagination import PAGE_PARAMETERS, PageNumberPagination
from common.permissions import customer_of, is_channel_client
from common.schema import error_response, error_responses
from customers.models import StoreCreditEntry
from customers.services import store_credit_balance
from inventory.models import Variant
from orders.api.orders import RefundOutput
from orders.models import (
    Fulfilment,
    LineCondition,
    Order,
    OrderLine,
    PaymentStatus,
    RefundMethod,
    Return,
    ReturnLine,
    ReturnMethod,
    ReturnReason,
    ReturnStatus,
    ReturnStatusChange,
)
from orders.selectors import returns as selectors
from orders.services import returns as services
from stores.models import Store
from stores.selectors import store_ids_for_staff

# --- serializers -----------------------------------------------------------------------------


class ReturnLineCreateInput(serializers.Serializer):
    order_line = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of the order line."
    )
    quantity = serializers.IntegerField(min_value=1, max_value=9999)
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    reason_text = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default=""
    )


class ReturnCreateInput(serializers.Serializer):
    order = serializers.CharField(max_length=20, help_text="Order number, e.g. W-000123.")
    store = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=6,
        help_text="Code of the receiving store; leave out with method mail.",
    )
    method = serializers.ChoiceField(choices=ReturnMethod.choices, default=ReturnMethod.STORE)
    lines = ReturnLineCreateInput(many=True, allow_empty=False)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        default="",
        help_text="A store manager's reason to accept a return after the return window.",
    )

    def validate(self, attrs):
        if attrs["method"] == ReturnMethod.STORE and not attrs.get("store"):
            raise serializers.ValidationError(
                {"store": ["Name the receiving store, or send method mail."]}
            )
        return attrs


class ReturnLineOutput(ModelOutput):
    sku = serializers.CharField(source="order_line.sku")
    name = serializers.CharField(source="order_line.name")

    class Meta:
        model = ReturnLine
        fields = [
            "id",
            "order_line",
            "sku",
            "name",
            "quantity",
            "reason",
            "reason_text",
            "condition",
            "refund_amount",
        ]


class ReturnHistoryOutput(ModelOutput):
    class Meta:
        model = ReturnStatusChange
        fields = ["from_status", "to_status", "channel", "note", "at"]


class ReturnOutput(ModelOutput):
    order = serializers.SlugRelatedField(slug_field="number", read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    replacement_order = serializers.SlugRelatedField(slug_field="number", read_only=True)
    lines = ReturnLineOutput(many=True, read_only=True)
    refunds = RefundOutput(many=True, read_only=True)
    history = ReturnHistoryOutput(many=True, read_only=True)

    class Meta:
        model = Return
        fields = [
            "id",
            "number",
            "status",
            "order",
            "customer",
            "method",
            "store",
            "channel",
            "window_override_reason",
            "rejection_reason",
            "created_at",
            "received_at",
            "refunded_at",
            "replacement_order",
            "lines",
            "refunds",
            "history",
        ]


class ReturnReceiveLineInput(serializers.Serializer):
    return_line = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    condition = serializers.ChoiceField(choices=LineCondition.choices)


class ReturnReceiveInput(serializers.Serializer):
    lines = ReturnReceiveLineInput(many=True, allow_empty=False)
    store = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=6,
        help_text="Received at another store than announced: its code.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class ReturnRefundInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=RefundMethod.choices)


class ReturnRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class ExchangeLineInput(serializers.Serializer):
    sku = serializers.SlugRelatedField(
        slug_field="sku", queryset=Variant.objects.filter(is_active=True), source="variant"
    )
    quantity = serializers.IntegerField(min_value=1, max_value=9999)


class ReturnExchangeInput(serializers.Serializer):
    fulfilment = serializers.ChoiceField(choices=[Fulfilment.PICKUP, Fulfilment.DELIVERY])
    pickup_store = serializers.CharField(required=False, allow_null=True, max_length=6)
    lines = ExchangeLineInput(many=True, allow_empty=False)
    payment_status = serializers.ChoiceField(
        choices=[PaymentStatus.PAID, PaymentStatus.PAY_AT_PICKUP],
        default=PaymentStatus.PAID,
        help_text="How a dearer replacement's difference is paid.",
    )
    refund_method = serializers.ChoiceField(
        choices=RefundMethod.choices,
        default=RefundMethod.ORIGINAL,
        help_text="How a cheaper replacement's difference goes back.",
    )
    shipping_address = serializers.DictField(required=False)


class ReturnExchangeOutput(serializers.Serializer):
    return_request = ReturnOutput()
    replacement_order = serializers.CharField()
    replacement_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid_by_return = serializers.DecimalField(max_digits=12, decimal_places=2)
    to_pay = serializers.DecimalField(max_digits=12, decimal_places=2)


class ReturnableLineOutput(serializers.ModelSerializer):
    in_returns = serializers.IntegerField(help_text="Units held by returns not rejected.")
    returnable = serializers.IntegerField(help_text="Handed over minus units in returns.")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "discount",
            "handed_over",
            "returned",
            "in_returns",
            "returnable",
        ]


class StoreLocalDateTimeField(serializers.DateTimeField):
    """Keeps the offset the value carries (the store's time zone) instead of the server's."""

    def enforce_timezone(self, value):
        return value if timezone.is_aware(value) else super().enforce_timezone(value)


class ReturnableOrderOutput(serializers.Serializer):
    order = serializers.CharField()
    channel = serializers.CharField()
    customer = serializers.IntegerField()
    handed_over_at = serializers.DateTimeField()
    return_deadline = StoreLocalDateTimeField(
        help_text="Last moment to return at `store` (its own window, else the default one), "
        "with the store's UTC offset."
    )
    lines = ReturnableLineOutput(many=True)


class StoreCreditEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = StoreCreditEntry
        fields = ["id", "amount", "reason", "cause_type", "cause_id", "created_at"]


StoreCreditPage = inline_serializer(
    name="StoreCreditPage",
    fields={
        "balance": serializers.DecimalField(max_digits=12, decimal_places=2),
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": StoreCreditEntryOutput(many=True),
    },
)


# --- helpers ---------------------------------------------------------------------------------


def _store_by_code(code: str | None, field: str = "store") -> Store | None:
    if not code:
        return None
    store = Store.objects.filter(code=code.strip().upper()).first()
    if store is None:
        raise serializers.ValidationError({field: [f"Unknown store '{code}'."]})
    return store


def _actor(request):
    if customer_of(request.user) is not None:
        return actor_from_request(request, channel=Channel.WEB)
    return actor_from_request(request)


def _visible_return(request, pk: int) -> Return:
    """A customer sees only its own returns (others: 404); staff those of their stores (403)."""
    return_request = get_object_or_404(selectors.return_with_details(), pk=pk)
    if is_channel_client(request.user):
        return return_request
    customer = customer_of(request.user)
    if customer is not None and return_request.customer_id == customer.pk:
        return return_request
    if return_request.store_id in store_ids_for_staff(request.user):
        return return_request
    if customer is not None:
        raise Http404
    raise PermissionDenied("This return arrives at a store you do not work in.")


def _staff_return(request, pk: int) -> Return:
    """A return announced for one of the staff member's stores; checked before the body is read,
    so a foreign store learns nothing about it."""
    return_request = selectors.return_with_store(pk)
    if return_request is None:
        raise Http404
    if return_request.store_id not in store_ids_for_staff(request.user):
        raise PermissionDenied("This return arrives at a store you do not work in.")
    return return_request


def _detail(pk: int) -> dict:
    return ReturnOutput(selectors.return_detail(pk)).data


# --- views -----------------------------------------------------------------------------------


class ReturnCreateView(APIView):
    """Announce a return: channel clients for any customer, customer logins for their own
    orders, staff at their own counters."""

    access = {"POST": Rule(clients=True, customers=True, staff="orders.add_return", scope="own")}

    @extend_schema(
        request=ReturnCreateInput,
        responses={201: ReturnOutput},
        summary="Announce a return of order lines",
        tags=["returns"],
    )
    @idempotent
    def post(self, request):
        data = ReturnCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        orders = Order.objects.select_related("customer")
        customer = customer_of(request.user)
        if customer is not None:
            orders = orders.filter(customer=customer)
        order = orders.filter(number=values["order"].strip().upper()).first()
        if order is None:
            raise serializers.ValidationError({"order": ["Unknown order."]})
        store = None
        if values["method"] == ReturnMethod.STORE:
            store = _store_by_code(values.get("store"))
        return_request = services.create_return(
            actor=_actor(request),
            order=order,
            store=store,
            method=values["method"],
            override_reason=values["override_reason"],
            lines=[services.ReturnLineRequest(**line) for line in values["lines"]],
        )
        return Response(_detail(return_request.pk), status=status.HTTP_201_CREATED)


class ReturnDetailView(APIView):
    access = {"GET": Rule(clients=True, customers=True, staff=ANY_STAFF, scope="store")}

    @extend_schema(
        responses=ReturnOutput, summary="A return with its lines and refunds", tags=["returns"]
    )
    def get(self, request, pk: int):
        return Response(ReturnOutput(_visible_return(request, pk)).data)


class MyReturnsView(ListAPIView):
    access = {"GET": OWN}
    serializer_class = ReturnOutput
    pagination_class = PageNumberPagination
    filter_backends: list = []

    @extend_schema(summary="My returns, newest first", tags=["me"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.returns_of_customer(customer_of(self.request.user))


class MyStoreCreditView(APIView):
    access = {"GET": OWN}

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={200: StoreCreditPage, **error_responses(404)},
        summary="My store credit: the balance and its entries, newest first",
        tags=["me"],
    )
    def get(self, request):
        customer = customer_of(request.user)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.store_credit_entries(customer), request, view=self
        )
        response = paginator.get_paginated_response(StoreCreditEntryOutput(page, many=True).data)
        balance = store_credit_balance(customer).quantize(Decimal("0.01"))
        response.data = {"balance": str(balance), **response.data}
        return response


class StaffReturnListView(ListAPIView):
    access = {"GET": Rule(staff=ANY_STAFF)}
    serializer_class = ReturnOutput
    pagination_class = PageNumberPagination
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=ReturnStatus.values),
            OpenApiParameter("store", OpenApiTypes.STR, description="Store code."),
        ],
        summary="Returns arriving at my stores, newest first",
        tags=["staff"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status")
        if wanted and wanted not in ReturnStatus.values:
            raise serializers.ValidationError(
                {"status": [f"Use one of: {', '.join(ReturnStatus.values)}."]}
            )
        return selectors.returns_for_stores(
            store_ids_for_staff(self.request.user),
            status=wanted,
            store_code=self.request.query_params.get("store"),
        )


class StaffReturnableLinesView(APIView):
    """What of an order can still come back — for any order from any channel or store, since
    anything bought anywhere may be returned at this counter."""

    access = {"GET": Rule(staff=ANY_STAFF)}

    @extend_schema(
        parameters=[
            OpenApiParameter("order", OpenApiTypes.STR, required=True, description="Order number."),
            OpenApiParameter(
                "store", OpenApiTypes.STR, description="Receiving store code, for its window."
            ),
        ],
        responses={
            200: ReturnableOrderOutput,
            404: error_response(404, "No order with this number."),
        },
        summary="An order's lines with the quantities still returnable",
        tags=["staff"],
    )
    def get(self, request):
        number = (request.query_params.get("order") or "").strip().upper()
        order = get_object_or_404(Order.objects.select_related("fulfilment_store"), number=number)
        store = _store_by_code(request.query_params.get("store"))
        window = timedelta(days=settings.OMNIS_RETURN_WINDOW_DAYS)
        data = {
            "order": order.number,
            "channel": order.channel,
            "customer": order.customer_id,
            "handed_over_at": services.handed_over_at(order),
            "return_deadline": services.return_deadline(order, store)
            if store
            else services.handed_over_at(order) + window,
            "lines": selectors.order_lines_with_returnable(order),
        }
        return Response(ReturnableOrderOutput(data).data)


class StaffReturnReceiveView(APIView):
    access = {"POST": Rule(staff="orders.change_return", scope="store")}

    @extend_schema(
        request=ReturnReceiveInput,
        responses=ReturnOutput,
        summary="Goods arrived: each line resellable (restocked here) or damaged",
        tags=["staff"],
    )
    @idempotent
    def post(self, request, pk: int):
        return_request = _staff_return(request, pk)
        data = ReturnReceiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        receiving = _store_by_code(values.get("store"))
        if receiving is not None and receiving.pk not in store_ids_for_staff(request.user):
            raise PermissionDenied("Receive only at a store you work in.")
        conditions: dict[int, str] = {}
        for line in values["lines"]:
            if line["return_line"] in conditions:
                raise serializers.ValidationError(
                    {"lines": [f"Return line {line['return_line']} is named twice."]}
                )
            conditions[line["return_line"]] = line["condition"]
        services.receive_return(
            actor=_actor(request),
            return_request=return_request,
            conditions=conditions,
            store=receiving,
            note=values["note"],
        )
        return Response(_detail(return_request.pk))


class StaffReturnRefundView(APIView):
    access = {"POST": Rule(staff="orders.refund_return", scope="store")}

    @extend_schema(
        request=ReturnRefundInput,
        responses=ReturnOutput,
        summary="Refund a received return to the original payment or as store credit",
        tags=["staff"],
    )
    @idempotent
    def post(self, request, pk: int):
        return_request = _staff_return(request, pk)
        data = ReturnRefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.refund_return(
            actor=_actor(request),
            return_request=return_request,
            method=data.validated_data["method"],
        )
        return Response(_detail(return_request.pk))


class StaffReturnRejectView(APIView):
    access = {"POST": Rule(staff="orders.change_return", scope="store")}

    @extend_schema(
        request=ReturnRejectInput,
        responses=ReturnOutput,
        summary="Reject an announced return",
        tags=["staff"],
    )
    @idempotent
    def post(self, request, pk: int):
        return_request = _staff_return(request, pk)
        data = ReturnRejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.reject_return(
            actor=_actor(request),
            return_request=return_request,
            reason=data.validated_data["reason"],
        )
        return Response(_detail(return_request.pk))


class StaffReturnExchangeView(APIView):
    access = {"POST": Rule(staff="orders.refund_return", scope="store")}

    @extend_schema(
        request=ReturnExchangeInput,
        responses={201: ReturnExchangeOutput},
        summary="Settle a received return with a replacement order",
        description=(
            "The return's value pays for the replacement (as store credit spent at once). A dearer "
            "replacement's difference is paid per `payment_status`; a cheaper one's goes back by "
            "`refund_method`."
        ),
        tags=["staff"],
    )
    @idempotent
    def post(self, request, pk: int):
        return_request = _staff_return(request, pk)
        data = ReturnExchangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        _, replacement, _ = services.exchange_return(
            actor=_actor(request),
            return_request=return_request,
            lines=[(line["variant"], line["quantity"]) for line in values["lines"]],
            fulfilment=values["fulfilment"],
            pickup_store=_store_by_code(values.get("pickup_store"), "pickup_store"),
            payment_status=values["payment_status"],
            refund_method=values["refund_method"],
            shipping_address=values.get("shipping_address"),
        )
        body = {
            "return_request": _detail(return_request.pk),
            "replacement_order": replacement.number,
            "replacement_total": str(replacement.total),
            "paid_by_return": str(replacement.store_credit_used),
            "to_pay": str(replacement.total - replacement.store_credit_used),
        }
        return Response(body, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("returns/", ReturnCreateView.as_view(), name="return-create"),
    path("returns/<int:pk>/", ReturnDetailView.as_view(), name="return-detail"),
    path("me/returns/", MyReturnsView.as_view(), name="me-returns"),
    path("me/store-credit/", MyStoreCreditView.as_view(), name="me-store-credit"),
    path("staff/returns/", StaffReturnListView.as_view(), name="staff-return-list"),
    path(
        "staff/returns/returnable/",
        StaffReturnableLinesView.as_view(),
        name="staff-return-returnable",
    ),
    path(
        "staff/returns/<int:pk>/receive/",
        StaffReturnReceiveView.as_view(),
        name="staff-return-receive",
    ),
    path(
        "staff/returns/<int:pk>/refund/",
        StaffReturnRefundView.as_view(),
        name="staff-return-refund",
    ),
    path(
        "staff/returns/<int:pk>/reject/",
        StaffReturnRejectView.as_view(),
        name="staff-return-reject",
    ),
    path(
        "staff/returns/<int:pk>/exchange/",
        StaffReturnExchangeView.as_view(),
        name="staff-return-exchange",
    ),
]
