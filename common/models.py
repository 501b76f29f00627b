"""Cross-app plumbing: channels, API clients, login tokens, idempotency records, the outbox and
webhook subscriptions."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.history import audited


class Channel(models.TextChoices):
    WEB = "web", _("Webshop")
    APP = "app", _("App")
    PHONE = "phone", _("Phone desk")
    STORE = "store", _("Store")


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def hash_key(key: str) -> str:
    # Keys are 256-bit random values: a plain SHA-256 is enough and allows an indexed look-up.
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


class ApiClient(TimeStampedModel):
    """A channel's server (the webshop, the app backend, the phone desk tools)."""

    name = models.CharField(max_length=100, unique=True)
    channel = models.CharField(
        max_length=10, choices=[c for c in Channel.choices if c[0] != Channel.STORE]
    )
    key_prefix = models.CharField(
        max_length=8, help_text="First characters of the key, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # The key's hash never goes into the history: the live row is the only copy.
    history = audited(excluded_fields=("key_hash",))

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


class TokenKind(models.TextChoices):
    STAFF = "staff", "Staff login"
    CUSTOMER = "customer", "Customer login"


class UserToken(TimeStampedModel):
    """An API token of a staff or customer login, stored hashed; it expires (lifetime per kind)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=TokenKind.choices, default=TokenKind.STAFF)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.key_prefix}…"


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an Idempotency-Key, replayed on retries."""

    principal = models.CharField(max_length=64, help_text="Who sent it: client:<id> or user:<id>.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "key"], name="idempotency_key_unique_per_principal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


class SentNotification(models.Model):
    """One row per message ever sent: a task that runs twice sends once."""

    key = models.CharField(max_length=200, unique=True)
    template = models.CharField(max_length=100)
    recipient = models.CharField(max_length=254)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    DEAD = "dead", "Dead"


class OutboxMessage(models.Model):
    """A side effect (a message, a webhook, a payment call) written in the transaction of the change
    that causes it, and carried out after commit by the relay (common.outbox)."""

    topic = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict)
    key = models.CharField(
        max_length=200,
        unique=True,
        null=True,
        blank=True,
        help_text="Optional de-duplication key: a second message with the same key is not written.",
    )
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The sweep's query: what is pending and due.
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_pending_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["status", "created_at"], name="outbox_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk} ({self.status})"


class WebhookEventType(models.TextChoices):
    ORDER_CREATED = "order.created", "Order created"
    ORDER_STATUS_CHANGED = "order.status_changed", "Order status changed"
    RESERVATION_STATUS_CHANGED = "reservation.status_changed", "Reservation status changed"
    RETURN_STATUS_CHANGED = "return.status_changed", "Return status changed"
    REFUND_CREATED = "refund.created", "Refund created"
    STOCK_CHANGED = "stock.changed", "Stock changed"


class WebhookSubscription(TimeStampedModel):
    """A channel client's URL that receives the events it subscribed to (common.webhooks)."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types sent to this URL.")
    # Kept in clear: every delivery is signed with it. Shown to the client once, at creation.
    secret = models.CharField(max_length=100, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["client"],
                name="webhook_subscription_active",
                condition=models.Q(deleted_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.client.name} → {self.url}"


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead"


class WebhookDelivery(models.Model):
    """One event for one subscription, sent under one `event_id` however often it is tried."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(max_length=40, help_text="The webhook-id header.")
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    subject = models.CharField(
        max_length=100, help_text="The object the event is about, e.g. order:W-000012."
    )
    sequence = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Per subject, increasing; set when the data is fixed."
    )
    data = models.JSONField(null=True, blank=True)
    coalesce = models.BooleanField(
        default=False, help_text="Data is read when first sent (one delivery for a burst)."
    )
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text="The body's created_at: when the data was taken."
    )
    state = models.CharField(
        max_length=10,
        choices=WebhookDeliveryState.choices,
        default=WebhookDeliveryState.PENDING,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outbox_message = models.ForeignKey(
        OutboxMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhook_delivery_event_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["subscription", "subject", "state"], name="webhook_delivery_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One POST of a delivery to the subscriber's URL, as it went."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    state = models.CharField(
        max_length=10,
        choices=WebhookDeliveryState.choices,
        help_text="The delivery's state after this attempt.",
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["delivery", "-at"], name="webhook_attempt_delivery_at")]

    def __str__(self) -> str:
        return f"{self.delivery.event_id} #{self.number} ({self.status_code or self.error})"


class WebhookSequence(models.Model):
    """The last sequence number given to an event about one subject."""

    subject = models.CharField(max_length=100, unique=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.subject} #{self.last}"


class LoginEventKind(models.TextChoices):
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Login failed"
    TOKEN_ISSUED = "token_issued", "API token issued"
    LOGOUT = "logout", "Logged out"


class LoginEvent(models.Model):
    """One login, failed login, API token issued or logout, with where it came from
    (common.audit). Written by the application only; never changed."""

    kind = models.CharField(max_length=20, choices=LoginEventKind.choices)
    username = models.CharField(max_length=150, blank=True, help_text="As typed, for failures.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["username", "-at"], name="login_event_username_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or '-'} from {self.ip or '?'}"
