"""Who is acting: a staff or customer login, an API client, or the system itself."""

from dataclasses import dataclass
from typing import Any

from common.models import ApiClient, Channel


@dataclass(frozen=True)
class Actor:
    user: Any = None
    client: ApiClient | None = None
    channel: str = Channel.STORE

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        if self.client is not None:
            return self.client.name
        return "system"

    @classmethod
    def system(cls) -> "Actor":
        return cls()


class ClientPrincipal:
    """request.user for a call authenticated with an API client's key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, client: ApiClient) -> None:
        self.api_client = client

    def __str__(self) -> str:
        return f"client:{self.api_client.name}"

    def get_username(self) -> str:
        return f"client:{self.api_client.name}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


def actor_from_request(request, channel: str | None = None) -> Actor:
    user = request.user
    if isinstance(user, ClientPrincipal):
        return Actor(client=user.api_client, channel=channel or user.api_client.channel)
    return Actor(user=user, channel=channel or Channel.STORE)
