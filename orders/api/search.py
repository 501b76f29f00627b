"""GET /api/v1/staff/search/?q=: the desk's search box for store devices (same selector)."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, Rule
from orders.selectors.search import (
    NameSearchNotAllowed,
    SearchHit,
    SearchRefused,
    search_for_staff,
)

API_DETAIL = {
    "order": "order-detail",
    "reservation": "reservation-detail",
    "return": "return-detail",
    "customer": "customer-detail",
}


class StaffSearchHitOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(API_DETAIL))
    id = serializers.CharField(help_text="Order number, or the hold's, return's or customer's id.")
    label = serializers.CharField()
    url = serializers.CharField(help_text="The found object's API resource.")


class StaffSearchOutput(serializers.Serializer):
    results = StaffSearchHitOutput(many=True)


def _api_url(hit: SearchHit) -> str:
    return reverse(API_DETAIL[hit.kind], args=[hit.id])


class StaffSearchView(APIView):
    access = {"GET": Rule(staff=ANY_STAFF, scope="store")}

    @extend_schema(
        operation_id="staff_search",
        summary="One search box: pickup code or QR payload, order/receipt/return number, "
        "reservation id, phone, e-mail, name (service agents and managers)",
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True)],
        responses={200: StaffSearchOutput},
    )
    def get(self, request):
        try:
            hits = search_for_staff(request.user, request.query_params.get("q", ""))
        except NameSearchNotAllowed as exc:
            raise PermissionDenied(str(exc))
        except SearchRefused as exc:
            raise ValidationError({"q": [str(exc)]})
        results = [
            {"kind": h.kind, "id": str(h.id), "label": h.label, "url": _api_url(h)} for h in hits
        ]
        return Response(StaffSearchOutput({"results": results}).data)
