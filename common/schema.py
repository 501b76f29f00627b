"""OpenAPI: the token authentication (loaded by CommonConfig.ready), the Idempotency-Key header,
and the one error body every operation documents for the error statuses it can answer."""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from common.exceptions import ERROR_TYPE_VALUES, ERROR_TYPES


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "common.auth.TokenAuthentication"
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` of an API client, a staff login or a customer login.",
        }


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Makes the POST safe to retry: the same key with the same body returns the first "
        "response and changes nothing; with another body it answers 422. Kept 24 hours."
    ),
)


class ErrorResponse(serializers.Serializer):
    """The body of every error the API answers (common.exceptions.error_body)."""

    type = serializers.ChoiceField(choices=ERROR_TYPE_VALUES, help_text="The kind of error.")
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField()),
        help_text="Field name (or non_field_errors) → its messages; empty when no field is at fault.",
    )
    code = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Stable code of a domain rule, e.g. insufficient_stock, illegal_transition.",
    )
    request_id = serializers.CharField(
        required=False, help_text="Quote it to support: it finds every log line of the request."
    )


_ERRORS = {
    400: ("The input is invalid; `errors` names the fields.", "validation_error", "Invalid input."),
    401: (
        "No valid token: missing, unknown, expired or revoked.",
        "not_authenticated",
        "Authentication credentials were not provided.",
    ),
    403: ("The caller may not do this.", "permission_denied", "Your role may not do this."),
    404: ("No such object (or not one the caller may see).", "not_found", "Not found."),
    409: (
        "A rule of the business refuses it in the object's current state; see `code`.",
        "conflict",
        "A reservation that is collected cannot become released.",
    ),
    422: (
        "The Idempotency-Key was used before with another body.",
        "unprocessable",
        "This Idempotency-Key was used with another request.",
    ),
    429: (
        "Too many requests; Retry-After says when to try again.",
        "throttled",
        "Request was throttled. Expected available in 42 seconds.",
    ),
    503: (
        "The records are busy; nothing was saved. Try again.",
        "busy",
        "The records are busy right now; nothing was saved. Please try again.",
    ),
}


def error_response(status: int, description: str | None = None) -> OpenApiResponse:
    """One error status, documented with the error body and an example."""
    default, kind, detail = _ERRORS.get(status, ("Error.", ERROR_TYPES.get(status, "error"), ""))
    example = {"type": kind, "detail": detail or description or default, "errors": {}}
    if status == 400:
        example["errors"] = {"quantity": ["Ensure this value is greater than or equal to 1."]}
    example["request_id"] = "4f2a9c1e0b7d4e93a6c5d8f1b2e3a4c5"
    return OpenApiResponse(
        ErrorResponse,
        description=description or default,
        examples=[OpenApiExample(kind, value=example, status_codes=[str(status)])],
    )


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """`responses={200: X, **error_responses(404, 409)}`."""
    return {status: error_response(status) for status in statuses}


def _may_be_null(field) -> bool:
    """A declared field whose source crosses a nullable model field (the serializer then says
    null, as DRF does for any None on the way). Fields DRF builds from the model know it already."""
    if field.allow_null or field.source == "*" or not getattr(field, "source_attrs", None):
        return False
    if isinstance(field, serializers.SerializerMethodField | serializers.ListSerializer):
        return False  # method fields are typed by their annotation
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    for attr in field.source_attrs:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if model_field.auto_created and not model_field.concrete:
            return False  # a reverse relation: a list, never null
        if model_field.null:
            return True
        model = model_field.related_model
    return False


class AutoSchema(openapi.AutoSchema):
    """Every operation documents the errors it can answer, with the one error body; POSTs wrapped
    by common.idempotency.idempotent document the Idempotency-Key header."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        handler = getattr(self.view, self.method.lower(), None)
        if self.method == "POST" and getattr(handler, "idempotent", False):
            parameters = [*parameters, IDEMPOTENCY_HEADER]
        return parameters

    def error_statuses(self) -> list[int]:
        # Any call: bad input (also the input guard's), no or a dead token, the access table,
        # the throttles, and a database too busy to answer.
        statuses = [400, 401, 403, 429, 503]
        # An object named in the path, or a page number past the end of a list.
        if "{" in self.path or self._is_list_view():
            statuses.append(404)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses.append(409)  # the object's state refuses the change
            handler = getattr(self.view, self.method.lower(), None)
            if getattr(handler, "idempotent", False):
                statuses.append(422)
        return sorted(statuses)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses  # a callback: what the subscriber answers is not ours to say
        for status in self.error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_response(status), str(status), direction=direction
                )
        return responses

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and _may_be_null(field):
            meta["nullable"] = True
        return meta
