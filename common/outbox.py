"""The transactional outbox: side effects that are never lost and never block the change.

A service writes each side effect (a customer message, a webhook, a call to the payment service)
as an `OutboxMessage` row with `enqueue()`, inside its own transaction: the change and the promise
to act on it commit together or not at all. After commit a relay carries the row out:

- with a broker (`CELERY_BROKER_URL`), a kick queues `relay_outbox_messages` once the response
  has been sent (at commit when no request is running); if the broker cannot be reached the
  request has succeeded anyway and the row waits for the sweep;
- without one (the embedded default), the rows are carried out in-process after the response has
  been sent (or at once when no request is running: commands, tests, tasks), never inside the
  request's transaction;
- `sweep_outbox` (beat, every minute) carries out whatever is due: kicks that were lost, retries.

Delivery is at least once: a failing handler is retried with exponential backoff and, after its
attempts, parked as `dead` (admin action and `manage.py outbox --retry`). Handlers must therefore
be idempotent (e-mails are keyed by `send_email_once`, webhooks carry a stable id, refunds use the
refund id as the provider's idempotency key).
"""

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.utils import timezone

from common.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    topic: str
    function: Callable[..., Any]
    max_attempts: int | None
    give_up_after: timedelta | None
    on_dead: Callable[..., Any] | None = None
    on_failure: Callable[..., Any] | None = None


_HANDLERS: dict[str, Handler] = {}


class Later(Exception):  # noqa: N818 - a request, not an error
    """Raised by a handler that may not act yet (a marketing SMS in quiet hours): the message
    waits, still pending, until `until`; the wait is not a failed attempt."""

    def __init__(self, until, reason: str = "") -> None:
        super().__init__(f"not before {until.isoformat()}" + (f": {reason}" if reason else ""))
        self.until = until
        self.reason = reason


def handler(
    topic: str,
    *,
    max_attempts: int | None = None,
    give_up_after: timedelta | None = None,
    on_dead: Callable[..., Any] | None = None,
    on_failure: Callable[..., Any] | None = None,
) -> Callable:
    """Register the function that carries out messages of `topic`; it is called with the payload
    as keyword arguments and must be idempotent. A message is dead after `max_attempts` failed
    tries (default: setting OMNIS_OUTBOX_MAX_ATTEMPTS) or, if given, once `give_up_after` has
    passed since it was written; `on_dead` is then called with the last error and the payload (in
    the transaction that parks the message) to record the give-up where people look, e.g. a
    refund `failed`.

    The handler's writes roll back when it raises; `on_failure(error=, dead=, **payload)`, if
    given, is called after each failure (after that rollback, in the relay's transaction) to
    record it, e.g. a webhook's attempt log."""

    def register(function: Callable) -> Callable:
        _HANDLERS[topic] = Handler(
            topic, function, max_attempts, give_up_after, on_dead, on_failure
        )
        return function

    return register


def topics() -> list[str]:
    return sorted(_HANDLERS)


def enqueue(topic: str, payload: dict | None = None, *, key: str | None = None) -> int | None:
    """Write a side effect in the caller's transaction; it is carried out after commit.

    `key` makes the message unique: a second enqueue with the same key writes nothing (a unique
    index decides, so two concurrent writers cannot both add it). Returns the message's id
    (None with a key: whether it was written is known only after commit).
    """
    message = new_message(topic, payload, key=key)
    if key is None:
        message.save(force_insert=True)
        written(message)
        return message.pk
    OutboxMessage.objects.bulk_create([message], ignore_conflicts=True)
    # Looked up after commit: bulk_create cannot say whether it inserted.
    transaction.on_commit(lambda: _after_commit(None, key))
    return None


def new_message(topic: str, payload: dict | None = None, *, key: str | None = None):
    """The unsaved row of a side effect, for a service that writes it together with its other
    rows (common.rows.insert_rows); call `written` with it once it is saved."""
    if topic not in _HANDLERS:
        raise LookupError(f"No outbox handler for topic '{topic}'.")
    return OutboxMessage(
        topic=topic, payload=payload or {}, key=key, next_attempt_at=timezone.now()
    )


def written(message: OutboxMessage) -> None:
    """The message row is saved in the caller's transaction: carry it out after commit."""
    transaction.on_commit(lambda: _after_commit(message.pk, None))


# --- after commit ----------------------------------------------------------------------------

_local = threading.local()


def _in_request() -> bool:
    return getattr(_local, "deferred", None) is not None


def _start_request(**kwargs) -> None:
    _local.deferred = []


def _finish_request(**kwargs) -> None:
    deferred, _local.deferred = getattr(_local, "deferred", None), None
    if deferred:
        _carry_out(deferred)


# The response has gone out when request_finished fires (WSGI closes it after sending the body).
request_started.connect(_start_request, dispatch_uid="outbox-request-started")
request_finished.connect(_finish_request, dispatch_uid="outbox-request-finished")


