"""Cross-channel returns: anything bought anywhere comes back anywhere; refunds follow the money."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.history import audited
from common.models import ApiClient, Channel, TimeStampedModel
from customers.models import Customer
from orders.models.history import StatusChange
from stores.models import Store


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    RECEIVED = "received", _("Received")
    REFUNDED = "refunded", _("Refunded")
    REJECTED = "rejected", _("Rejected")


class ReturnMethod(models.TextChoices):
    STORE = "store", _("At a store counter")
    MAIL = "mail", _("By mail to the warehouse")


class ReturnReason(models.TextChoices):
    TOO_SMALL = "too_small", _("Too small")
    TOO_LARGE = "too_large", _("Too large")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    DEFECTIVE = "defective", _("Defective")
    WRONG_ITEM = "wrong_item", _("Wrong item delivered")
    CHANGED_MIND = "changed_mind", _("Changed mind")
    OTHER = "other", _("Other")


class LineCondition(models.TextChoices):
    RESELLABLE = "resellable", _("Resellable")
    DAMAGED = "damaged", _("Damaged")


class RefundMethod(models.TextChoices):
    ORIGINAL = "original", _("Original payment")
    STORE_CREDIT = "store_credit", _("Store credit")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending at the payment service")
    PAID = "paid", _("Paid back")
    FAILED = "failed", _("Failed")


class Return(TimeStampedModel):
    # Only an announced return can be rejected: once received, the goods are in stock and counted
    # as returned on the order line, so what follows is a refund (possibly of a damaged item).
    TRANSITIONS = {
        ReturnStatus.REQUESTED: {ReturnStatus.RECEIVED, ReturnStatus.REJECTED},
        ReturnStatus.RECEIVED: {ReturnStatus.REFUNDED},
        ReturnStatus.REFUNDED: set(),
        ReturnStatus.REJECTED: set(),
    }

    number = models.CharField(max_length=20, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="returns")
    method = models.CharField(
        max_length=10, choices=ReturnMethod.choices, default=ReturnMethod.STORE
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        related_name="returns",
        help_text="Where the goods arrive: a store that accepts returns, or the warehouse for mail returns.",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(
        max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED, db_index=True
    )
    window_override_reason = models.CharField(max_length=255, blank=True)
    window_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_reason = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    replacement_order = models.OneToOneField(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exchange_for",
    )
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("refund_return", "Can refund or exchange a return")]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines"
    )
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    reason_text = models.CharField(max_length=500, blank=True)
    condition = models.CharField(max_length=20, choices=LineCondition.choices, blank=True)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="return_line_quantity_positive"
            ),
        ]


class ReturnStatusChange(StatusChange):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="history")


class Refund(TimeStampedModel):
    """Money back for an order: for a return, or for what a cancelled or partly handed over order
    did not deliver. To the order's original payment (written `pending`, paid by the provider
    after commit: `paid` or, after the last attempt, `failed`) or as store credit (`paid` at once).
    """

    return_request = models.ForeignKey(
        Return, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    method = models.CharField(max_length=20, choices=RefundMethod.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING, db_index=True
    )
    reason = models.CharField(max_length=255, blank=True)
    provider = models.CharField(max_length=30, default="manual")
    provider_reference = models.CharField(max_length=100, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = audited()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="refund_amount_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_method_display().lower()} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """What the payment provider pays at most once for: one key per refund row."""
        return f"omnis-refund-{self.pk}"
