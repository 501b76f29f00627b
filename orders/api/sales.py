"""The till: `POST /api/v1/staff/sales/` records a sale at the counter of one of my stores."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import Rule
from common.idempotency import idempotent
from common.input_guard import MAX_ID
from common.schema import error_responses
from customers.models import Customer
from orders.api.orders import (
    DiscountCodeInput,
    OrderLineCreateInput,
    OrderLineOutput,
    actor_for,
    variants_for_lines,
)
from orders.services.sales import PaymentMethod, receipt_code, sell_at_till
from stores.models import Store
from stores.selectors import store_ids_for_staff


class SaleInput(serializers.Serializer):
    store = serializers.CharField(max_length=6, help_text="Store code, e.g. BER-01")
    lines = OrderLineCreateInput(many=True, allow_empty=False, max_length=100)
    customer = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="Customer id"
    )
    payment_method = serializers.ChoiceField(choices=PaymentMethod.CHOICES)
    discount_code = DiscountCodeInput(
        help_text="A discount code; a used-up, expired or foreign code answers 409.",
    )

    def validate_lines(self, lines):
        return variants_for_lines(lines)

    def validate_store(self, code):
        store = Store.objects.filter(code=code, is_active=True).first()
        if store is None:
            raise serializers.ValidationError(f"Unknown store '{code}'.")
        return store

    def validate_customer(self, customer_id):
        if customer_id is None:
            return None
        customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
        if customer is None:
            raise serializers.ValidationError("An existing customer id is needed.")
        return customer


class SaleOutput(serializers.Serializer):
    number = serializers.CharField()
    store = serializers.CharField(source="fulfilment_store.code")
    customer = serializers.IntegerField(source="customer_id")
    payment_method = serializers.CharField()
    currency = serializers.CharField()
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    lines = OrderLineOutput(many=True)
    receipt_code = serializers.SerializerMethodField()

    def get_receipt_code(self, order) -> str:
        return receipt_code(order)


class SaleCreateView(APIView):
    access = {"POST": Rule(staff="orders.add_order", scope="store")}

    @extend_schema(
        operation_id="staff_sales_create",
        request=SaleInput,
        responses={201: SaleOutput, **error_responses(400, 403, 409)},
        summary="A sale at the till of one of my stores (from the shelf)",
        description=(
            "Sells unreserved shelf stock; 409 insufficient_stock names each short line. Without "
            "`customer` the sale is a walk-in's (no receipt is sent). `receipt_code` is what the "
            "receipt's barcode holds; the returns counter finds the order by it."
        ),
    )
    @idempotent
    def post(self, request):
        data = SaleInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["store"].pk not in store_ids_for_staff(request.user):
            raise PermissionDenied(f"You do not work in {values['store'].code}.")
        order = sell_at_till(
            actor=actor_for(request),
            store=values["store"],
            lines=values["lines"],
            payment_method=values["payment_method"],
            customer=values.get("customer"),
            discount_code=values.get("discount_code") or None,
        )
        order.refresh_from_db()
        return Response(SaleOutput(order).data, status=status.HTTP_201_CREATED)


urlpatterns = [path("staff/sales/", SaleCreateView.as_view(), name="staff-sale-create")]
