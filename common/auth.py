"""`Authorization: Token <key>` for API clients, staff and customer logins; keys stored hashed."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from common.actor import ClientPrincipal
from common.models import ApiClient, UserToken, hash_key, new_key


def create_api_client_key(*, name: str, channel: str) -> tuple[ApiClient, str]:
    """Create an API client; the clear key is returned once and never stored."""
    key = new_key()
    client = ApiClient.objects.create(
        name=name, channel=channel, key_prefix=key[:8], key_hash=hash_key(key)
    )
    return client, key


def issue_user_token(user) -> str:
    key = new_key()
    UserToken.objects.create(user=user, key_prefix=key[:8], key_hash=hash_key(key))
    return key


def revoke_api_client(client: ApiClient) -> None:
    client.is_active = False
    client.revoked_at = timezone.now()
    client.save(update_fields=["is_active", "revoked_at", "updated_at"])


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
        client = ApiClient.objects.filter(key_hash=digest).first()
        if client is not None:
            if not client.is_active:
                raise exceptions.AuthenticationFailed("This API key has been revoked.")
            return ClientPrincipal(client), client
        token = UserToken.objects.select_related("user").filter(key_hash=digest).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
