"""POST /api/v1/auth/token/: a token for a staff or customer login."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.auth import issue_user_token
from common.errors import ApplicationError


class TokenRequestInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, style={"input_type": "password"}, trim_whitespace=False
    )


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    status = 401


class ObtainTokenView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestInput,
        responses={200: inline_serializer("TokenOutput", {"token": serializers.CharField()})},
        auth=[],
        summary="Exchange a staff or customer login for an API token",
    )
    def post(self, request):
        data = TokenRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise InvalidCredentials("Wrong username or password.")
        return Response({"token": issue_user_token(user)})
