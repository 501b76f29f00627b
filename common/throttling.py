"""Request rates per caller (DRF throttling): each API client, each customer login and each staff
login has its own counter; anonymous callers are counted per address. Rates come from
settings.OMNIS_THROTTLE_RATES and are read per request, so a deployment (or a test) can change
them without a restart of the class. Over the rate: 429 with Retry-After (DRF sets the header)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from common.actor import ClientPrincipal
from common.models import UserToken


def caller_kind(request) -> tuple[str, str]:
    """(scope, identity) of the caller, without a database query."""
    user = request.user
    if isinstance(user, ClientPrincipal):
        return "client", f"client:{user.api_client.pk}"
    if user is not None and user.is_authenticated:
        token = request.auth
        if isinstance(token, UserToken):
            return token.kind, f"user:{user.pk}"
        # A session (admin, desk): staff are the only session users of the API.
        return ("staff" if user.is_staff else "customer"), f"user:{user.pk}"
    return "anon", ""


class OmnisRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:
        # The rate is chosen per request (allow_request); nothing to read here.
        pass

    def rate_for(self, scope: str) -> str | None:
        return settings.OMNIS_THROTTLE_RATES.get(scope)

    def use(self, scope: str) -> bool:
        self.scope = scope
        self.rate = self.rate_for(scope)
        if self.rate is None:
            return False
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return True


class PerCallerThrottle(OmnisRateThrottle):
    """The default throttle of every API view."""

    def allow_request(self, request, view) -> bool:
        scope, self.identity = caller_kind(request)
        if not self.use(scope):
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        ident = self.identity or self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginThrottle(OmnisRateThrottle):
    """Token requests per address, on top of the per-login lock-out (common.security)."""

    def allow_request(self, request, view) -> bool:
        if not self.use("login"):
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
