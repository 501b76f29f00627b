"""Webhooks: events sent to the URLs channel clients subscribed, signed as Standard Webhooks does it.

A service calls `publish(event_type, data, subject=...)` inside its transaction. For each
subscription to that type a `WebhookDelivery` row is written with a new event id and the next
sequence number of the subject (the object the event is about), together with an outbox message;
so the event exists exactly when the change commits, and is sent after commit by the relay.

- Every attempt of a delivery POSTs the same body under the same `webhook-id`; a non-2xx answer,
  a redirect or no answer within OMNIS_WEBHOOK_TIMEOUT_SECONDS is retried with the outbox's
  backoff for OMNIS_WEBHOOK_RETRY_HOURS, then the delivery is dead. Each attempt is a
  `WebhookAttempt` row (the log the client reads).
- Per subscription and subject, deliveries go out in the order they were written: one whose
  predecessor is still pending waits for it (a dead one no longer blocks). `sequence` increases
  per subject, so a receiver can also drop what is older than what it has.
- `publish_coalesced(event_type, subjects=...)` is for bursts (stock movements): a delivery not
  yet tried takes every further change of its subject along; its data is read by the type's
  registered reader when it is first sent and then kept, so retries carry the same body. A
  change while it is being sent gets a new delivery, which waits for it (nothing is missed).
- `replay()` sends a delivered or dead delivery again under its event id.

Publishing costs nothing when nobody subscribed to the type: the subscribed types are read at
most every OMNIS_WEBHOOK_SUBSCRIBERS_TTL_SECONDS per process (and at once after a change here).
"""

import base64
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from common import outbox
from common.errors import InvalidInput
from common.models import (
    ApiClient,
    OutboxMessage,
    OutboxStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEventType,
    WebhookSequence,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

TOPIC = "webhooks.deliver"
EVENT_TYPES = tuple(WebhookEventType.values)

_READERS: dict[str, Callable[[str], dict | None]] = {}


def data_reader(event_type: str) -> Callable:
    """Register how the data of a coalesced event type is read from its subject when sent;
    the function returns the data, or None when the object no longer exists."""

    def register(function: Callable[[str], dict | None]) -> Callable:
        _READERS[event_type] = function
        return function

    return register


# --- who listens -----------------------------------------------------------------------------

_lock = threading.Lock()
_subscribed: tuple[float, frozenset[str]] | None = None


def subscribed_types() -> frozenset[str]:
    """The event types some active subscription wants (read at most every few seconds)."""
    global _subscribed
    cached = _subscribed
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    types: set[str] = set()
    for events in WebhookSubscription.objects.filter(deleted_at__isnull=True).values_list(
        "events", flat=True
    ):
        types.update(events)
    with _lock:
        _subscribed = (
            time.monotonic() + settings.OMNIS_WEBHOOK_SUBSCRIBERS_TTL_SECONDS,
            frozenset(types),
        )
    return _subscribed[1]


def forget_subscribed_types() -> None:
    global _subscribed
    with _lock:
        _subscribed = None


def _subscriptions_for(event_type: str) -> list[int]:
    if event_type not in EVENT_TYPES:
        raise LookupError(f"Unknown webhook event type '{event_type}'.")
    if event_type not in subscribed_types():
        return []
    rows = WebhookSubscription.objects.filter(deleted_at__isnull=True).values_list("pk", "events")
    return [pk for pk, events in rows if event_type in events]


# --- publishing (inside the caller's transaction) ----------------------------------------------


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _next_sequence(subject: str) -> int:
    # One row per subject, raised by an UPDATE: concurrent events about it queue on the row.
    if not WebhookSequence.objects.filter(subject=subject).update(last=F("last") + 1):
        try:
            with transaction.atomic():
                WebhookSequence.objects.create(subject=subject, last=1)
                return 1
        except IntegrityError:
            WebhookSequence.objects.filter(subject=subject).update(last=F("last") + 1)
    return WebhookSequence.objects.values_list("last", flat=True).get(subject=subject)


def _queue(delivery: WebhookDelivery) -> None:
    delivery.outbox_message_id = outbox.enqueue(TOPIC, {"delivery_id": delivery.pk})
    delivery.save(update_fields=["outbox_message"])


def publish(event_type: str, data: dict, *, subject: str) -> None:
    """Send `data` as an event of `event_type` about `subject` (e.g. "order:W-000012") to every
    subscription to the type, after the caller's transaction commits. Call it where the change
    is written, inside that transaction. Raises LookupError for an unknown event type."""
    subscriptions = _subscriptions_for(event_type)
    if not subscriptions:
        return
    event_id = new_event_id()
    sequence = _next_sequence(subject)
    now = timezone.now()
    # Through JSON once: what is stored is exactly what is sent (dates, decimals as strings).
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    for subscription_id in subscriptions:
        delivery = WebhookDelivery.objects.create(
            subscription_id=subscription_id,
            event_id=event_id,
            event_type=event_type,
            subject=subject,
            sequence=sequence,
            data=data,
            occurred_at=now,
        )
        _queue(delivery)


def publish_coalesced(event_type: str, *, subjects: Iterable[str]) -> None:
    """Tell subscribers that these subjects changed; their data is read when sent.

    A burst of changes is one event carrying the state at the time it goes out: a delivery not
    yet tried takes the change along. It is locked until the caller commits, so the sender, which
    locks it before reading the data, reads this change too. One that a sender holds (being sent
    now, with data read already) is skipped, not waited for: a new delivery follows it."""
    subscriptions = _subscriptions_for(event_type)
    if not subscriptions:
        return
    subjects = list(dict.fromkeys(subjects))
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        untried = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
            subscription_id__in=subscriptions,
            subject__in=chunk,
            coalesce=True,
            state=WebhookDeliveryState.PENDING,
            attempts=0,
        )
        waiting = set(untried.values_list("subscription_id", "subject"))
        fresh = [
            WebhookDelivery(
                subscription_id=subscription_id,
                event_id=new_event_id(),
                event_type=event_type,
                subject=subject,
                coalesce=True,
            )
            for subject in chunk
            for subscription_id in subscriptions
            if (subscription_id, subject) not in waiting
        ]
        for delivery in WebhookDelivery.objects.bulk_create(fresh):
            _queue(delivery)


