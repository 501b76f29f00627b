"""/api/v1/webhooks/: a channel client's subscriptions, their delivery log and redeliveries."""

from django.core.validators import URLValidator
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiCallback,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common import webhooks
from common.access import Rule
from common.errors import ApplicationError
from common.idempotency import idempotent
from common.models import (
    WebhookAttempt,
    WebhookDeliveryState,
    WebhookEventType,
    WebhookSubscription,
)
from common.schema import error_response


class WebhookSubscriptionInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"], message="Enter an http or https URL.")],
        help_text="Where the events are POSTed (http or https).",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        allow_empty=False,
        help_text="The event types to send to this URL.",
    )


class WebhookSubscriptionOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEventType.choices))

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "created_at"]


class WebhookSubscriptionCreatedOutput(WebhookSubscriptionOutput):
    secret = serializers.CharField(
        help_text="Signs every delivery (Standard Webhooks, whsec_…). Shown only in this answer."
    )

    class Meta(WebhookSubscriptionOutput.Meta):
        fields = [*WebhookSubscriptionOutput.Meta.fields, "secret"]


class WebhookAttemptOutput(serializers.ModelSerializer):
    event_id = serializers.CharField(source="delivery.event_id", help_text="The webhook-id.")
    type = serializers.CharField(source="delivery.event_type")
    sequence = serializers.IntegerField(source="delivery.sequence", allow_null=True)
    attempt = serializers.IntegerField(source="number", help_text="1 for the first try.")
    status_code = serializers.IntegerField(
        allow_null=True, help_text="Your answer's status; null when there was none (timeout)."
    )
    state = serializers.ChoiceField(
        choices=WebhookDeliveryState.choices,
        help_text="The delivery's state after this attempt: pending (to be retried), "
        "delivered, or dead (given up).",
    )

    class Meta:
        model = WebhookAttempt
        fields = ["event_id", "type", "sequence", "attempt", "status_code", "error", "at", "state"]


class WebhookEvent(serializers.Serializer):
    """The body of every delivery (documented for the receiving side)."""

    id = serializers.CharField(help_text="Also the webhook-id header; the same on every retry.")
    type = serializers.ChoiceField(choices=WebhookEventType.choices)
    created_at = serializers.DateTimeField(help_text="When the data was taken.")
    sequence = serializers.IntegerField(
        help_text="Increases with each event about the same object (order, reservation, return, "
        "SKU in a store): ignore an event older than one you have applied."
    )
    data = serializers.DictField(help_text="The object's fields; see docs/api.md per type.")


class DeliveryPending(ApplicationError):
    code = "delivery_pending"


def _own_subscription(request, pk) -> WebhookSubscription:
    return get_object_or_404(webhooks.subscriptions_of(request.user.api_client), pk=pk)


class WebhookListCreateView(ListAPIView):
    access = {"GET": Rule(clients=True), "POST": Rule(clients=True)}
    serializer_class = WebhookSubscriptionOutput

    @extend_schema(summary="The calling client's webhook subscriptions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator has no client
            return WebhookSubscription.objects.none()
        return webhooks.subscriptions_of(self.request.user.api_client)

    @extend_schema(
        request=WebhookSubscriptionInput,
        responses={201: WebhookSubscriptionCreatedOutput},
        summary="Subscribe a URL to events",
        description="Each delivery is a POST of the event body (see WebhookEvent), signed "
        "as Standard Webhooks does it (webhook-id, webhook-timestamp, webhook-signature) with the "
        "returned secret. A non-2xx answer or a timeout is retried with backoff for 24 hours "
        "under the same webhook-id.",
        callbacks=[
            OpenApiCallback(
                "event",
                "{$request.body#/url}",
                extend_schema(
                    summary="An event, POSTed to the subscribed URL",
                    description="Headers: webhook-id (the body's id), webhook-timestamp (Unix "
                    "seconds), webhook-signature (v1,<base64 HMAC-SHA256 of "
                    '"id.timestamp.body" with the secret). Answer 2xx within 5 seconds; '
                    "anything else is retried under the same webhook-id.",
                    parameters=[
                        OpenApiParameter("webhook-id", OpenApiTypes.STR, OpenApiParameter.HEADER),
                        OpenApiParameter(
                            "webhook-timestamp", OpenApiTypes.STR, OpenApiParameter.HEADER
                        ),
                        OpenApiParameter(
                            "webhook-signature", OpenApiTypes.STR, OpenApiParameter.HEADER
                        ),
                    ],
                    request=WebhookEvent,
                    responses={200: OpenApiResponse(description="Taken (any 2xx).")},
                ),
            )
        ],
    )
    @idempotent
    def post(self, request):
        data = WebhookSubscriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = webhooks.subscribe(client=request.user.api_client, **data.validated_data)
        return Response(
            WebhookSubscriptionCreatedOutput(subscription).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailView(APIView):
    access = {"DELETE": Rule(clients=True, scope="own")}

    @extend_schema(responses={204: None}, summary="Remove a webhook subscription")
    def delete(self, request, pk: int):
        webhooks.unsubscribe(subscription=_own_subscription(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(ListAPIView):
    access = {"GET": Rule(clients=True, scope="own")}
    serializer_class = WebhookAttemptOutput

    @extend_schema(summary="Every attempt to deliver to this subscription, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookAttempt.objects.none()
        return webhooks.attempts_of(_own_subscription(self.request, self.kwargs["pk"]))


class WebhookRedeliverView(APIView):
    access = {"POST": Rule(clients=True, scope="own")}

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("WebhookRedeliverOutput", {"event_id": serializers.CharField()}),
            409: error_response(409, "The event is still being delivered."),
        },
        summary="Send a delivered or dead event again, under the same webhook-id",
    )
    @idempotent
    def post(self, request, pk: int, event_id: str):
        subscription = _own_subscription(request, pk)
        delivery = get_object_or_404(subscription.deliveries, event_id=event_id)
        if not webhooks.replay(delivery_ids=[delivery.pk]):
            raise DeliveryPending(f"Event {event_id} is still being delivered.")
        return Response({"event_id": event_id}, status=status.HTTP_202_ACCEPTED)
