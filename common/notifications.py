"""E-mail that leaves at most once per key, rendered from templates/emails/<name>.{subject.txt,txt,html}."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from common.models import SentNotification

log = logging.getLogger(__name__)


def send_email_once(*, key: str, to: str, template: str, context: dict, attachments=()) -> bool:
    """Send the templated e-mail unless a message with this key was already sent. Returns sent?

    The row lock makes a duplicate task wait and then see `sent_at`, so a message goes out once even
    when the same task runs twice at the same time.
    """
    if not to:
        log.info("notification %s skipped: no e-mail address", key)
        return False
    with transaction.atomic():
        SentNotification.objects.get_or_create(
            key=key, defaults={"template": template, "recipient": to}
        )
        record = SentNotification.objects.select_for_update().get(key=key)
        if record.sent_at is not None:
            return False
        subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
        message.attach_alternative(html, "text/html")
        for name, content, mimetype in attachments:
            message.attach(name, content, mimetype)
        message.send()
        record.sent_at = timezone.now()
        record.save(update_fields=["sent_at"])
    return True
