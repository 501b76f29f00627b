"""`Authorization: Token <key>` for API clients, staff and customer logins; keys stored hashed.

A login's token lives OMNIS_STAFF_TOKEN_TTL (staff) or OMNIS_CUSTOMER_TOKEN_TTL (customers), ends
with POST /api/v1/auth/logout/, and every token of a login ends when its password changes
(common.security). last_used_at is written at most once per OMNIS_TOKEN_LAST_USED_RESOLUTION.
"""

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from common.actor import ClientPrincipal
from common.compiled import CompiledQuery
from common.models import ApiClient, TokenKind, UserToken, hash_key, new_key


def create_api_client_key(*, name: str, channel: str) -> tuple[ApiClient, str]:
    """Create an API client; the clear key is returned once and never stored."""
    key = new_key()
    client = ApiClient.objects.create(
        name=name, channel=channel, key_prefix=key[:8], key_hash=hash_key(key)
    )
    return client, key


def token_kind_of(user) -> str:
    """Staff (anyone who may use the admin or works in a store) get the shorter lifetime."""
    from common.permissions import customer_of, is_staff_user

    if user.is_staff or user.is_superuser or is_staff_user(user):
        return TokenKind.STAFF
    return TokenKind.CUSTOMER if customer_of(user) is not None else TokenKind.STAFF


def issue_user_token(user) -> str:
    """A new token for a staff or customer login; the clear key is returned once."""
    key = new_key()
    kind = token_kind_of(user)
    lifetime = (
        settings.OMNIS_CUSTOMER_TOKEN_TTL
        if kind == TokenKind.CUSTOMER
        else settings.OMNIS_STAFF_TOKEN_TTL
    )
    now = timezone.now()
    UserToken.objects.create(
        user=user,
        key_prefix=key[:8],
        key_hash=hash_key(key),
        kind=kind,
        expires_at=now + lifetime,
        # Issuing is the first use: the requests of the next minute write nothing.
        last_used_at=now,
    )
    return key


def _note_use(token: UserToken) -> None:
    # One conditional UPDATE, and only when the stored time is older than the resolution: most
    # requests write nothing, and concurrent requests do not queue on the row.
    now = timezone.now()
    stale = now - settings.OMNIS_TOKEN_LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    UserToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now


def revoke_api_client(client: ApiClient) -> None:
    client.is_active = False
    client.revoked_at = timezone.now()
    client.save(update_fields=["is_active", "revoked_at", "updated_at"])


# Every API call looks its key up: compiled once per process (common.compiled).
_CLIENT_BY_KEY = CompiledQuery(lambda digest: ApiClient.objects.filter(key_hash=digest)[:1])
_TOKEN_BY_KEY = CompiledQuery(
    lambda digest: UserToken.objects.select_related("user").filter(key_hash=digest)[:1]
)


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.")
        digest = hash_key(key)
        client = _CLIENT_BY_KEY.first(digest=digest)
        if client is not None:
            if not client.is_active:
                raise exceptions.AuthenticationFailed("This API key has been revoked.")
            return ClientPrincipal(client), client
        token = _TOKEN_BY_KEY.first(digest=digest)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("This token has expired; request a new one.")
        _note_use(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
