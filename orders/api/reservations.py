"""Reservation endpoints: hold, read, extend, cancel; the store's collect; the customer's list."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, OWN, Rule
from common.actor import Actor, actor_from_request
from common.idempotency import idempotent
from common.input_guard import MAX_ID
from common.models import Channel
from common.output import Input, ModelOutput
from common.permissions import customer_of, is_channel_client
from orders.api.orders import StoreCodeRelatedField, variants_for_lines
from orders.models import Reservation, ReservationLine, ReservationStatusChange
from orders.selectors.reservations import (
    active_reservations_in_stores,
    reservations,
    reservations_of_customer,
    staff_may_reserve_in,
    staff_may_see,
)
from orders.services import reservations as services
from stores.models import Store
from stores.selectors import (
    can_act_on_store,
    is_service_agent,
    is_staff_member,
    store_ids_for_staff,
)

# --- serializers -----------------------------------------------------------------------------


class ReservationLineInput(Input):
    sku = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1, max_value=999)


class ReservationCreateInput(Input):
    """Who the hold is for: `customer` (id), or `phone`/`email` (+ names) to find the customer in
    any phone format or create them. A customer login always reserves for itself."""

    customer = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="Customer id (unknown or merged: 400 on customer).",
    )
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    store = StoreCodeRelatedField()
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        help_text="Defaults to the API client's channel; phone for service agents; store for "
        "other staff; web for customer logins.",
    )
    lines = ReservationLineInput(many=True, allow_empty=False)
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Optional deadline: in the future and within the store's maximum hold. Default: "
        "the store's hold hours, ending at the latest at its closing time that day.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate_lines(self, lines):
        # Every SKU of the request in one query (unknown or no longer sold: per-line errors).
        return variants_for_lines(lines)


class ReservationExtendInput(serializers.Serializer):
    hours = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 31,
        help_text="Hours to add (default: the store's hold hours); capped at closing time.",
    )
    expires_at = serializers.DateTimeField(required=False, help_text="Or a new deadline.")

    def validate(self, attrs):
        if "hours" in attrs and "expires_at" in attrs:
            raise ValidationError({"hours": ["Give either hours or expires_at, not both."]})
        return attrs


class ReservationCancelInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class ReservationCollectLineInput(serializers.Serializer):
    reservation_line = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=0, max_value=999)


class ReservationCollectInput(serializers.Serializer):
    lines = ReservationCollectLineInput(
        many=True,
        required=False,
        allow_empty=False,
        help_text="For a partial collection; lines left out are released. Default: everything.",
    )


class ReservationLineOutput(ModelOutput):
    sku = serializers.CharField(source="variant.sku")
    name = serializers.CharField(source="variant.product.name")
    attributes = serializers.JSONField(source="variant.attributes")

    class Meta:
        model = ReservationLine
        fields = ["id", "sku", "name", "attributes", "quantity", "collected"]


class ReservationHistoryOutput(ModelOutput):
    class Meta:
        model = ReservationStatusChange
        fields = ["from_status", "to_status", "channel", "note", "at"]


class ReservationOutput(ModelOutput):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    store_name = serializers.CharField(source="store.name")
    order = serializers.SlugRelatedField(
        slug_field="number", read_only=True, help_text="The store sale, once collected."
    )
    extensions_left = serializers.SerializerMethodField()
    lines = ReservationLineOutput(many=True)
    history = ReservationHistoryOutput(many=True)

    class Meta:
        model = Reservation
        fields = [
            "id",
            "status",
            "release_reason",
            "store",
            "store_name",
            "customer",
            "channel",
            "expires_at",
            "remind_at",
            "extension_count",
            "extensions_left",
            "created_at",
            "collected_at",
            "released_at",
            "order",
            "note",
            "lines",
            "history",
        ]

    def get_extensions_left(self, reservation) -> int:
        return max(reservation.store.max_hold_extensions - reservation.extension_count, 0)


# --- who may see which reservation -----------------------------------------------------------


def _visible_reservation(request, pk: int) -> Reservation:
    """Clients see every reservation, a customer only their own (else 404), staff their stores'."""
    reservation = get_object_or_404(reservations(), pk=pk)
    user = request.user
    if is_channel_client(user):
        return reservation
    customer = customer_of(user)
    if customer is not None and reservation.customer_id == customer.pk:
        return reservation
    if is_staff_member(user):
        if staff_may_see(user, reservation):
            return reservation
        raise PermissionDenied("This reservation is in a store you do not work in.")
    raise Http404


def _actor(request, channel: str | None = None) -> Actor:
    user = request.user
    if channel is None and not is_channel_client(user):
        if customer_of(user) is not None and not is_staff_member(user):
            channel = Channel.WEB
        elif is_service_agent(user):
            channel = Channel.PHONE
    return actor_from_request(request, channel)


def _output(reservation: Reservation, code: int = status.HTTP_200_OK) -> Response:
    fresh = reservations().get(pk=reservation.pk)
    return Response(ReservationOutput(fresh).data, status=code)


# --- views -----------------------------------------------------------------------------------


