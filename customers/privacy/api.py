"""Privacy endpoints: the export of everything stored about a customer, erasure, and the link
that confirms a consent to advertising by e-mail (double opt-in)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import OWN, Rule
from common.actor import actor_from_request
from common.idempotency import idempotent
from common.models import Channel
from common.permissions import customer_of
from common.schema import error_response
from customers.models import Consent, Customer
from customers.privacy.consents import confirm_consent
from customers.privacy.erasure import erase_customer
from customers.privacy.export import export_customer


def _customer_or_404(pk) -> Customer:
    # Erased customers are found here (a second erasure answers 409), merged aliases are not.
    return get_object_or_404(Customer, pk=pk, merged_into__isnull=True)


class CustomerErasedOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "erased_at"]


class ConsentConfirmedOutput(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["purpose", "channel", "given_at", "source", "confirmed_at"]


EXPORT_DESCRIPTION = (
    "Everything stored about the person (GDPR Art. 15/20): `customer` (the profile), `login`, "
    "`records` with one section per table that points at the customer (keyed `app.model`, each "
    "row with the rows hanging from it: an order's lines, history and refunds) and "
    "`messages_sent`. The export is written to the customer's timeline. 409 `already_erased` for "
    "an erased customer."
)


ERASED = error_response(409, "The customer's personal data was erased: code already_erased.")


class CustomerExportView(APIView):
    access = {"GET": Rule(staff="customers.export_customer")}

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 409: ERASED},
        summary="Everything stored about a customer, as JSON",
        description=EXPORT_DESCRIPTION,
    )
    def get(self, request, pk: int):
        data = export_customer(actor=actor_from_request(request), customer=_customer_or_404(pk))
        return Response(data)


class MyExportView(APIView):
    access = {"GET": OWN}

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 409: ERASED},
        summary="Everything stored about me, as JSON",
        description=EXPORT_DESCRIPTION,
    )
    def get(self, request):
        data = export_customer(
            actor=actor_from_request(request, Channel.WEB), customer=customer_of(request.user)
        )
        return Response(data)


class CustomerEraseView(APIView):
    access = {"POST": Rule(staff="customers.erase_customer")}

    @extend_schema(
        request=None,
        responses={202: CustomerErasedOutput},
        summary="Anonymise a customer's personal data",
        description=(
            "Name, e-mail, phone, postcode, preferences, notes' text, the list, the timeline, "
            "contact changes, duplicate flags and consent links are erased, the login is "
            "deactivated and its tokens revoked; orders, returns, refunds and the store credit "
            "ledger stay for the accounting retention. 409 `already_erased` the second time."
        ),
    )
    @idempotent
    def post(self, request, pk: int):
        customer = erase_customer(actor=actor_from_request(request), customer=_customer_or_404(pk))
        return Response(CustomerErasedOutput(customer).data, status=status.HTTP_202_ACCEPTED)


class ConsentConfirmView(APIView):
    """The link in the double opt-in e-mail: whoever holds it confirms; no login needed."""

    authentication_classes: list = []
    access = {"GET": Rule(anonymous=True)}

    @extend_schema(
        auth=[],
        responses={200: ConsentConfirmedOutput},
        summary="Confirm a consent with the link sent to the e-mail address",
        description="404 for an unknown or withdrawn link, 400 for an expired one.",
    )
    def get(self, request, token: str):
        return Response(ConsentConfirmedOutput(confirm_consent(token=token)).data)