def _after_commit(message_id: int | None, key: str | None) -> None:
    if message_id is None:
        message_id = (
            OutboxMessage.objects.filter(key=key, status=OutboxStatus.PENDING)
            .values_list("pk", flat=True)
            .first()
        )
        if message_id is None:
            return
    if _in_request():
        # After the response, broker or not: the request neither renders nor dispatches.
        _local.deferred.append(message_id)
    else:
        _carry_out([message_id])


def _carry_out(message_ids: list[int]) -> None:
    """Relay in-process without a broker (the embedded default), else kick a worker once."""
    if current_app.conf.task_always_eager:
        relay(message_ids)
        return
    from common.tasks import relay_outbox_messages

    try:
        # retry=False: an unreachable broker fails at once; the sweep carries the rows out later.
        relay_outbox_messages.apply_async(args=[message_ids], retry=False)
    except Exception:  # noqa: BLE001 - any broker failure: the rows are safe, the sweep will relay
        log.warning("outbox %s: broker unreachable, left for the sweep", message_ids, exc_info=True)


# --- carrying messages out -------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … capped at an hour."""
    base = settings.OMNIS_OUTBOX_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def deliver(message_id: int, *, now=None) -> str:
    """Carry out one pending message. Returns 'sent', 'retry', 'dead', 'deferred' (the handler
    raised `Later`) or 'skipped'.

    The row is locked (skip_locked: another relay busy with it is left alone) and its status read
    under the lock, so a message is carried out by one relay at a time and never after it was sent.
    The handler runs in a savepoint: its own writes roll back if it fails.
    """
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxStatus.PENDING)
            .first()
        )
        if message is None:
            return "skipped"
        now = now or timezone.now()
        message.attempts += 1
        entry = _HANDLERS.get(message.topic)
        try:
            if entry is None:
                raise LookupError(f"No outbox handler for topic '{message.topic}'.")
            with transaction.atomic():
                entry.function(**message.payload)
        except Later as later:
            message.attempts -= 1
            message.next_attempt_at = later.until
            message.last_error = f"Later: {later}"[:4000]
            message.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            log.info("outbox %s (%s) waits: %s", message.pk, message.topic, later)
            return "deferred"
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            message.last_error = f"{type(exc).__name__}: {exc}"[:4000]
            max_attempts = (entry and entry.max_attempts) or settings.OMNIS_OUTBOX_MAX_ATTEMPTS
            too_old = bool(entry and entry.give_up_after) and (
                now - message.created_at >= entry.give_up_after
            )
            if entry is None or message.attempts >= max_attempts or too_old:
                message.status = OutboxStatus.DEAD
                log.error("outbox %s (%s) is dead: %s", message.pk, message.topic, exc)
                if entry is not None and entry.on_dead is not None:
                    try:
                        with transaction.atomic():
                            entry.on_dead(message.last_error, **message.payload)
                    except Exception:  # noqa: BLE001 - the message is parked dead regardless
                        log.exception("outbox %s (%s): on_dead failed", message.pk, message.topic)
            else:
                message.next_attempt_at = now + backoff(message.attempts)
                log.warning("outbox %s (%s) failed, retry: %s", message.pk, message.topic, exc)
            if entry is not None and entry.on_failure is not None:
                dead = message.status == OutboxStatus.DEAD
                try:
                    with transaction.atomic():
                        entry.on_failure(error=exc, dead=dead, **message.payload)
                except Exception:  # noqa: BLE001 - the message's own bookkeeping comes first
                    log.exception("outbox %s (%s): on_failure failed", message.pk, message.topic)
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return "dead" if message.status == OutboxStatus.DEAD else "retry"
        message.status = OutboxStatus.SENT
        message.sent_at = now
        message.last_error = ""
        message.save(update_fields=["attempts", "last_error", "status", "sent_at"])
        return "sent"


def relay(message_ids: Iterable[int], *, now=None) -> dict[str, int]:
    """Carry out these messages now, in this process; counts per outcome."""
    counts: dict[str, int] = {}
    for message_id in message_ids:
        outcome = deliver(message_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def due_message_ids(*, now=None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def sweep(*, now=None, limit: int = 500) -> dict[str, int]:
    """Carry out every pending message that is due: lost kicks and retries."""
    return relay(due_message_ids(now=now, limit=limit), now=now)


@transaction.atomic
def retry_dead(message_ids: Iterable[int]) -> int:
    """Give dead messages another round of attempts, carried out after commit."""
    ids = list(
        OutboxMessage.objects.select_for_update()
        .filter(pk__in=list(message_ids), status=OutboxStatus.DEAD)
        .values_list("pk", flat=True)
    )
    OutboxMessage.objects.filter(pk__in=ids).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    for message_id in ids:
        transaction.on_commit(lambda message_id=message_id: _after_commit(message_id, None))
    return len(ids)
