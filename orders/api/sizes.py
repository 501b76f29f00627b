"""GET the customer's usual sizes, so the webshop can pre-select them (journey 4)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, OWN, Rule
from common.permissions import customer_of
from customers.models import Customer
from orders.selectors.sizes import usual_sizes

SIZES_DOC = extend_schema(
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description=(
                "Category slug → {size, source: profile | purchases | views, units bought and kept}."
            ),
            examples=[
                OpenApiExample(
                    "Shirts in M",
                    value={"shirts": {"size": "M", "source": "purchases", "units": 4}},
                )
            ],
        )
    },
    summary=(
        "Usual size per category: the one given in the profile, else the one bought most, "
        "else the one looked at most"
    ),
)


class CustomerSizesView(APIView):
    access = {"GET": Rule(clients=True, staff=ANY_STAFF)}

    @SIZES_DOC
    def get(self, request, pk: int):
        customer = get_object_or_404(Customer, pk=pk, merged_into__isnull=True)
        return Response(usual_sizes(customer))


class MySizesView(APIView):
    access = {"GET": OWN}

    @SIZES_DOC
    def get(self, request):
        return Response(usual_sizes(customer_of(request.user)))
