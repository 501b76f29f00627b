"""Money back to the way it came: a small refund provider interface.

Omnis takes no card payments itself. A refund "to the original payment" is handed to a provider by
name: `manual` (the back office refunds in the payment service's own portal) and `cash` (paid out at
the counter) ship with Omnis; a real payment service plugs in with `register_refund_provider` and
the setting OMNIS_REFUND_PROVIDER.

A provider is never called inside a request's transaction: the refund is first written as a
`pending` Refund row, and the outbox calls the provider after commit, retrying on failure
(orders.services.refunds). So a provider may be called more than once for the same refund, and
must pay at most once per `idempotency_key` (`omnis-refund-<refund id>`, passed on to the payment
service as its idempotency key): a repeated call with a key that was already paid returns the
first payment's reference and pays nothing more.
"""

from decimal import Decimal
from typing import Protocol, runtime_checkable

from django.conf import settings


class RefundProviderError(Exception):
    """The provider could not pay the money back; nothing was refunded."""


@runtime_checkable
class RefundProvider(Protocol):
    name: str

    def refund(self, order, amount: Decimal, reference: str, *, idempotency_key: str) -> str:
        """Pay `amount` back for `order`; returns the provider's reference. Raises on failure.

        `reference` is what the customer and the back office see (the return or order number);
        `idempotency_key` identifies the refund: the same key never pays twice, a repeat returns
        the first call's reference. Raising means nothing was paid for this call (the outbox
        tries again with the same key).
        """
        ...


class ManualRefundProvider:
    """The back office pays the money back by hand; the reference ties it to the return."""

    name = "manual"

    def refund(self, order, amount: Decimal, reference: str, *, idempotency_key: str) -> str:
        return f"MAN-{reference}"


class CashRefundProvider:
    """Cash paid out at the counter (orders paid in cash, e.g. store sales)."""

    name = "cash"

    def refund(self, order, amount: Decimal, reference: str, *, idempotency_key: str) -> str:
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


def refund_provider_named(name: str) -> RefundProvider:
    """The provider a refund was booked with (its `provider` field)."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise RefundProviderError(f"No refund provider named '{name}' is registered.")


def refund_provider_for(order) -> RefundProvider:
    """The provider that pays back this order's payment: cash at the counter, else the configured one."""
    if getattr(order, "payment_method", "") == "cash":
        name = CashRefundProvider.name
    else:
        name = getattr(settings, "OMNIS_REFUND_PROVIDER", ManualRefundProvider.name)
    return refund_provider_named(name)
