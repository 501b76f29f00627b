"""Change history of the records an auditor asks about (django-simple-history): customers, stores,
store memberships, API clients and refunds. Safety stock has its own small audit row
(inventory.SafetyStockChange): stock quantities are audited by the ledger, not here.

Each save through the model writes one historical row with who acted: `history_user` for a staff
or customer login, `history_client` for an API client's key. Both come from the request
(simple-history's middleware keeps it; DRF puts the token's login on it once authenticated), or,
outside a request, from `name_actor` in a service. Neither set means the system (a task, a
command). `QuerySet.update()` and `bulk_create` write no history row: services that change these
records save through the model.
"""

from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


class HistoryClient(models.Model):
    """The extra column of every historical table: the API client that made the change."""

    history_client = models.ForeignKey(
        "common.ApiClient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True


def _login_of(request, **kwargs) -> Any:
    user = getattr(request, "user", None)
    # An API client's key stands in for a login (common.actor.ClientPrincipal): no user row.
    if user is None or getattr(user, "api_client", None) is not None or not user.pk:
        return None
    return user


def audited(*, excluded_fields: tuple[str, ...] = ()) -> HistoricalRecords:
    """The HistoricalRecords of an audited model (with the acting client)."""
    return HistoricalRecords(
        bases=[HistoryClient],
        excluded_fields=list(excluded_fields),
        get_user=_login_of,
    )


def name_actor(instance: models.Model, actor) -> models.Model:
    """Names `actor` (common.actor.Actor) on the history rows this instance's saves write."""
    if getattr(actor.user, "pk", None) is not None:  # not AnonymousUser: no row to point at
        instance._history_user = actor.user
    instance._history_client = actor.client
    return instance


def _note_client(sender, instance, history_instance, **kwargs) -> None:
    if hasattr(instance, "_history_client"):
        history_instance.history_client = instance._history_client
        return
    request = getattr(HistoricalRecords.context, "request", None)
    client = getattr(getattr(request, "user", None), "api_client", None)
    if client is not None:
        history_instance.history_client = client


def connect_signals() -> None:
    pre_create_historical_record.connect(_note_client, dispatch_uid="omnis-history-client")
