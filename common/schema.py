"""OpenAPI: the token authentication (loaded by CommonConfig.ready) and the Idempotency-Key header."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter


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


class AutoSchema(openapi.AutoSchema):
    """Documents the Idempotency-Key header on every POST wrapped by common.idempotency.idempotent."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        handler = getattr(self.view, self.method.lower(), None)
        if self.method == "POST" and getattr(handler, "idempotent", False):
            parameters = [*parameters, IDEMPOTENCY_HEADER]
        return parameters
