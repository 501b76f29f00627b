"""The history row every workflow step writes: from, to, who, when, through which channel."""

from django.conf import settings
from django.db import models

from common.models import ApiClient, Channel


class StatusChange(models.Model):
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"
