"""Order endpoints: placing and reading orders, cancelling, and the store devices' actions."""

from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, OWN, Rule
from common.actor import Actor
from common.idempotency import idempotent
from common.input_guard import MAX_ID
from common.models import Channel
from common.output import Input, ModelOutput
from common.pagination import PageNumberPagination
from common.permissions import (
    customer_of,
    is_channel_client,
    is_staff_user,
)
from common.rows import as_prefetched
from common.schema import error_responses
from customers.discounts import is_well_formed, normalise_code
from customers.selectors import customer_by_id
from inventory.models import Variant
from inventory.selectors import variants_by_sku
from orders.models.orders import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    PaymentStatus,
)
from orders.models.returns import Refund
from orders.selectors import orders as selectors
from orders.selectors.refunds import is_overdue
from orders.services import orders as services
from stores.models import Store
from stores.selectors import store_by_code, store_ids_for_staff

# Which channels each kind of caller may place orders for (the number prefix follows it). A
# channel client's orders always carry its own channel.
CLIENT_CHANNELS = (Channel.WEB, Channel.APP, Channel.PHONE)
CUSTOMER_CHANNELS = (Channel.WEB, Channel.APP)
STAFF_CHANNELS = (Channel.STORE, Channel.PHONE)


def actor_for(request, channel: str | None = None) -> Actor:
    """The caller as an actor: a client's channel, web for a customer login, store for staff."""
    user = request.user
    if is_channel_client(user):
        return Actor(client=user.api_client, channel=channel or user.api_client.channel)
    # Staff first: the memberships are already known from the access check.
    if not is_staff_user(user) and customer_of(user) is not None:
        return Actor(user=user, channel=channel or Channel.WEB)
    return Actor(user=user, channel=channel or Channel.STORE)


# --- serializers -----------------------------------------------------------------------------


