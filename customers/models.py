"""One customer whatever the touchpoint: identity, preferences, timeline, wishlist, store credit."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.formatting import money
from common.history import audited
from common.models import ApiClient, Channel, TimeStampedModel
from customers.normalise import normalise_email, normalise_phone
from customers.segment_rules import validate_rules
from inventory.models import Variant
from stores.models import Store


class ContactChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone call")
    NONE = "none", _("No contact")


def default_language() -> str:
    """A new customer hears from us in the deployment's language until they choose another."""
    return settings.LANGUAGE_CODE


class Customer(TimeStampedModel):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # NULL (not "") when absent, so that the unique constraints only bind real values.
    email = models.EmailField(max_length=254, null=True, blank=True, unique=True)
    phone = models.CharField(
        max_length=20, null=True, blank=True, unique=True, help_text="E.164, e.g. +49301234567"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
    )
    source_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    created_by_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    preferred_store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    postcode = models.CharField(max_length=10, blank=True)
    sizes = models.JSONField(
        default=dict, blank=True, help_text='Sizes per category, e.g. {"shirts": "M"}'
    )
    favourite_categories = models.JSONField(default=list, blank=True)
    contact_channel = models.CharField(
        max_length=10, choices=ContactChannel.choices, default=ContactChannel.EMAIL
    )
    # Every e-mail and SMS to the customer is written in this language (settings.LANGUAGES).
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=default_language)
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    marketing_consent_source = models.CharField(max_length=10, choices=Channel.choices, blank=True)

    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Personal data anonymised on request; orders, returns and the ledger stay.",
    )

    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="aliases",
        help_text="Set when this record was merged into another; kept as an alias.",
    )

    history = audited()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        permissions = [
            ("merge_customer", "Can merge duplicate customers"),
            ("export_customer", "Can export everything stored about a customer"),
            ("erase_customer", "Can erase a customer's personal data"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email__isnull=False)
                | models.Q(phone__isnull=False)
                | models.Q(merged_into__isnull=False)
                | models.Q(erased_at__isnull=False),
                name="customer_has_email_or_phone",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"Customer {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def clean(self) -> None:
        errors = {}
        try:
            self.email = normalise_email(self.email)
        except ValidationError as exc:
            errors["email"] = exc.messages
        try:
            self.phone = normalise_phone(self.phone)
        except ValidationError as exc:
            errors["phone"] = exc.messages
        if (
            not errors
            and not self.email
            and not self.phone
            and not self.merged_into_id
            and not self.erased_at
        ):
            errors["email"] = ["An e-mail address or a phone number is needed."]
        if errors:
            raise ValidationError(errors)


class TimelineKind(models.TextChoices):
    NOTE = "note", "Service note"
    PRODUCT_VIEW = "product_view", "Product viewed"
    TOUCHPOINT = "touchpoint", "Touchpoint"
    PROFILE_CHANGED = "profile_changed", "Profile changed"
    MERGED = "merged", "Merged"
    ORDER_PLACED = "order_placed", "Order placed"
    ORDER_READY = "order_ready", "Order ready for pickup"
    ORDER_COLLECTED = "order_collected", "Order collected"
    ORDER_SHIPPED = "order_shipped", "Order shipped"
    ORDER_DELIVERED = "order_delivered", "Order delivered"
    ORDER_CANCELLED = "order_cancelled", "Order cancelled"
    RESERVATION_CREATED = "reservation_created", "Reservation made"
    RESERVATION_EXTENDED = "reservation_extended", "Reservation extended"
    RESERVATION_COLLECTED = "reservation_collected", "Reservation collected"
    RESERVATION_RELEASED = "reservation_released", "Reservation released"
    RETURN_REQUESTED = "return_requested", "Return announced"
    RETURN_RECEIVED = "return_received", "Return received"
    RETURN_REJECTED = "return_rejected", "Return rejected"
    REFUND_ISSUED = "refund_issued", "Refund issued"
    STORE_CREDIT = "store_credit", "Store credit"
    WISHLIST_ADDED = "wishlist_added", "Added to wishlist"
    WISHLIST_REMOVED = "wishlist_removed", "Removed from wishlist"
    DISCOUNT_CODE_ISSUED = "discount_code_issued", "Discount code issued"
    DISCOUNT_CODE_REDEEMED = "discount_code_redeemed", "Discount code redeemed"
    CONSENT = "consent", "Consent given or withdrawn"
    DATA_EXPORTED = "data_exported", "Personal data exported"
    DATA_ERASED = "data_erased", "Personal data erased"
    SIZE_FILTER = "size_filter", "Filtered by size"


class TimelineEvent(models.Model):
    """Everything that happened with a customer, in any channel. Written only via customers.services."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=TimelineKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    at = models.DateTimeField(db_index=True)
    summary = models.CharField(max_length=500)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=32, blank=True)
    subject_type = models.CharField(
        max_length=30, blank=True, help_text="order, reservation, return, note…"
    )
    subject_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    campaign = models.CharField(
        max_length=50,
        blank=True,
        db_index=True,
        help_text="Campaign tag (a QR poster, a newsletter) that brought this touchpoint.",
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at"], name="timeline_customer_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.summary}"


class ServiceNote(TimeStampedModel):
    """A note from the phone desk or a store ("agreed full refund"), visible to every channel."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(max_length=4000)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class WishlistItem(TimeStampedModel):
    """One list per customer, shared by every channel; staff additions carry their name and note."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="wishlist")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    added_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "variant"], name="wishlist_item_once")
        ]


class StoreCreditEntry(models.Model):
    """Store credit ledger: the balance is the sum of the entries (earned by returns, spent on orders)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="store_credit")
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Positive: earned; negative: spent."
    )
    reason = models.CharField(max_length=255)
    cause_type = models.CharField(max_length=20, blank=True)
    cause_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "store credit entries"


