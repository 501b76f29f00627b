from celery import shared_task
from django.conf import settings
from django.utils import timezone

from common import outbox
from common.idempotency import purge_expired_keys
from common.models import OutboxMessage, OutboxStatus


@shared_task
def purge_expired_idempotency_keys() -> int:
    return purge_expired_keys()


@shared_task(bind=True, max_retries=None)
def relay_outbox_messages(self, message_ids: list[int]) -> dict[str, int]:
    """Carry out messages written by a committed transaction (kicked after commit).

    A message that failed is retried by this task when its backoff has passed (the row's
    next_attempt_at is the one clock; the sweep is the safety net if this retry is lost). The
    row's attempt count bounds the retries: a message past its attempts is dead, not retried.
    """
    counts = outbox.relay(message_ids)
    if counts.get("retry"):
        waiting = OutboxMessage.objects.filter(pk__in=message_ids, status=OutboxStatus.PENDING)
        due = min(waiting.values_list("next_attempt_at", flat=True), default=None)
        if due is not None and self.request.retries < settings.OMNIS_OUTBOX_MAX_ATTEMPTS:
            countdown = max((due - timezone.now()).total_seconds(), 1)
            raise self.retry(args=[list(waiting.values_list("pk", flat=True))], countdown=countdown)
    return counts


@shared_task
def sweep_outbox() -> dict[str, int]:
    """Every minute: whatever is pending and due (lost kicks, retries)."""
    return outbox.sweep()