class StoreCodeRelatedField(serializers.SlugRelatedField):
    """An active store by its code, from the process's store directory (no query per call)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Store.objects.filter(is_active=True), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str | int) or isinstance(data, bool):
            self.fail("invalid")
        store = store_by_code(str(data))
        if store is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data))
        return store


def variants_for_lines(lines: list[dict]) -> list[tuple[Variant, int]]:
    """[{sku, quantity}] → [(variant, quantity)] in one query; unknown SKUs as per-line errors."""
    variants = variants_by_sku(line["sku"] for line in lines)
    errors = [
        {} if line["sku"] in variants else {"sku": [f"Unknown SKU '{line['sku']}'."]}
        for line in lines
    ]
    if any(errors):
        raise serializers.ValidationError(errors)
    return [(variants[line["sku"]], line["quantity"]) for line in lines]


class DiscountCodeInput(serializers.CharField):
    """A discount code as typed (any case, spaces and dashes ignored), handed on normalised; one
    not shaped like a code is a 400 here, an unknown or spent one a 409 from the service."""

    def __init__(self, **kwargs):
        super().__init__(max_length=20, required=False, allow_blank=True, **kwargs)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        if value and not is_well_formed(value):
            raise serializers.ValidationError("Not a discount code (8 letters and digits).")
        return normalise_code(value)


class OrderLineCreateInput(Input):
    sku = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1, max_value=9999)


class OrderCreateInput(Input):
    customer = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Customer id; a customer login may leave it out (itself).",
    )
    channel = serializers.ChoiceField(choices=CLIENT_CHANNELS + (Channel.STORE,), required=False)
    fulfilment = serializers.ChoiceField(choices=[Fulfilment.PICKUP, Fulfilment.DELIVERY])
    pickup_store = StoreCodeRelatedField(required=False, allow_null=True)
    shipping_store = StoreCodeRelatedField(
        required=False,
        allow_null=True,
        help_text="Warehouse to ship from; default: one that has it all.",
    )
    lines = OrderLineCreateInput(many=True, allow_empty=False, max_length=100)
    payment_status = serializers.ChoiceField(
        choices=[PaymentStatus.PAID, PaymentStatus.PAY_AT_PICKUP],
        required=False,
        help_text=(
            "paid: only from a channel client, with payment_reference (its default); "
            "customer logins and staff place pay_at_pickup orders (their default)."
        ),
    )
    payment_reference = serializers.CharField(
        max_length=100,
        required=False,
        help_text="The payment service's id of the payment; required for a paid order.",
    )
    store_credit = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="Store credit to spend on this order (at most the balance and the total).",
    )
    shipping_address = serializers.DictField(required=False)
    discount_code = DiscountCodeInput(
        help_text=(
            "A discount code (any case, spaces and dashes ignored); a used-up, expired or "
            "another customer's code answers 409 discount_code_invalid."
        ),
    )

    def validate_lines(self, lines):
        return variants_for_lines(lines)

    def validate(self, data):
        request = self.context["request"]
        user = request.user
        own = customer_of(user)
        channel = data.get("channel")
        errors: dict[str, list[str]] = {}
        client = is_channel_client(user)
        payment = data.setdefault(
            "payment_status", PaymentStatus.PAID if client else PaymentStatus.PAY_AT_PICKUP
        )
        if payment == PaymentStatus.PAID and not client:
            # Money is taken by the webshop's payment service, never by a login: a paid order
            # from a customer or staff login would be goods for nothing.
            raise PermissionDenied(
                "Only the webshop's or app's server places paid orders; use pay_at_pickup."
            )
        if client:
            covered = (
                data.get("store_credit")
                and isinstance(data.get("lines"), list)
                and (data["store_credit"] >= sum(v.price * q for v, q in data["lines"]))
            )
            if payment == PaymentStatus.PAID and not data.get("payment_reference") and not covered:
                errors["payment_reference"] = ["A paid order needs the payment service's id."]
            if channel and channel != user.api_client.channel:
                errors["channel"] = [f"This key places {user.api_client.channel} orders."]
            data["channel"] = user.api_client.channel
        elif is_staff_user(user) and channel and channel not in STAFF_CHANNELS:
            errors["channel"] = ["Use store or phone."]
        if own is not None and not is_staff_user(user):
            if data.get("customer") not in (None, own.pk):
                errors["customer"] = ["A customer login can only order for itself."]
            data["customer"] = own
            if channel and channel not in CUSTOMER_CHANNELS:
                errors["channel"] = ["Use web or app."]
        else:
            customer_id = data.get("customer")
            customer = customer_by_id(customer_id) if customer_id is not None else None
            if customer is None:
                errors["customer"] = ["An existing customer id is needed."]
            data["customer"] = customer
        if errors:
            raise serializers.ValidationError(errors)
        return data


class OrderLineOutput(ModelOutput):
    class Meta:
        model = OrderLine
        fields = [
            "id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "handed_over",
            "returned",
            "cancelled",
            "via_transfer",
        ]


class OrderStatusChangeOutput(ModelOutput):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "at", "channel", "actor", "note"]

    def get_actor(self, change) -> str:
        if change.actor_user_id:
            return change.actor_user.get_full_name() or change.actor_user.get_username()
        if change.actor_client_id:
            return change.actor_client.name
        return "system"


class RefundOutput(ModelOutput):
    """Money back: `pending` until the payment service has paid it, then `paid`; `failed` after
    the last attempt. `overdue`: pending longer than the manager's alert threshold."""

    overdue = serializers.SerializerMethodField()
    return_number = serializers.SlugRelatedField(
        source="return_request", slug_field="number", read_only=True
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "amount",
            "status",
            "method",
            "overdue",
            "reason",
            "return_number",
            "provider",
            "provider_reference",
            "created_at",
            "paid_at",
        ]

    def get_overdue(self, refund) -> bool:
        return is_overdue(refund)


class OrderOutput(ModelOutput):
    pickup_store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    fulfilment_store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    customer = serializers.PrimaryKeyRelatedField(read_only=True)
    pickup_code = serializers.SerializerMethodField()
    lines = OrderLineOutput(many=True, read_only=True)
    refunds = RefundOutput(many=True, read_only=True)
    history = OrderStatusChangeOutput(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "channel",
            "fulfilment",
            "pickup_store",
            "fulfilment_store",
            "customer",
            "payment_status",
            "payment_reference",
            "payment_method",
            "currency",
            "subtotal",
            "discount",
            "total",
            "store_credit_used",
            "pickup_code",
            "handover_locked_at",
            "ready_at",
            "pickup_deadline",
            "transfer",
            "collected_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            "created_at",
            "lines",
            "refunds",
            "history",
        ]

    def get_pickup_code(self, order) -> str | None:
        # Only while the order waits at the counter; codes are reused once an order is closed.
        return order.pickup_code if order.status == OrderStatus.READY_FOR_PICKUP else None


class HandOverLineInput(Input):
    order_line = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=0, max_value=9999)


class HandOverInput(Input):
    pickup_code = serializers.CharField(
        max_length=80,
        help_text="The code as typed, or the QR code's payload OMNIS-PICKUP:<number>:<code>.",
    )
    lines = HandOverLineInput(
        many=True,
        required=False,
        help_text="For a partial hand-over: what the customer takes; the rest goes back.",
    )


class OrderCancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


# --- helpers ---------------------------------------------------------------------------------


def _detail(number: str) -> Order:
    order = selectors.order_by_number(number)
    if order is None:
        raise Http404
    return order


def _visible_order(request, number: str) -> Order:
    """The order if the caller may see it: clients any, customers their own, staff their stores."""
    user = request.user
    order = _detail(number)
    if is_channel_client(user):
        return order
    if is_staff_user(user):
        if not selectors.staff_may_see(user, order):
            raise PermissionDenied("This order belongs to a store you do not work in.")
        return order
    own = customer_of(user)
    if own is None or order.customer_id != own.pk:
        raise Http404
    return order


def _staff_order(request, number: str, *, store_of: str) -> Order:
    order = selectors.order_to_act_on(number)
    if order is None:
        raise Http404
    store_id = getattr(order, f"{store_of}_id")
    if store_id not in store_ids_for_staff(request.user):
        raise PermissionDenied("This order belongs to a store you do not work in.")
    return order


def _reloaded(order: Order) -> dict:
    return OrderOutput(selectors.order_by_number(order.number)).data


# --- webshop and customer endpoints ----------------------------------------------------------


class OrderCreateView(APIView):
    access = {"POST": Rule(clients=True, customers=True, staff="orders.add_order", scope="own")}

    @extend_schema(
        operation_id="orders_create",
        request=OrderCreateInput,
        responses={201: OrderOutput, **error_responses(400, 409, 422)},
        summary="Place an order (click & collect or home delivery)",
        description=(
            "Reserves the stock at the pickup store (a warehouse transfer fills what it lacks) or "
            "at the shipping warehouse. 409 insufficient_stock names each short line."
        ),
    )
    @idempotent
    def post(self, request):
        data = OrderCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        order = services.place_order(
            actor=actor_for(request, values.get("channel")),
            customer=values["customer"],
            fulfilment=values["fulfilment"],
            lines=values["lines"],
            pickup_store=values.get("pickup_store"),
            shipping_store=values.get("shipping_store"),
            payment_status=values["payment_status"],
            payment_reference=values.get("payment_reference", ""),
            shipping_address=values.get("shipping_address"),
            store_credit_amount=values.get("store_credit"),
            discount_code=values.get("discount_code") or None,
        )
        # The service hands back what it wrote (lines, history): answered without a read-back.
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    access = {"GET": Rule(clients=True, customers=True, staff=ANY_STAFF, scope="store")}

    @extend_schema(
        operation_id="orders_retrieve",
        responses={200: OrderOutput, **error_responses(403, 404)},
        summary="An order with its lines and status history",
    )
    def get(self, request, number: str):
        return Response(OrderOutput(_visible_order(request, number)).data)


class OrderCancelView(APIView):
    access = {
        "POST": Rule(clients=True, customers=True, staff="orders.change_order", scope="store")
    }

    @extend_schema(
        operation_id="orders_cancel",
        request=OrderCancelInput,
        responses={200: OrderOutput, **error_responses(403, 404, 409)},
        summary="Cancel an order that is not yet collected or shipped; its stock is released",
    )
    @idempotent
    def post(self, request, number: str):
        data = OrderCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = _visible_order(request, number)
        services.cancel_order(
            actor=actor_for(request), order=order, reason=data.validated_data["reason"]
        )
        return Response(_reloaded(order))


class MyOrdersView(ListAPIView):
    access = {"GET": OWN}
    serializer_class = OrderOutput
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="me_orders_list", summary="The logged-in customer's orders")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.orders_of_customer(customer_of(self.request.user))


# --- store devices ---------------------------------------------------------------------------


class StaffOrderListView(ListAPIView):
    access = {"GET": Rule(staff=ANY_STAFF)}
    serializer_class = OrderOutput
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="staff_orders_list",
        summary="Orders of my stores, e.g. today's pickups (?status=ready_for_pickup)",
        parameters=[
            OpenApiParameter("store", OpenApiTypes.STR, description="Store code, e.g. BER-01"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=OrderStatus.values),
        ],
    )
    def get(self, request, *args, **kwargs):
        status_filter = request.query_params.get("status")
        if status_filter and status_filter not in OrderStatus.values:
            raise serializers.ValidationError(
                {"status": [f"Use one of {', '.join(OrderStatus.values)}."]}
            )
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.orders_for_staff(
            self.request.user, store_code=params.get("store"), status=params.get("status")
        )