class ContactField(models.TextChoices):
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"


class ContactChange(models.Model):
    """A new e-mail address or phone number for a customer with a login, waiting for the code that
    was sent to it: until confirmed, the old one stays and find-or-create knows only the old one."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contact_changes")
    field = models.CharField(max_length=10, choices=ContactField.choices)
    value = models.CharField(max_length=254)
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    wrong_codes = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    void_at = models.DateTimeField(
        null=True, blank=True, help_text="Replaced, or too many wrong codes."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.field} → {self.value}"


class PossibleDuplicate(models.Model):
    """Contact data that matched a customer on one identifier and contradicted the other: the
    customer was left unchanged; the service desk decides whether it is another person or a merge."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="possible_duplicates"
    )
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    created_by_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open flag per customer and contradicting contact data, however often it comes.
            models.UniqueConstraint(
                fields=["customer", "email", "phone"],
                condition=models.Q(resolved_at__isnull=True),
                name="possible_duplicate_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} ~ {self.email or self.phone}"


class DiscountCode(models.Model):
    """A code given after advice (in a store, on the phone) that works in every channel.

    Bound to one customer or open to anyone; a percentage of the subtotal or a fixed amount;
    `uses` only ever rises through one conditional UPDATE (customers.discounts), never past
    `max_uses`.
    """

    code = models.CharField(max_length=16, unique=True)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="discount_codes",
        help_text="Empty: an open code anyone may use.",
    )
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    min_total = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, help_text="Smallest subtotal it applies to."
    )
    campaign = models.CharField(max_length=50, blank=True, db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    issued_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_by_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at_store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    segment = models.ForeignKey(
        "Segment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discount_codes",
        help_text="The audience of the campaign this code was offered in.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("issue_discount_code", "Can issue discount codes")]
        constraints = [
            # A segment's campaign offers each member one code: running it again (or twice at
            # once) adds only the members who joined since.
            models.UniqueConstraint(
                fields=["segment", "campaign", "customer"],
                condition=models.Q(segment__isnull=False),
                name="discount_code_once_per_segment_campaign",
            ),
            models.CheckConstraint(
                condition=models.Q(percent__isnull=False, amount__isnull=True)
                | models.Q(percent__isnull=True, amount__isnull=False),
                name="discount_code_percent_xor_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(percent__isnull=True)
                | models.Q(percent__gt=0, percent__lte=100),
                name="discount_code_percent_range",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gt=0),
                name="discount_code_amount_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(max_uses__gte=1, uses__lte=models.F("max_uses")),
                name="discount_code_uses_within_max",
            ),
            models.CheckConstraint(
                condition=models.Q(min_total__gte=0), name="discount_code_min_total_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="discount_code_validity_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def value_label(self) -> str:
        return f"{self.percent.normalize():f} %" if self.percent is not None else money(self.amount)


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing (offers, nudges)")
    NEWSLETTER = "newsletter", _("Newsletter")
    PROFILING = "profiling", _("Personalisation from what was viewed and bought")


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone call")


# Advertising by e-mail counts only once the address's owner clicked the link sent to it.
DOUBLE_OPT_IN = {
    (ConsentPurpose.MARKETING, ConsentChannel.EMAIL),
    (ConsentPurpose.NEWSLETTER, ConsentChannel.EMAIL),
}


class Consent(models.Model):
    """One consent of a customer for one purpose by one channel: when and where it was given,
    confirmed (double opt-in) and withdrawn. Withdrawing closes the row; giving again opens a new
    one, so the history of each consent stays as proof."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=20, choices=ConsentPurpose.choices)
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices)
    source = models.CharField(
        max_length=10, choices=Channel.choices, help_text="Where it was given."
    )
    given_at = models.DateTimeField()
    confirmation_sent_to = models.CharField(max_length=254, blank=True)
    confirmation_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    confirmation_expires_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Double opt-in: when the link sent to the address was opened.",
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_source = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-given_at", "-id"]
        constraints = [
            # One open consent per purpose and channel; a withdrawn one is history.
            models.UniqueConstraint(
                fields=["customer", "purpose", "channel"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="consent_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose}/{self.channel}"

    @property
    def needs_confirmation(self) -> bool:
        return (self.purpose, self.channel) in DOUBLE_OPT_IN

    @property
    def counts(self) -> bool:
        """Given, not withdrawn, and confirmed where double opt-in applies."""
        return self.withdrawn_at is None and (
            self.confirmed_at is not None or not self.needs_confirmation
        )


class NudgeReason(models.TextChoices):
    VIEWED_AGAIN = "viewed_again", "Viewed again, not bought"
    LISTED = "listed", "On the list"
    SEGMENT = "segment", "Sent to a segment"


class Nudge(models.Model):
    """One "only a few left" message to a customer about a variant. The unique constraint is the
    "at most one per item and week" rule: a sweep claims the row (insert, conflict → nothing) and
    only the run whose insert went in queues the message, however many runs overlap."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="nudges")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    week = models.CharField(max_length=8, help_text="ISO week, e.g. 2026-W49")
    reason = models.CharField(max_length=20, choices=NudgeReason.choices)
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where the stock was counted; empty: online (the warehouses).",
    )
    available = models.PositiveIntegerField(default=0)
    segment = models.ForeignKey(
        "Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="nudges"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "variant", "week"], name="nudge_once_per_variant_and_week"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.variant_id} {self.week} ({self.reason})"


class Segment(TimeStampedModel):
    """Saved rules for an audience ("bought in the store and online in the last 90 days"): a list
    of conditions, all of which a customer meets (customers.segment_rules describes the format)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.CharField(max_length=500, blank=True)
    rules = models.JSONField(
        default=list,
        help_text='All must hold, e.g. [{"rule": "bought_in_channel", "channels": ["store", '
        '"web"], "days": 90}, {"rule": "size", "category": "shirts", "size": "M"}]',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = validate_rules(self.rules)
        if errors:
            raise ValidationError({"rules": errors})
