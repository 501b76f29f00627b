"""Catalogue (products, variants) and stock: one StockItem per SKU and store, and its ledger."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.models import ApiClient, TimeStampedModel
from inventory.validators import sku_validator, validate_ean13
from stores.models import Store


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    name = models.CharField(max_length=200, db_index=True)
    brand = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Variant(TimeStampedModel):
    """A sellable SKU: one size/colour of a product, with its barcode and price."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=32, unique=True, validators=[sku_validator])
    ean = models.CharField(
        "EAN-13 barcode", max_length=13, unique=True, validators=[validate_ean13]
    )
    attributes = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"size": "M", "colour": "blue"}'
    )
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="variant_price_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.product.name}" if self.product_id else self.sku

    @property
    def label(self) -> str:
        extra = " / ".join(str(v) for v in self.attributes.values())
        return f"{self.product.name} ({extra})" if extra else self.product.name


class StockItem(models.Model):
    """Stock of one SKU in one store. Only inventory services change the quantities."""

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="stock_items")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="stock_items")
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    safety_stock = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["variant__sku", "store__code"]
        permissions = [
            ("receive_stock", "Can book goods received"),
            ("adjust_stock", "Can set stock to a count"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "store"], name="one_stock_item_per_sku_and_store"
            ),
            models.CheckConstraint(
                condition=models.Q(reserved__gte=0), name="stock_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(on_hand__gte=0), name="stock_on_hand_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(reserved__lte=models.F("on_hand")),
                name="stock_reserved_within_on_hand",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku} @ {self.store.code}"

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.safety_stock, 0)


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Goods received"
    ADJUSTMENT = "adjustment", "Stock count adjustment"
    RESERVE = "reserve", "Reserved"
    RELEASE = "release", "Released"
    SALE = "sale", "Sold"
    RETURN_RESTOCK = "return_restock", "Return restocked"
    DAMAGE = "damage", "Damaged"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"


class CauseType(models.TextChoices):
    ORDER_LINE = "order_line", "Order line"
    RESERVATION_LINE = "reservation_line", "Reservation line"
    RETURN_LINE = "return_line", "Return line"
    TRANSFER = "transfer", "Transfer"
    IMPORT_BATCH = "import_batch", "ERP import"
    MANUAL = "manual", "Manual"


class StockMovement(models.Model):
    """Append-only ledger: the StockItem's quantities equal the sum of its movements."""

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    # The cause is named by type and id so that inventory does not depend on the apps that use it.
    cause_type = models.CharField(
        max_length=20, choices=CauseType.choices, default=CauseType.MANUAL
    )
    cause_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cause_type", "cause_id"], name="movement_cause_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.on_hand_delta:+}/{self.reserved_delta:+} {self.stock_item_id}"


class SafetyStockChange(models.Model):
    """Who changed a stock row's safety stock, from what to what. Quantities are audited by the
    ledger (StockMovement); the safety stock is not a ledger change, so it is recorded here."""

    stock_item = models.ForeignKey(
        StockItem, on_delete=models.PROTECT, related_name="safety_stock_changes"
    )
    old_quantity = models.PositiveIntegerField()
    new_quantity = models.PositiveIntegerField()
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.stock_item_id}: safety stock {self.old_quantity} → {self.new_quantity}"


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested (stock held at source)")
    IN_TRANSIT = "in_transit", _("In transit")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class Transfer(TimeStampedModel):
    """Stock moving between locations, e.g. a warehouse supplying a store for a pickup order."""

    TRANSITIONS = {
        TransferStatus.REQUESTED: {TransferStatus.IN_TRANSIT, TransferStatus.CANCELLED},
        TransferStatus.IN_TRANSIT: {TransferStatus.RECEIVED},
        TransferStatus.RECEIVED: set(),
        TransferStatus.CANCELLED: set(),
    }

    from_store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="transfers_out")
    to_store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(
        max_length=20, choices=TransferStatus.choices, default=TransferStatus.REQUESTED
    )
    reason = models.CharField(max_length=255, blank=True)
    # What the goods travel for (e.g. the order lines of a pickup order): on arrival they are
    # reserved at the destination for that cause, so nobody else can take them.
    destined_cause_type = models.CharField(max_length=20, choices=CauseType.choices, blank=True)
    destined_cause_id = models.CharField(
        max_length=64, blank=True, help_text="Set when one cause covers every line."
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_store=models.F("to_store")),
                name="transfer_between_two_stores",
            )
        ]

    def __str__(self) -> str:
        return f"Transfer {self.pk} {self.from_store_id}→{self.to_store_id} ({self.status})"


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    destined_cause_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="transfer_line_quantity_positive"
            )
        ]
