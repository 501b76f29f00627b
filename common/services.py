"""Writes about API clients and login tokens (the operator's side of authentication)."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from common.errors import InvalidInput
from common.models import ApiClient, Channel, UserToken, hash_key, new_key

CLIENT_CHANNELS = {c for c in Channel.values if c != Channel.STORE}


def _check_channel(channel: str) -> None:
    if channel not in CLIENT_CHANNELS:
        raise InvalidInput(
            "Invalid API client.",
            errors={"channel": [f"Use one of: {', '.join(sorted(CLIENT_CHANNELS))}."]},
        )


@transaction.atomic
def create_or_rotate_api_client(*, name: str, channel: str) -> tuple[ApiClient, str, bool]:
    """Create the channel client NAME, or give an existing one a new key (the old key stops working).

    Returns (client, clear key, created). The clear key is never stored: show it once.
    Raises InvalidInput for an empty name or a channel that is not web, app or phone.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Invalid API client.", errors={"name": ["A name is needed."]})
    _check_channel(channel)
    key = new_key()
    client = ApiClient.objects.select_for_update().filter(name=name).first()
    created = client is None
    if created:
        client = ApiClient(name=name)
    client.channel = channel
    client.key_prefix = key[:8]
    client.key_hash = hash_key(key)
    client.is_active = True
    client.revoked_at = None
    client.save()
    return client, key, created


@transaction.atomic
def ensure_api_client_with_key(*, name: str, channel: str, key: str) -> tuple[ApiClient, bool]:
    """Make sure the client NAME exists, is active and answers to exactly this key.

    Meant for keys derived from a known secret (the demo retailer), so that re-running prints the
    same key. Returns (client, created). Raises InvalidInput for an unknown channel.
    """
    _check_channel(channel)
    client, created = ApiClient.objects.select_for_update().get_or_create(
        name=name,
        defaults={"channel": channel, "key_prefix": key[:8], "key_hash": hash_key(key)},
    )
    if not created and (
        client.key_hash != hash_key(key)
        or client.channel != channel
        or not client.is_active
        or client.revoked_at is not None
    ):
        client.channel = channel
        client.key_prefix = key[:8]
        client.key_hash = hash_key(key)
        client.is_active = True
        client.revoked_at = None
        client.save()
    return client, created


@transaction.atomic
def revoke_user_tokens(tokens: Iterable[UserToken]) -> int:
    """Revoke login tokens (already revoked ones keep their date). Returns how many were revoked."""
    ids = [t.pk for t in tokens]
    return UserToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def revoke_tokens_of_login(*, user) -> int:
    """Every live token of a staff or customer login, e.g. after its password changed.
    Returns how many were revoked."""
    return UserToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
