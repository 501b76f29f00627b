"""One order record whatever the channel: webshop, app, phone desk or store counter."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.models import ApiClient, Channel, TimeStampedModel
from customers.models import Customer
from inventory.models import Transfer, Variant
from orders.models.history import StatusChange
from stores.models import Store


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class Fulfilment(models.TextChoices):
    PICKUP = "pickup", _("Click & collect")
    DELIVERY = "delivery", _("Home delivery")
    COUNTER = "counter", _("Sold at the counter")


class PaymentStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PAY_AT_PICKUP = "pay_at_pickup", _("Pay at pickup")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


# Order number prefix per channel: W-000123 (web), A- (app), P- (phone), S- (store).
NUMBER_PREFIX = {Channel.WEB: "W", Channel.APP: "A", Channel.PHONE: "P", Channel.STORE: "S"}


class OrderNumberCounter(models.Model):
    """The last order number given out per channel (used where the database has no sequences)."""

    channel = models.CharField(max_length=10, choices=Channel.choices, primary_key=True)
    last_number = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.channel}: {self.last_number}"


class Order(TimeStampedModel):
    # The workflow, declared once: orders.services.orders moves the status through this table only.
    TRANSITIONS = {
        OrderStatus.PLACED: {
            OrderStatus.READY_FOR_PICKUP,
            OrderStatus.SHIPPED,
            OrderStatus.COLLECTED,
            OrderStatus.CANCELLED,
        },
        OrderStatus.READY_FOR_PICKUP: {OrderStatus.COLLECTED, OrderStatus.CANCELLED},
        OrderStatus.SHIPPED: {OrderStatus.DELIVERED},
        OrderStatus.COLLECTED: set(),
        OrderStatus.DELIVERED: set(),
        OrderStatus.CANCELLED: set(),
    }

    number = models.CharField(max_length=20, unique=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    fulfilment = models.CharField(max_length=10, choices=Fulfilment.choices)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PLACED, db_index=True
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    pickup_store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.PROTECT, related_name="pickup_orders"
    )
    fulfilment_store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        related_name="fulfilled_orders",
        help_text="Where the stock is reserved and sold: the pickup store, the shipping warehouse or the counter.",
    )
    transfer = models.ForeignKey(
        Transfer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        help_text="Stock coming from a warehouse before the order can be ready.",
    )
    shipping_address = models.JSONField(default=dict, blank=True)

    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PAID
    )
    payment_reference = models.CharField(
        max_length=100,
        blank=True,
        help_text="The payment service's id of the payment (paid orders from the webshop or app).",
    )
    payment_method = models.CharField(
        max_length=20, default="card", help_text="card, cash, invoice, store_credit…"
    )
    currency = models.CharField(max_length=3, default="EUR")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    store_credit_used = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    pickup_code = models.CharField(max_length=12, null=True, blank=True)
    pickup_code_attempts = models.PositiveIntegerField(default=0)
    handover_locked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set after too many wrong pickup codes; a manager unlocks the hand-over.",
    )
    ready_at = models.DateTimeField(null=True, blank=True)
    pickup_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("unlock_hand_over", "Can unlock a hand-over locked by wrong codes")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="order_total_not_negative"
            ),
            models.CheckConstraint(
                condition=~models.Q(fulfilment="pickup") | models.Q(pickup_store__isnull=False),
                name="pickup_order_has_pickup_store",
            ),
            # A pickup code is unique among the orders that can still be collected.
            models.UniqueConstraint(
                fields=["pickup_code"],
                condition=models.Q(status="ready_for_pickup"),
                name="pickup_code_unique_while_open",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="order_customer_created_idx"),
            # The insights' daily rollups read orders by the day they became ready, were
            # collected or cancelled.
            models.Index(fields=["ready_at"], name="order_ready_at_idx"),
            models.Index(fields=["collected_at"], name="order_collected_at_idx"),
            models.Index(fields=["cancelled_at"], name="order_cancelled_at_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=32)
    name = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    discount = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, help_text="Discount on the whole line."
    )
    handed_over = models.PositiveIntegerField(
        default=0, help_text="Collected at the counter or delivered."
    )
    returned = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    via_transfer = models.BooleanField(
        default=False,
        help_text="Reserved at the warehouse and coming to the pickup store by the order's transfer.",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(handed_over__lte=models.F("quantity")),
                name="order_line_handed_over_within_quantity",
            ),
            models.CheckConstraint(
                condition=models.Q(returned__lte=models.F("handed_over")),
                name="order_line_returned_within_handed_over",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def line_total(self):
        return self.unit_price * self.quantity - self.discount


class OrderStatusChange(StatusChange):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
