"""Cross-app plumbing: channels, API clients, login tokens and idempotency records."""

import hashlib
import secrets

from django.conf import settings
from django.db import models


class Channel(models.TextChoices):
    WEB = "web", "Webshop"
    APP = "app", "App"
    PHONE = "phone", "Phone desk"
    STORE = "store", "Store"


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
