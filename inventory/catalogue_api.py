"""GET /api/v1/products/: the catalogue, one row per SKU (search by name, SKU or barcode)."""

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from common.access import SIGNED_IN
from inventory.models import Variant


class ProductVariantOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="product.name")
    product_id = serializers.IntegerField(source="product.id")
    brand = serializers.CharField(source="product.brand")
    category = serializers.CharField(source="product.category.slug")
    barcode = serializers.CharField(source="ean")

    class Meta:
        model = Variant
        fields = [
            "sku",
            "name",
            "product_id",
            "brand",
            "category",
            "price",
            "attributes",
            "barcode",
        ]


def catalogue():
    return (
        Variant.objects.filter(is_active=True, product__is_active=True)
        .select_related("product__category")
        .order_by("product__name", "sku")
    )


class ProductListView(ListAPIView):
    access = {"GET": SIGNED_IN}
    serializer_class = ProductVariantOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Name, SKU or EAN barcode."),
            OpenApiParameter("category", OpenApiTypes.STR, description="Category slug."),
        ],
        summary="The catalogue: one row per SKU",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = catalogue()
        q = self.request.query_params.get("q", "").strip()
        if q:
            qs = qs.filter(
                Q(product__name__icontains=q) | Q(sku__iexact=q) | Q(sku__istartswith=q) | Q(ean=q)
            )
        category = self.request.query_params.get("category")
        if category:
            qs = qs.filter(product__category__slug=category)
        return qs


class ProductDetailView(RetrieveAPIView):
    access = {"GET": SIGNED_IN}
    serializer_class = ProductVariantOutput
    lookup_field = "sku"
    queryset = catalogue()

    @extend_schema(summary="One SKU")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