# --- sending (the outbox handler) --------------------------------------------------------------


class DeliveryFailed(Exception):
    """The subscriber did not take the event; carries what the failure handler records."""

    def __init__(self, *, status_code: int | None, error: str, frozen: dict | None) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.frozen = frozen


class WaitingForEarlierEvent(Exception):
    """An earlier event about the same subject has not reached this subscriber yet."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer that is not 2xx: retried, never followed


_opener = urllib.request.build_opener(_NoRedirects)


def body_of(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.event_id,
        "type": delivery.event_type,
        "created_at": (delivery.occurred_at or delivery.created_at).isoformat(),
        "sequence": delivery.sequence,
        "data": delivery.data,
    }


def signed_headers(*, secret: str, event_id: str, body: str) -> dict[str, str]:
    now = datetime.now(tz=UTC)
    return {
        "Content-Type": "application/json",
        "User-Agent": "Omnis-Webhooks/1",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=event_id, timestamp=now, data=body),
    }


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=settings.OMNIS_WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(reason).__name__}: {reason}"[:500]


def _log_attempt(delivery: WebhookDelivery, *, status_code: int | None, error: str) -> None:
    delivery.attempts += 1
    delivery.last_status_code = status_code
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        status_code=status_code,
        error=error[:500],
        state=delivery.state,
        at=timezone.now(),
    )


def _wake_next(delivery: WebhookDelivery) -> None:
    """The next event about the same subject for this subscriber may go now."""
    following = (
        WebhookDelivery.objects.filter(
            subscription_id=delivery.subscription_id,
            subject=delivery.subject,
            state=WebhookDeliveryState.PENDING,
            pk__gt=delivery.pk,
        )
        .order_by("pk")
        .values_list("outbox_message_id", flat=True)
        .first()
    )
    if following is None:
        return
    woken = OutboxMessage.objects.filter(pk=following, status=OutboxStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )
    if woken:
        transaction.on_commit(lambda: _relay_woken(following))


_waking = threading.local()


def _relay_woken(message_id: int) -> None:
    # A loop, not recursion: each delivery wakes the next one of a possibly long line.
    if getattr(_waking, "line", None) is not None:
        _waking.line.append(message_id)
        return
    _waking.line = [message_id]
    try:
        while _waking.line:
            outbox.relay([_waking.line.pop(0)])
    finally:
        _waking.line = None


def _pending(delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("subscription")
        .filter(pk=delivery_id, state=WebhookDeliveryState.PENDING)
        .first()
    )


@outbox.handler(
    TOPIC,
    max_attempts=10_000,  # bounded by time: the 24 hours of give_up_after
    give_up_after=timedelta(hours=settings.OMNIS_WEBHOOK_RETRY_HOURS),
    on_failure=lambda *, error, dead, delivery_id: _record_failure(delivery_id, error, dead),
)
def send_delivery(delivery_id: int) -> None:
    """POST one pending delivery to its URL. Raises DeliveryFailed (retried by the outbox) when
    the subscriber does not answer 2xx in time, WaitingForEarlierEvent while an earlier event
    about the same subject is pending for the same subscriber."""
    delivery = _pending(delivery_id)
    if delivery is None:
        return  # delivered, dead, or replayed meanwhile under another message
    if delivery.subscription.deleted_at is not None:
        delivery.state = WebhookDeliveryState.DEAD
        delivery.save(update_fields=["state"])
        return
    if WebhookDelivery.objects.filter(
        subscription_id=delivery.subscription_id,
        subject=delivery.subject,
        state=WebhookDeliveryState.PENDING,
        pk__lt=delivery.pk,
    ).exists():
        raise WaitingForEarlierEvent(f"{delivery.subject}: an earlier event is pending")
    frozen = None
    if delivery.coalesce and delivery.sequence is None:
        data = _READERS[delivery.event_type](delivery.subject)
        if data is None:  # the object is gone: nothing left to tell
            delivery.state = WebhookDeliveryState.DEAD
            delivery.save(update_fields=["state"])
            return
        frozen = {
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
            "sequence": _next_sequence(delivery.subject),
            "occurred_at": timezone.now(),
        }
        for field, value in frozen.items():
            setattr(delivery, field, value)
    body = json.dumps(body_of(delivery), separators=(",", ":"))
    headers = signed_headers(
        secret=delivery.subscription.secret, event_id=delivery.event_id, body=body
    )
    status_code, error = _post(delivery.subscription.url, body, headers)
    if status_code is None or not 200 <= status_code < 300:
        raise DeliveryFailed(status_code=status_code, error=error, frozen=frozen)
    delivery.state = WebhookDeliveryState.DELIVERED
    delivery.delivered_at = timezone.now()
    _log_attempt(delivery, status_code=status_code, error="")
    delivery.save()
    _wake_next(delivery)


def _record_failure(delivery_id: int, error: Exception, dead: bool) -> None:
    """After the handler's writes rolled back: log the attempt, keep a coalesced event's data
    (retries send the same body), and mark the delivery dead once the outbox gives up."""
    delivery = _pending(delivery_id)
    if delivery is None:
        return
    if dead:
        delivery.state = WebhookDeliveryState.DEAD
    if isinstance(error, DeliveryFailed):
        if error.frozen:
            # Taken again: the sequence number given inside the handler was rolled back with it.
            error.frozen["sequence"] = _next_sequence(delivery.subject)
            for field, value in error.frozen.items():
                setattr(delivery, field, value)
        _log_attempt(delivery, status_code=error.status_code, error=error.error)
    elif not isinstance(error, WaitingForEarlierEvent):
        _log_attempt(delivery, status_code=None, error=f"{type(error).__name__}: {error}")
    delivery.save()
    if dead:
        _wake_next(delivery)


# --- subscriptions and replays (services) -----------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_subscription(url: str, events: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = ["Enter an http or https URL."]
    if not events:
        errors["events"] = ["Name at least one event type."]
    elif unknown := sorted(set(events) - set(EVENT_TYPES)):
        errors["events"] = [f"Unknown event type(s): {', '.join(unknown)}."]
    if errors:
        raise InvalidInput("Invalid webhook subscription.", errors=errors)


@transaction.atomic
def subscribe(*, client: ApiClient, url: str, events: list[str]) -> WebhookSubscription:
    """Subscribe the client's URL to these event types; the subscription's secret (returned on
    the subscription, to be shown once) signs every delivery. Raises InvalidInput for a URL that
    is not http(s) or for no or unknown event types."""
    _check_subscription(url, events)
    subscription = WebhookSubscription.objects.create(
        client=client, url=url, events=sorted(set(events)), secret=new_secret()
    )
    forget_subscribed_types()
    transaction.on_commit(forget_subscribed_types)
    return subscription


@transaction.atomic
def unsubscribe(*, subscription: WebhookSubscription) -> None:
    """Stop sending to this subscription; what is still pending for it is given up (dead)."""
    WebhookSubscription.objects.filter(pk=subscription.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    subscription.deliveries.filter(state=WebhookDeliveryState.PENDING).update(
        state=WebhookDeliveryState.DEAD
    )
    transaction.on_commit(forget_subscribed_types)


@transaction.atomic
def replay(*, delivery_ids: Iterable[int]) -> int:
    """Send delivered or dead deliveries again, under their event ids and with the same body;
    each gets another OMNIS_WEBHOOK_RETRY_HOURS of attempts. Returns how many were queued.
    Deliveries of removed subscriptions are left alone."""
    deliveries = list(
        WebhookDelivery.objects.select_for_update(of=("self",))
        .filter(
            pk__in=list(delivery_ids),
            state__in=[WebhookDeliveryState.DELIVERED, WebhookDeliveryState.DEAD],
            subscription__deleted_at__isnull=True,
        )
        # A coalesced event never tried has no body yet; a newer one carries the current state.
        .exclude(coalesce=True, sequence__isnull=True)
        .order_by("pk")
    )
    for delivery in deliveries:
        delivery.state = WebhookDeliveryState.PENDING
        delivery.save(update_fields=["state"])
        _queue(delivery)
    return len(deliveries)


# --- reads (selectors) -----------------------------------------------------------------------


def subscriptions_of(client: ApiClient):
    return WebhookSubscription.objects.filter(client=client, deleted_at__isnull=True).order_by(
        "-id"
    )


def attempts_of(subscription: WebhookSubscription):
    """Every attempt to send to this subscription, newest first."""
    return (
        WebhookAttempt.objects.filter(delivery__subscription=subscription)
        .select_related("delivery")
        .order_by("-at", "-id")
    )