class StaffOrderReadyView(APIView):
    access = {"POST": Rule(staff="orders.change_order", scope="store")}

    @extend_schema(
        operation_id="staff_orders_ready",
        request=None,
        responses={200: OrderOutput, **error_responses(403, 404, 409)},
        summary="Picked and ready: creates the pickup code and notifies the customer",
        description="409 awaiting_transfer while the goods are still coming from the warehouse.",
    )
    @idempotent
    def post(self, request, number: str):
        order = _staff_order(request, number, store_of="pickup_store")
        services.mark_ready_for_pickup(actor=actor_for(request), order=order)
        return Response(_reloaded(order))


class StaffOrderHandOverView(APIView):
    access = {"POST": Rule(staff="orders.change_order", scope="store")}

    @extend_schema(
        operation_id="staff_orders_hand_over",
        request=HandOverInput,
        responses={200: OrderOutput, **error_responses(400, 403, 404, 409)},
        summary="Hand over after checking the pickup code; `lines` for a partial hand-over",
        description=(
            "409 wrong_pickup_code (the attempt is counted; the 5th wrong code locks the "
            "hand-over), 409 handover_locked until a manager unlocks it, 409 illegal_transition."
        ),
    )
    @idempotent
    def post(self, request, number: str):
        order = _staff_order(request, number, store_of="pickup_store")
        data = HandOverInput(data=request.data)
        data.is_valid(raise_exception=True)
        lines = data.validated_data.get("lines")
        order = services.hand_over(
            actor=actor_for(request),
            order=order,
            pickup_code=data.validated_data["pickup_code"],
            lines=None if lines is None else [(ln["order_line"], ln["quantity"]) for ln in lines],
        )
        # Lines and refunds come back from the service; only the history is read.
        as_prefetched(order, history=selectors.order_history(order))
        return Response(OrderOutput(order).data)


class StaffOrderShipView(APIView):
    access = {"POST": Rule(staff="orders.change_order", scope="store")}

    @extend_schema(
        operation_id="staff_orders_ship",
        request=None,
        responses={200: OrderOutput, **error_responses(403, 404, 409)},
        summary="A delivery order leaves the warehouse (its stock is sold there)",
    )
    @idempotent
    def post(self, request, number: str):
        order = _staff_order(request, number, store_of="fulfilment_store")
        services.ship_order(actor=actor_for(request), order=order)
        return Response(_reloaded(order))


class StaffOrderDeliverView(APIView):
    access = {"POST": Rule(staff="orders.change_order", scope="store")}

    @extend_schema(
        operation_id="staff_orders_deliver",
        request=None,
        responses={200: OrderOutput, **error_responses(403, 404, 409)},
        summary="The carrier delivered a shipped order",
    )
    @idempotent
    def post(self, request, number: str):
        order = _staff_order(request, number, store_of="fulfilment_store")
        services.deliver_order(actor=actor_for(request), order=order)
        return Response(_reloaded(order))


class StaffOrderUnlockHandOverView(APIView):
    access = {"POST": Rule(staff="orders.unlock_hand_over", scope="store")}

    @extend_schema(
        operation_id="staff_orders_unlock_hand_over",
        request=None,
        responses={200: OrderOutput, **error_responses(403, 404)},
        summary="A manager of the pickup store unlocks a hand-over locked by wrong codes",
    )
    @idempotent
    def post(self, request, number: str):
        order = _staff_order(request, number, store_of="pickup_store")
        services.unlock_hand_over(actor=actor_for(request), order=order)
        return Response(_reloaded(order))


urlpatterns = [
    path("orders/", OrderCreateView.as_view(), name="order-create"),
    path("orders/<str:number>/", OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel/", OrderCancelView.as_view(), name="order-cancel"),
    path("me/orders/", MyOrdersView.as_view(), name="me-orders"),
    path("staff/orders/", StaffOrderListView.as_view(), name="staff-order-list"),
    path(
        "staff/orders/<str:number>/ready/", StaffOrderReadyView.as_view(), name="staff-order-ready"
    ),
    path(
        "staff/orders/<str:number>/hand-over/",
        StaffOrderHandOverView.as_view(),
        name="staff-order-hand-over",
    ),
    path(
        "staff/orders/<str:number>/unlock-hand-over/",
        StaffOrderUnlockHandOverView.as_view(),
        name="staff-order-unlock-hand-over",
    ),
    path("staff/orders/<str:number>/ship/", StaffOrderShipView.as_view(), name="staff-order-ship"),
    path(
        "staff/orders/<str:number>/deliver/",
        StaffOrderDeliverView.as_view(),
        name="staff-order-deliver",
    ),
]
