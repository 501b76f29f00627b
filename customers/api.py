"""Customer endpoints: find-or-create, the phone desk's look-up, notes, touchpoints, timeline, wishlist."""

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, OWN, Rule
from common.actor import actor_from_request
from common.idempotency import idempotent
from common.models import Channel
from common.pagination import PageNumberPagination
from common.permissions import (
    customer_of,
    is_channel_client,
)
from customers import selectors, services
from customers.models import (
    Consent,
    ConsentChannel,
    ConsentPurpose,
    ContactChannel,
    Customer,
    ServiceNote,
    TimelineEvent,
    TimelineKind,
    WishlistItem,
)
from customers.privacy.consents import current_consents
from inventory.models import Variant
from stores.models import Store


def may_search_by_name(user) -> bool:
    if is_channel_client(user):
        return False
    return selectors.may_search_by_name(user)


class StoreCodeField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Store.objects.filter(is_active=True), **kwargs)


class ConsentOutput(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="given, or awaiting_confirmation (double opt-in: the link was sent, not opened)."
    )

    class Meta:
        model = Consent
        fields = ["purpose", "channel", "given_at", "source", "confirmed_at", "status"]

    def get_status(self, consent) -> str:
        return "given" if consent.counts else "awaiting_confirmation"


class ConsentChangeInput(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    given = serializers.BooleanField(
        default=True, help_text="true gives the consent, false withdraws it."
    )


class CustomerOutput(serializers.ModelSerializer):
    preferred_store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    consents = serializers.SerializerMethodField(
        help_text="Consents not withdrawn; marketing by e-mail counts once confirmed."
    )

    @extend_schema_field(ConsentOutput(many=True))
    def get_consents(self, customer) -> list:
        return ConsentOutput(current_consents(customer), many=True).data

    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "preferred_store",
            "postcode",
            "sizes",
            "favourite_categories",
            "contact_channel",
            "language",
            "marketing_consent",
            "marketing_consent_at",
            "consents",
            "source_channel",
            "created_at",
        ]


class MyProfileOutput(CustomerOutput):
    pending_email = serializers.SerializerMethodField(
        help_text="A new e-mail address waiting for the code sent to it."
    )
    pending_phone = serializers.SerializerMethodField(
        help_text="A new phone number waiting for the code sent to it."
    )

    class Meta(CustomerOutput.Meta):
        fields = [*CustomerOutput.Meta.fields, "pending_email", "pending_phone"]

    def _pending(self, customer) -> dict:
        if not hasattr(self, "_pending_cache"):
            self._pending_cache = services.pending_contact_changes(customer)
        return self._pending_cache

    def get_pending_email(self, customer) -> str | None:
        change = self._pending(customer).get("email")
        return change.value if change else None

    def get_pending_phone(self, customer) -> str | None:
        change = self._pending(customer).get("phone")
        return change.value if change else None


class ContactConfirmInput(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class CustomerCreateInput(serializers.Serializer):
    email = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    preferred_store = StoreCodeField(required=False, allow_null=True)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=10)
    sizes = serializers.DictField(child=serializers.CharField(max_length=20), required=False)
    contact_channel = serializers.ChoiceField(choices=ContactChannel.choices, required=False)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="The language of every e-mail and SMS to the customer (default de).",
    )
    marketing_consent = serializers.BooleanField(
        required=False,
        help_text="Shorthand for the consent to marketing by e-mail (double opt-in applies).",
    )
    consents = ConsentChangeInput(many=True, required=False)


class CustomerUpdateInput(CustomerCreateInput):
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    favourite_categories = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False
    )
    channel = None


class ServiceNoteInput(serializers.Serializer):
    text = serializers.CharField(max_length=4000)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    store = StoreCodeField(required=False, allow_null=True)


