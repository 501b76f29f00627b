"""Text messages through a backend chosen in settings, as Django does for e-mail.

`SMS_BACKEND` names a class with `send(to, text)`: `common.sms.ConsoleBackend` (the default:
printed, for development), `common.sms.LocmemBackend` (tests read `common.sms.outbox`). A
provider's backend is one more such class.
"""

import logging
import sys

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from common.models import SentNotification

log = logging.getLogger(__name__)

outbox: list[dict] = []  # what LocmemBackend "sent"


class ConsoleBackend:
    def send(self, to: str, text: str) -> None:
        sys.stdout.write(f"SMS to {to}: {text}\n")


class LocmemBackend:
    def send(self, to: str, text: str) -> None:
        outbox.append({"to": to, "text": text})


def backend():
    return import_string(getattr(settings, "SMS_BACKEND", "common.sms.ConsoleBackend"))()


def send_sms_once(*, key: str, to: str, text: str) -> bool:
    """Send the text unless a message with this key was already sent. Returns sent?"""
    if not to:
        log.info("sms %s skipped: no phone number", key)
        return False
    with transaction.atomic():
        SentNotification.objects.get_or_create(
            key=key, defaults={"template": "sms", "recipient": to}
        )
        record = SentNotification.objects.select_for_update().get(key=key)
        if record.sent_at is not None:
            return False
        backend().send(to, text)
        record.sent_at = timezone.now()
        record.save(update_fields=["sent_at"])
    return True
