"""POST /api/v1/auth/token/ and /auth/logout/: tokens for staff and customer logins."""

from django.contrib.auth import authenticate, logout, user_logged_in
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import ANY_STAFF, Rule
from common.audit import KIND_ATTRIBUTE, record_login_event
from common.auth import issue_user_token
from common.errors import ApplicationError
from common.models import LoginEventKind, UserToken
from common.schema import error_response
from common.security import locked_out_error
from common.services import revoke_user_tokens
from common.throttling import LoginThrottle, PerCallerThrottle


class TokenRequestInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, style={"input_type": "password"}, trim_whitespace=False
    )


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    status = 401


class ObtainTokenView(APIView):
    access = {"POST": Rule(anonymous=True)}
    authentication_classes: list = []
    throttle_classes = [LoginThrottle, PerCallerThrottle]

    @extend_schema(
        request=TokenRequestInput,
        responses={
            200: inline_serializer("TokenOutput", {"token": serializers.CharField()}),
            401: error_response(401, "Wrong username or password: code invalid_credentials."),
            403: error_response(
                403, "Locked out after too many failures: code locked_out, with Retry-After."
            ),
        },
        auth=[],
        summary="Exchange a staff or customer login for an API token",
        description=(
            "Staff tokens last 12 hours, customer tokens 30 days (by default). After 5 failed "
            "attempts for a username from one address, that pair is locked out for 15 minutes: "
            "403 with code locked_out, even with the right password."
        ),
    )
    def post(self, request):
        data = TokenRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request: django-axes counts the attempt and flags a lock-out on it.
        django_request = request._request
        user = authenticate(django_request, **data.validated_data)
        if getattr(django_request, "axes_locked_out", False):
            raise locked_out_error()
        if user is None:
            raise InvalidCredentials("Wrong username or password.")
        # A login like the admin's: last_login is noted and axes starts the failure count afresh;
        # the login event names it a token issued.
        setattr(django_request, KIND_ATTRIBUTE, LoginEventKind.TOKEN_ISSUED)
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        return Response({"token": issue_user_token(user)})


class LogoutView(APIView):
    access = {"POST": Rule(customers=True, staff=ANY_STAFF)}

    @extend_schema(
        request=None,
        responses={204: None},
        summary="Revoke the presented token (a login's session ends too)",
    )
    def post(self, request):
        if isinstance(request.auth, UserToken):
            revoke_user_tokens([request.auth])
            record_login_event(
                kind=LoginEventKind.LOGOUT, request=request._request, user=request.user
            )
        elif request.auth is None:
            logout(request._request)
        else:
            raise PermissionDenied("An API client's key is revoked by an administrator.")
        return Response(status=status.HTTP_204_NO_CONTENT)