class ServiceNoteOutput(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    author = serializers.SerializerMethodField()

    class Meta:
        model = ServiceNote
        fields = ["id", "text", "channel", "store", "author", "created_at"]

    def get_author(self, note) -> str:
        if note.author_user_id:
            return note.author_user.get_full_name() or note.author_user.get_username()
        return note.author_client.name if note.author_client_id else ""


class TouchpointInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[TimelineKind.PRODUCT_VIEW, TimelineKind.TOUCHPOINT, TimelineKind.SIZE_FILTER]
    )
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    sku = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    at = serializers.DateTimeField(required=False)
    data = serializers.DictField(required=False)
    campaign = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="Campaign tag the visit came from, e.g. a QR poster in a store.",
    )


class TimelineEventOutput(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "kind",
            "channel",
            "at",
            "summary",
            "store",
            "sku",
            "subject_type",
            "subject_id",
            "actor",
            "data",
            "campaign",
        ]

    def get_actor(self, event) -> str:
        if event.actor_user_id:
            return event.actor_user.get_full_name() or event.actor_user.get_username()
        return event.actor_client.name if event.actor_client_id else ""


class WishlistItemInput(serializers.Serializer):
    sku = serializers.SlugRelatedField(
        slug_field="sku", queryset=Variant.objects.filter(is_active=True), source="variant"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    store = StoreCodeField(required=False, allow_null=True)


class WishlistItemOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku")
    name = serializers.CharField(source="variant.product.name")
    attributes = serializers.JSONField(source="variant.attributes")
    price = serializers.DecimalField(source="variant.price", max_digits=12, decimal_places=2)
    added_by = serializers.SerializerMethodField()
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = WishlistItem
        fields = [
            "id",
            "sku",
            "name",
            "attributes",
            "price",
            "note",
            "channel",
            "added_by",
            "store",
            "created_at",
        ]

    def get_added_by(self, item) -> str:
        if item.added_by_user_id:
            return item.added_by_user.get_full_name() or item.added_by_user.get_username()
        return ""


def _customer_or_404(pk) -> Customer:
    return get_object_or_404(
        Customer.objects.select_related("preferred_store"), pk=pk, merged_into__isnull=True
    )


class CustomerListCreateView(APIView):
    pagination_class = PageNumberPagination  # GET answers a page (and the schema says so)
    access = {
        "GET": Rule(clients=True, staff=ANY_STAFF),
        "POST": Rule(clients=True, staff="customers.add_customer"),
    }

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "phone",
                OpenApiTypes.STR,
                description="Any format: '030 1234567', '+49 30 1234567'.",
            ),
            OpenApiParameter("email", OpenApiTypes.STR, description="Any case."),
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description=(
                    "Words of the name, at least 3 characters; service agents and managers only "
                    "(others look up by exact phone or e-mail)."
                ),
            ),
        ],
        responses=CustomerOutput(many=True),
        summary="Look up customers as the phone desk does",
    )
    def get(self, request):
        params = request.query_params
        if not any(params.get(k) for k in ("phone", "email", "q")):
            raise ValidationError({"phone": ["Give phone, email or q to look a customer up."]})
        if params.get("q"):
            # A name search lists many people's contact data: only for the service desk, and
            # never a one- or two-letter trawl through every customer.
            if not may_search_by_name(request.user):
                raise PermissionDenied(
                    "Searching by name is for service agents and managers; "
                    "look up by exact phone or e-mail."
                )
            if len(params["q"].strip()) < 3:
                raise ValidationError({"q": ["At least 3 characters."]})
        qs = selectors.find_customers(
            phone=params.get("phone"), email=params.get("email"), q=params.get("q")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(CustomerOutput(page, many=True).data)

    @extend_schema(
        request=CustomerCreateInput,
        responses={200: CustomerOutput, 201: CustomerOutput},
        summary="Find or create a customer by e-mail or phone (same person → same id)",
    )
    @idempotent
    def post(self, request):
        data = CustomerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        customer, created = services.find_or_create_customer(
            actor=actor_from_request(request, values.get("channel")),
            email=values.pop("email", None),
            phone=values.pop("phone", None),
            first_name=values.pop("first_name", ""),
            last_name=values.pop("last_name", ""),
            channel=values.pop("channel", None),
            **values,
        )
        return Response(
            CustomerOutput(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CustomerDetailView(APIView):
    access = {
        "GET": Rule(clients=True, staff=ANY_STAFF),
        "PATCH": Rule(clients=True, staff="customers.change_customer"),
    }

    @extend_schema(responses=CustomerOutput, summary="One customer")
    def get(self, request, pk: int):
        return Response(CustomerOutput(_customer_or_404(pk)).data)

    @extend_schema(
        request=CustomerUpdateInput,
        responses=CustomerOutput,
        summary="Change contact data and preferences",
    )
    def patch(self, request, pk: int):
        customer = _customer_or_404(pk)
        data = CustomerUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = services.update_customer_profile(
            actor=actor_from_request(request), customer=customer, **data.validated_data
        )
        return Response(CustomerOutput(customer).data)


class CustomerNotesView(APIView):
    access = {
        "GET": Rule(clients=True, staff=ANY_STAFF),
        "POST": Rule(clients=True, staff="customers.add_servicenote"),
    }

    @extend_schema(responses=ServiceNoteOutput(many=True), summary="Service notes, newest first")
    def get(self, request, pk: int):
        customer = _customer_or_404(pk)
        notes = customer.notes.select_related("store", "author_user", "author_client")
        return Response(ServiceNoteOutput(notes, many=True).data)

    @extend_schema(
        request=ServiceNoteInput, responses={201: ServiceNoteOutput}, summary="Add a service note"
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer_or_404(pk)
        data = ServiceNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.add_service_note(
            actor=actor_from_request(request),
            customer=customer,
            text=data.validated_data["text"],
            channel=data.validated_data.get("channel"),
            store=data.validated_data.get("store"),
        )
        return Response(ServiceNoteOutput(note).data, status=status.HTTP_201_CREATED)


class CustomerTouchpointsView(APIView):
    access = {"POST": Rule(clients=True, staff=ANY_STAFF)}

    @extend_schema(
        request=TouchpointInput,
        responses={201: TimelineEventOutput},
        summary="Record a web or app event",
    )
    @idempotent
    def post(self, request, pk: int):
        customer = _customer_or_404(pk)
        data = TouchpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.record_touchpoint(
            actor=actor_from_request(request), customer=customer, **data.validated_data
        )
        return Response(TimelineEventOutput(event).data, status=status.HTTP_201_CREATED)


class CustomerTimelineView(ListAPIView):
    access = {"GET": Rule(clients=True, staff=ANY_STAFF)}
    serializer_class = TimelineEventOutput

    @extend_schema(summary="Every touchpoint of the customer, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TimelineEvent.objects.none()
        return selectors.customer_timeline(_customer_or_404(self.kwargs["pk"]))


class RecentlyViewedOutput(serializers.Serializer):
    sku = serializers.CharField(help_text="The variant viewed last of this product.")
    name = serializers.CharField()
    category = serializers.CharField(help_text="Category slug.")
    at = serializers.DateTimeField()


RECENT_DOC = extend_schema(
    parameters=[
        OpenApiParameter(
            "limit", OpenApiTypes.INT, description=f"At most {selectors.RECENT_MAX} (default 20)."
        )
    ],
    responses=RecentlyViewedOutput(many=True),
    summary="Recently viewed products, newest first, one entry per product (continue shopping)",
)


def _recent_limit(request) -> int:
    try:
        limit = int(request.query_params.get("limit", 20))
    except ValueError:
        raise ValidationError({"limit": ["A whole number."]}) from None
    if not 1 <= limit <= selectors.RECENT_MAX:
        raise ValidationError({"limit": [f"From 1 to {selectors.RECENT_MAX}."]})
    return limit


class CustomerRecentView(APIView):
    access = {"GET": Rule(clients=True, staff=ANY_STAFF)}

    @RECENT_DOC
    def get(self, request, pk: int):
        customer = _customer_or_404(pk)
        rows = selectors.recently_viewed(customer, limit=_recent_limit(request))
        return Response(RecentlyViewedOutput(rows, many=True).data)


class MyRecentView(APIView):
    access = {"GET": OWN}

    @RECENT_DOC
    def get(self, request):
        rows = selectors.recently_viewed(customer_of(request.user), limit=_recent_limit(request))
        return Response(RecentlyViewedOutput(rows, many=True).data)


class WishlistMixin:
    def wishlist_customer(self, request) -> Customer:
        raise NotImplementedError

    @extend_schema(
        responses=WishlistItemOutput(many=True),
        summary="The customer's one list, shared by all channels",
    )
    def get(self, request, *args, **kwargs):
        items = selectors.wishlist_of(self.wishlist_customer(request, **kwargs))
        return Response(WishlistItemOutput(items, many=True).data)

    @extend_schema(
        request=WishlistItemInput,
        responses={201: WishlistItemOutput},
        summary="Add an item to the list",
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        customer = self.wishlist_customer(request, **kwargs)
        data = WishlistItemInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.add_to_wishlist(
            actor=actor_from_request(request),
            customer=customer,
            variant=data.validated_data["variant"],
            note=data.validated_data.get("note", ""),
            store=data.validated_data.get("store"),
        )
        return Response(WishlistItemOutput(item).data, status=status.HTTP_201_CREATED)


class CustomerWishlistView(WishlistMixin, APIView):
    access = {
        "GET": Rule(clients=True, staff=ANY_STAFF),
        "POST": Rule(clients=True, staff="customers.add_wishlistitem"),
    }

    def wishlist_customer(self, request, pk: int) -> Customer:
        return _customer_or_404(pk)


class MyWishlistView(WishlistMixin, APIView):
    access = {"GET": OWN, "POST": OWN}

    def wishlist_customer(self, request, **kwargs) -> Customer:
        return customer_of(request.user)


class MyWishlistItemView(APIView):
    access = {"DELETE": OWN}

    @extend_schema(responses={204: None}, summary="Remove an item from my list")
    def delete(self, request, sku: str):
        item = get_object_or_404(
            WishlistItem.objects.select_related("variant", "customer"),
            customer=customer_of(request.user),
            variant__sku=sku,
        )
        with transaction.atomic():
            services.remove_from_wishlist(actor=actor_from_request(request, Channel.WEB), item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyProfileView(APIView):
    access = {"GET": OWN, "PATCH": OWN}

    @extend_schema(responses=MyProfileOutput, summary="My profile")
    def get(self, request):
        return Response(MyProfileOutput(customer_of(request.user)).data)

    @extend_schema(
        request=CustomerUpdateInput,
        responses=MyProfileOutput,
        summary="Change my contact data and preferences",
        description=(
            "A new email or phone is not applied at once: a code is sent to it and the profile "
            "shows it as pending_email / pending_phone until POST /me/confirm/."
        ),
    )
    def patch(self, request):
        data = CustomerUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = services.update_customer_profile(
            actor=actor_from_request(request, Channel.WEB),
            customer=customer_of(request.user),
            **data.validated_data,
        )
        return Response(MyProfileOutput(customer).data)


class MyContactConfirmView(APIView):
    access = {"POST": OWN}

    @extend_schema(
        request=ContactConfirmInput,
        responses=MyProfileOutput,
        summary="Confirm a pending e-mail address or phone number with the code sent to it",
    )
    @idempotent
    def post(self, request):
        data = ContactConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.confirm_contact_change(
            actor=actor_from_request(request, Channel.WEB),
            customer=customer_of(request.user),
            code=data.validated_data["code"],
        )
        return Response(MyProfileOutput(customer).data)


class CustomerMergeInput(serializers.Serializer):
    duplicate = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.filter(merged_into__isnull=True)
    )


class CustomerMergeView(APIView):
    """Staff merge a duplicate into this customer; all history moves here."""

    access = {"POST": Rule(staff="customers.merge_customer")}

    @extend_schema(
        request=CustomerMergeInput,
        responses=CustomerOutput,
        summary="Merge a duplicate customer into this one",
    )
    @idempotent
    def post(self, request, pk: int):
        survivor = _customer_or_404(pk)
        data = CustomerMergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        survivor = services.merge_customers(
            actor=actor_from_request(request),
            survivor=survivor,
            duplicate=data.validated_data["duplicate"],
        )
        return Response(CustomerOutput(survivor).data)
