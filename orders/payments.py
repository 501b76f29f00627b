"""Money back to the way it came: a small refund provider interface.

Omnis takes no card payments itself. A refund "to the original payment" is handed to a provider by
name: `manual` (the back office refunds in the payment service's own portal) and `cash` (paid out at
the counter) ship with Omnis; a real payment service plugs in with `register_refund_provider` and
the setting OMNIS_REFUND_PROVIDER.
"""

from decimal import Decimal
from typing import Protocol, runtime_checkable

from django.conf import settings


class RefundProviderError(Exception):
    """The provider could not pay the money back; nothing was refunded."""


@runtime_checkable
class RefundProvider(Protocol):
    name: str

    def refund(self, order, amount: Decimal, reference: str) -> str:
        """Pay `amount` back for `order`; returns the provider's reference. Raises on failure."""
        ...


class ManualRefundProvider:
    """The back office pays the money back by hand; the reference ties it to the return."""

    name = "manual"

    def refund(self, order, amount: Decimal, reference: str) -> str:
        return f"MAN-{reference}"


class CashRefundProvider:
    """Cash paid out at the counter (orders paid in cash, e.g. store sales)."""

    name = "cash"

    def refund(self, order, amount: Decimal, reference: str) -> str:
        return f"CASH-{reference}"


_REGISTRY: dict[str, type] = {
    ManualRefundProvider.name: ManualRefundProvider,
    CashRefundProvider.name: CashRefundProvider,
}


def register_refund_provider(name: str, provider_class: type) -> None:
    """Make a provider available under `name` (e.g. from an AppConfig.ready())."""
    _REGISTRY[name] = provider_class


def refund_provider_names() -> list[str]:
    return sorted(_REGISTRY)


def refund_provider_for(order) -> RefundProvider:
    """The provider that pays back this order's payment: cash at the counter, else the configured one."""
    if getattr(order, "payment_method", "") == "cash":
        name = CashRefundProvider.name
    else:
        name = getattr(settings, "OMNIS_REFUND_PROVIDER", ManualRefundProvider.name)
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise RefundProviderError(f"No refund provider named '{name}' is registered.")
