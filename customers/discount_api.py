"""Discount codes: staff issue them after advice; channels check them before the order."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, Rule
from common.actor import actor_from_request
from common.errors import NotFound
from common.idempotency import idempotent
from common.input_guard import MAX_ID
from common.permissions import customer_of, is_channel_client
from common.schema import error_responses
from customers.discounts import (
    MAX_CAMPAIGN_LENGTH,
    REASON_TEXT,
    Reason,
    check_discount_code,
    issue_discount_code,
)
from customers.models import Customer, DiscountCode
from stores.models import Store
from stores.selectors import store_ids_for_staff


class DiscountCodeIssueInput(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.filter(merged_into__isnull=True),
        required=False,
        allow_null=True,
        help_text="Customer id; leave it out for an open code anyone may use.",
    )
    percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True, help_text="0–100"
    )
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    valid_until = serializers.DateTimeField()
    max_uses = serializers.IntegerField(min_value=1, max_value=MAX_ID, default=1)
    min_total = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    campaign = serializers.CharField(
        max_length=MAX_CAMPAIGN_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Campaign tag, e.g. the QR poster that brought the customer.",
    )
    store = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Store.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Where it is issued; default: the staff member's store when there is one.",
    )


class DiscountCodeOutput(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(
        source="issued_at_store", slug_field="code", read_only=True
    )
    issued_by = serializers.SerializerMethodField()

    class Meta:
        model = DiscountCode
        fields = [
            "code",
            "customer",
            "percent",
            "amount",
            "valid_from",
            "valid_until",
            "max_uses",
            "uses",
            "min_total",
            "campaign",
            "channel",
            "store",
            "issued_by",
            "created_at",
        ]

    def get_issued_by(self, code) -> str:
        if code.issued_by_user_id:
            return code.issued_by_user.get_full_name() or code.issued_by_user.get_username()
        return code.issued_by_client.name if code.issued_by_client_id else ""


class DiscountCodeCheckOutput(serializers.Serializer):
    code = serializers.CharField()
    valid = serializers.BooleanField()
    reason = serializers.CharField(
        allow_null=True,
        help_text=(
            "Why it would be refused, null when valid: not_yet_valid, expired, used_up, "
            "other_customer, below_min_total."
        ),
    )
    message = serializers.CharField(allow_blank=True)
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    valid_until = serializers.DateTimeField()
    min_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    uses_left = serializers.IntegerField()
    open = serializers.BooleanField(help_text="True when anyone may use it.")
    discount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="What it takes off the given total (with ?total=).",
    )


class DiscountCodeCheckQuery(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)


class DiscountCodeIssueView(APIView):
    access = {"POST": Rule(staff="customers.issue_discount_code")}

    @extend_schema(
        request=DiscountCodeIssueInput,
        responses={201: DiscountCodeOutput, **error_responses(400, 403)},
        summary="Issue a discount code after advice (customer-bound or open)",
        description=(
            "Give percent (above 0, at most 100) or amount (above 0), not both. The code works "
            "in every channel: POST /orders/ and the till accept it as discount_code."
        ),
    )
    @idempotent
    def post(self, request):
        data = DiscountCodeIssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        mine = store_ids_for_staff(request.user)
        store = values.get("store")
        if store is not None and store.pk not in mine:
            raise PermissionDenied("You do not work in this store.")
        if store is None and len(mine) == 1 and not request.user.is_superuser:
            store = Store.objects.get(pk=next(iter(mine)))
        code = issue_discount_code(
            actor=actor_from_request(request),
            customer=values.get("customer"),
            percent=values.get("percent"),
            amount=values.get("amount"),
            valid_until=values["valid_until"],
            max_uses=values["max_uses"],
            min_total=values.get("min_total", 0),
            campaign=values.get("campaign", ""),
            store=store,
        )
        return Response(DiscountCodeOutput(code).data, status=status.HTTP_201_CREATED)


class DiscountCodeCheckView(APIView):
    access = {"GET": Rule(clients=True, customers=True, staff=ANY_STAFF)}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "customer",
                OpenApiTypes.INT,
                description="Check for this customer (a customer login: always itself).",
            ),
            OpenApiParameter(
                "total", OpenApiTypes.DECIMAL, description="Check against this subtotal."
            ),
        ],
        responses={200: DiscountCodeCheckOutput, **error_responses(400, 404)},
        summary="Check a discount code before the order",
        description=(
            "valid is false with a reason when the code would be refused now. An unknown code "
            "answers 404; for a customer login so does another customer's code."
        ),
    )
    def get(self, request, code: str):
        query = DiscountCodeCheckQuery(data=request.query_params)
        if not query.is_valid():
            raise ValidationError(query.errors)
        customer = None
        own = customer_of(request.user) if not is_channel_client(request.user) else None
        if own is not None:
            customer = own
        elif "customer" in query.validated_data:
            customer = Customer.objects.filter(pk=query.validated_data["customer"]).first()
            if customer is None:
                raise ValidationError({"customer": ["Unknown customer."]})
            customer = customer.merged_into or customer
        check = check_discount_code(
            code, customer=customer, total=query.validated_data.get("total"), now=timezone.now()
        )
        found = check.code
        if found is None or (own is not None and found.customer_id not in (None, own.pk)):
            # A customer learns nothing about other customers' codes.
            raise NotFound(REASON_TEXT[Reason.UNKNOWN], extra={"reason": Reason.UNKNOWN})
        body = {
            "code": found.code,
            "valid": check.valid,
            "reason": check.reason or None,
            "message": check.message,
            "percent": found.percent,
            "amount": found.amount,
            "valid_until": found.valid_until,
            "min_total": found.min_total,
            "uses_left": max(found.max_uses - found.uses, 0),
            "open": found.customer_id is None,
            "discount": check.discount,
        }
        return Response(DiscountCodeCheckOutput(body).data)
