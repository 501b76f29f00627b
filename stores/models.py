"""Stores, warehouses and the staff who work in them."""

import re
import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from common.history import audited
from common.models import TimeStampedModel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

store_code_validator = RegexValidator(
    r"^[A-Z]{3}-\d{2}$",
    "A store code looks like BER-01: three capital letters, a dash, two digits.",
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known time zone.")


CLOCK = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")


def parse_clock(value) -> time:
    """A wall-clock time written HH:MM, 00:00–23:59 (a store open until midnight closes at 23:59).

    Raises ValueError for anything else, also for 24:00 and 9:00.
    """
    if not isinstance(value, str) or not CLOCK.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day written HH:MM (00:00–23:59).")
    return time.fromisoformat(value)


def parse_spans(spans) -> list[tuple[time, time]]:
    """One day's [[open, close], ...] as times, ordered; raises ValueError unless each span opens
    before it closes and no two spans overlap."""
    if not isinstance(spans, list):
        raise ValueError("a list of [open, close] pairs is needed.")
    result = []
    for span in spans:
        if not isinstance(span, list | tuple) or len(span) != 2:
            raise ValueError(f"{span!r} is not an [open, close] pair.")
        opens, closes = parse_clock(span[0]), parse_clock(span[1])
        if opens >= closes:
            raise ValueError(f"{span[0]}–{span[1]} closes before it opens.")
        result.append((opens, closes))
    result.sort()
    for (_, closes), (next_opens, _) in zip(result, result[1:], strict=False):
        if next_opens < closes:
            raise ValueError(f"spans overlap at {next_opens:%H:%M}.")
    return result


def validate_opening_hours(value) -> None:
    """{"mon": [["09:00", "20:00"]], ..., "sun": []}: closed days are empty lists.

    Times are HH:MM from 00:00 to 23:59, each span opens before it closes, spans of a day do not
    overlap. Nights across midnight are not supported.
    """
    if not isinstance(value, dict):
        raise ValidationError(
            "Opening hours must map weekdays (mon…sun) to lists of [open, close]."
        )
    for day, spans in value.items():
        if day not in WEEKDAYS:
            raise ValidationError(
                f"'{day}' is not a weekday; use mon, tue, wed, thu, fri, sat, sun."
            )
        try:
            parse_spans(spans)
        except ValueError as exc:
            raise ValidationError(f'{day}: {exc} Write [["09:00", "20:00"]].') from exc


class Store(TimeStampedModel):
    code = models.CharField(max_length=6, unique=True, validators=[store_code_validator])
    name = models.CharField(max_length=120)
    street = models.CharField(max_length=200)
    postcode = models.CharField(max_length=10)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="DE")
    phone = models.CharField(max_length=20, blank=True)
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    time_zone = models.CharField(
        max_length=64, default="Europe/Berlin", validators=[validate_time_zone]
    )
    opening_hours = models.JSONField(default=dict, blank=True, validators=[validate_opening_hours])

    sells_in_store = models.BooleanField(default=True)
    offers_pickup = models.BooleanField(
        default=True, help_text="Click & collect orders can be picked up here."
    )
    accepts_returns = models.BooleanField(default=True)
    takes_reservations = models.BooleanField(default=True)
    is_warehouse = models.BooleanField(
        default=False, help_text="Ships orders and transfers; no counter."
    )
    is_active = models.BooleanField(default=True)

    default_hold_hours = models.PositiveIntegerField(
        default=48, help_text="How long a reservation holds stock unless a deadline is given."
    )
    max_hold_hours = models.PositiveIntegerField(
        default=168, help_text="Latest deadline for a reservation, counted from its creation."
    )
    max_hold_extensions = models.PositiveIntegerField(default=2)
    pickup_window_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(1)],
        help_text="Opening days a ready click & collect order waits (the day it is ready does "
        "not count); it is cancelled after closing time on the last of them.",
    )
    return_window_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Overrides the deployment's return window for returns received here.",
    )

    history = audited()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_hold_hours__lte=models.F("max_hold_hours")),
                name="store_default_hold_within_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class StaffRole(models.TextChoices):
    STORE_STAFF = "store_staff", "Store staff"
    MANAGER = "manager", "Store manager"
    SERVICE_AGENT = "service_agent", "Service agent"


class StoreMembership(TimeStampedModel):
    """A staff member works in a store with a role; staff act only on their stores."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships"
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=StaffRole.choices, default=StaffRole.STORE_STAFF)

    history = audited()

    class Meta:
        ordering = ["store__code", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "store"], name="one_membership_per_store")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store.code} ({self.role})"
