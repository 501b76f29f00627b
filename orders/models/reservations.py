"""Reserve & collect: a hold on stock in one store for one customer until a deadline."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.models import ApiClient, Channel, TimeStampedModel
from customers.models import Customer
from inventory.models import Variant
from orders.models.history import StatusChange
from stores.models import Store


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COLLECTED = "collected", _("Collected")
    RELEASED = "released", _("Released")


class ReleaseReason(models.TextChoices):
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class Reservation(TimeStampedModel):
    TRANSITIONS = {
        ReservationStatus.ACTIVE: {ReservationStatus.COLLECTED, ReservationStatus.RELEASED},
        ReservationStatus.COLLECTED: set(),
        ReservationStatus.RELEASED: set(),
    }

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="reservations")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="reservations")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(
        max_length=20,
        choices=ReservationStatus.choices,
        default=ReservationStatus.ACTIVE,
        db_index=True,
    )
    release_reason = models.CharField(max_length=20, choices=ReleaseReason.choices, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    extension_count = models.PositiveIntegerField(default=0)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    order = models.OneToOneField(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reservation",
        help_text="The store sale created when the customer collected.",
    )
    note = models.CharField(max_length=500, blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["expires_at", "id"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="reservation_status_expiry_idx"),
            # A new hold counts the customer's active ones (the limit) and the customer page lists
            # them: a small index of active holds only, instead of every active hold of the
            # retailer filtered by customer.
            models.Index(
                fields=["customer", "expires_at"],
                condition=models.Q(status="active"),
                name="reservation_active_cust_idx",
            ),
            # The insights' daily rollups read holds by the day they were collected or released.
            models.Index(fields=["collected_at"], name="reservation_collected_at_idx"),
            models.Index(fields=["released_at"], name="reservation_released_at_idx"),
        ]

    def __str__(self) -> str:
        return f"Reservation {self.pk} @ {self.store_id} ({self.status})"


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    collected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="reservation_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(collected__lte=models.F("quantity")),
                name="reservation_line_collected_within_quantity",
            ),
        ]


class ReservationStatusChange(StatusChange):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="history")