class ReservationCreateView(APIView):
    access = {
        "POST": Rule(clients=True, customers=True, staff="orders.add_reservation", scope="own")
    }

    @extend_schema(
        request=ReservationCreateInput,
        responses={201: ReservationOutput},
        summary="Hold stock in a store for a customer until a deadline",
        description="400 with field errors for an unreadable phone, a deadline in the past or "
        "beyond the store's maximum, a store that takes no reservations, no lines; 409 "
        "`insufficient_stock` with every short line. Accepts Idempotency-Key.",
    )
    @idempotent
    def post(self, request):
        data = ReservationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user
        store = values["store"]
        customer, customer_id = None, values.get("customer")
        details = None
        own = customer_of(user) if not is_channel_client(user) else None
        if own is not None and not is_staff_member(user):
            if customer_id is not None and customer_id != own.pk:
                raise Http404
            customer, customer_id = own, None
        elif not is_channel_client(user) and not staff_may_reserve_in(user, store):
            raise PermissionDenied(f"You cannot reserve in {store.code}.")
        if customer is None and customer_id is None:
            details = {
                field: values.get(field) for field in ("phone", "email", "first_name", "last_name")
            }
        # By id, the customer is read only when the service locks its row (no query here).
        reservation = services.reserve_for_customer(
            actor=_actor(request, values.get("channel")),
            store=store,
            lines=values["lines"],
            customer=customer,
            customer_id=customer_id,
            customer_details=details,
            expires_at=values.get("expires_at"),
            note=values["note"],
        )
        # The service hands back what it wrote (lines, history): answered without a read-back.
        return Response(ReservationOutput(reservation).data, status=status.HTTP_201_CREATED)


class ReservationDetailView(APIView):
    access = {"GET": Rule(clients=True, customers=True, staff=ANY_STAFF, scope="store")}

    @extend_schema(responses={200: ReservationOutput}, summary="A reservation")
    def get(self, request, pk: int):
        return Response(ReservationOutput(_visible_reservation(request, pk)).data)


class ReservationExtendView(APIView):
    access = {
        "POST": Rule(clients=True, customers=True, staff="orders.change_reservation", scope="store")
    }

    @extend_schema(
        request=ReservationExtendInput,
        responses={200: ReservationOutput},
        summary="Extend the deadline",
        description="By `hours` or to `expires_at`; at most the store's number of extensions and "
        "never beyond its maximum hold from the creation (409 `extension_limit`). 409 "
        "`reservation_expired` / `reservation_not_active` when it is too late.",
    )
    @idempotent
    def post(self, request, pk: int):
        reservation = _visible_reservation(request, pk)
        data = ReservationExtendInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = services.extend_reservation(
            actor=_actor(request), reservation=reservation, **data.validated_data
        )
        return _output(reservation)


class ReservationCancelView(APIView):
    access = {
        "POST": Rule(clients=True, customers=True, staff="orders.change_reservation", scope="store")
    }

    @extend_schema(
        request=ReservationCancelInput,
        responses={200: ReservationOutput},
        summary="Cancel: the held stock goes back on sale",
    )
    @idempotent
    def post(self, request, pk: int):
        reservation = _visible_reservation(request, pk)
        data = ReservationCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = services.cancel_reservation(
            actor=_actor(request), reservation=reservation, note=data.validated_data["note"]
        )
        return _output(reservation)


class ReservationCollectView(APIView):
    access = {"POST": Rule(staff="orders.change_reservation", scope="store")}

    @extend_schema(
        request=ReservationCollectInput,
        responses={200: ReservationOutput},
        summary="The customer takes the reserved items: a store sale",
        description="Staff of the reservation's store only. `order` in the answer is the sale's "
        "number. 409 when expired (even before the expiry run) or already collected/released.",
    )
    @idempotent
    def post(self, request, pk: int):
        reservation = get_object_or_404(Reservation.objects.select_related("store"), pk=pk)
        if not can_act_on_store(request.user, reservation.store):
            raise PermissionDenied("This reservation is in a store you do not work in.")
        data = ReservationCollectInput(data=request.data)
        data.is_valid(raise_exception=True)
        lines = data.validated_data.get("lines")
        reservation = services.collect_reservation(
            actor=actor_from_request(request, Channel.STORE),
            reservation=reservation,
            lines=None
            if lines is None
            else [(line["reservation_line"], line["quantity"]) for line in lines],
        )
        return _output(reservation)


class MyReservationsView(ListAPIView):
    """The logged-in customer's reservations, newest first."""

    access = {"GET": OWN}
    serializer_class = ReservationOutput

    def get_queryset(self):
        return reservations_of_customer(customer_of(self.request.user))

    @extend_schema(summary="My reservations")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class StaffReservationsView(ListAPIView):
    """Active reservations in the staff member's stores, the one expiring first on top."""

    access = {"GET": Rule(staff=ANY_STAFF)}
    serializer_class = ReservationOutput

    def get_queryset(self):
        store_ids = store_ids_for_staff(self.request.user)
        code = self.request.query_params.get("store")
        if code:
            store = Store.objects.filter(code=code).first()
            if store is None:
                raise ValidationError({"store": [f"Unknown store '{code}'."]})
            if store.pk not in store_ids:
                raise PermissionDenied(f"You do not work in {code}.")
            store_ids = {store.pk}
        return active_reservations_in_stores(store_ids)

    @extend_schema(
        summary="Active reservations to collect in my stores",
        parameters=[OpenApiParameter("store", str, description="Only this store (its code).")],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("reservations/", ReservationCreateView.as_view(), name="reservation-create"),
    path("reservations/<int:pk>/", ReservationDetailView.as_view(), name="reservation-detail"),
    path(
        "reservations/<int:pk>/extend/",
        ReservationExtendView.as_view(),
        name="reservation-extend",
    ),
    path(
        "reservations/<int:pk>/cancel/",
        ReservationCancelView.as_view(),
        name="reservation-cancel",
    ),
    path(
        "staff/reservations/<int:pk>/collect/",
        ReservationCollectView.as_view(),
        name="staff-reservation-collect",
    ),
    path("staff/reservations/", StaffReservationsView.as_view(), name="staff-reservations"),
    path("me/reservations/", MyReservationsView.as_view(), name="my-reservations"),
]
