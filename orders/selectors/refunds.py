"""Reads about refunds: which ones a manager must look at."""

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from orders.models import Refund, RefundStatus


def pending_alert_cutoff(now: datetime | None = None) -> datetime:
    """Refunds written before this and still pending are overdue (OMNIS_REFUND_PENDING_ALERT)."""
    return (now or timezone.now()) - settings.OMNIS_REFUND_PENDING_ALERT


def is_overdue(refund: Refund, now: datetime | None = None) -> bool:
    """Pending at the payment service for longer than OMNIS_REFUND_PENDING_ALERT."""
    return refund.status == RefundStatus.PENDING and refund.created_at <= pending_alert_cutoff(now)


def overdue_refunds(now: datetime | None = None) -> QuerySet[Refund]:
    return Refund.objects.filter(
        status=RefundStatus.PENDING, created_at__lte=pending_alert_cutoff(now)
    )


def refunds_needing_attention(now: datetime | None = None) -> QuerySet[Refund]:
    """Failed refunds and those pending too long: the manager's list."""
    return Refund.objects.filter(
        Q(status=RefundStatus.FAILED)
        | Q(status=RefundStatus.PENDING, created_at__lte=pending_alert_cutoff(now))
    ).select_related("order", "return_request")
