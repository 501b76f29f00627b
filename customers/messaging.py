"""Every message to a customer goes by the channel they chose: `send_to_customer`.

- `contact_channel` "email" → e-mail; "sms" and "phone" (staff call, automatic messages by SMS) →
  SMS. When the chosen channel has no address (no e-mail, no phone, or a landline that cannot take
  an SMS) the other one is used; "none" sends nothing at all (the customer sees orders,
  reservations and returns on /me/ and staff on the timeline).
- One template name per message: `emails/<name>.{subject.txt,txt,html}` for e-mail and
  `sms/<name>.txt` for SMS (one SMS: 160 GSM-7 characters, see `common.sms.fit_sms`).
- In the customer's language (`Customer.language`): the whole message, its dates (in the store's
  time zone) and amounts, is rendered inside `translation.override`.
- One key per message and channel: the e-mail is sent once under the message's key, the SMS once
  under `<key>:sms`.
- Quiet hours: a marketing SMS is not sent between OMNIS_SMS_QUIET_FROM and OMNIS_SMS_QUIET_UNTIL
  (20:00–09:00) in the store's local time (the customer's preferred store, else the message's
  store, else TIME_ZONE); the outbox message waits until then (`common.outbox.Later`).
  Transactional messages always go.
"""

import html
import logging
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, time, timedelta

import phonenumbers
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from common import outbox
from common.notifications import send_email_once
from common.sms import fit_sms, send_sms_once
from customers.models import ConsentPurpose, ContactChannel, Customer
from stores.models import Store

log = logging.getLogger(__name__)

EMAIL = "email"
SMS = "sms"
_SMS_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def can_receive_sms(phone: str | None) -> bool:
    """A mobile number (or one the numbering plan cannot tell from a landline, as in the US)."""
    if not phone:
        return False
    try:
        number = phonenumbers.parse(phone, settings.OMNIS_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _SMS_TYPES


def address(customer: Customer, channel: str) -> str:
    """Where a message by `channel` goes; "" when it cannot go that way."""
    if channel == EMAIL:
        return customer.email or ""
    return customer.phone if can_receive_sms(customer.phone) else ""


def channels(customer: Customer) -> list[str]:
    """The channels to try, preferred first, only those with an address; none for "none"."""
    if customer.contact_channel == ContactChannel.NONE:
        return []
    if customer.contact_channel in (ContactChannel.SMS, ContactChannel.PHONE):
        order = [SMS, EMAIL]
    else:
        order = [EMAIL, SMS]
    return [channel for channel in order if address(customer, channel)]


def marketing_channels(customer: Customer) -> list[str]:
    """The channels a marketing message may go by: usable ones with a marketing consent that
    counts for that channel, preferred first."""
    from customers.privacy.consents import has_consent

    return [c for c in channels(customer) if has_consent(customer, ConsentPurpose.MARKETING, c)]


def local_zone(customer: Customer, store: Store | None = None) -> zoneinfo.ZoneInfo:
    store = customer.preferred_store or store
    return store.zone if store is not None else zoneinfo.ZoneInfo(settings.TIME_ZONE)


def quiet_until(now: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """The end of the SMS quiet hours `now` falls in (local time of `zone`), or None."""
    start, end = settings.OMNIS_SMS_QUIET_FROM, settings.OMNIS_SMS_QUIET_UNTIL
    local = now.astimezone(zone)
    over_midnight = start > end  # 20–9
    quiet = (
        (local.hour >= start or local.hour < end) if over_midnight else start <= local.hour < end
    )
    if not quiet:
        return None
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=zone)


def render_sms(template: str, context: dict) -> str:
    """The SMS text of a message: `sms/<template>.txt`, one SMS long."""
    # The template engine escapes for HTML; a text message wants the characters themselves.
    return fit_sms(html.unescape(render_to_string(f"sms/{template}.txt", context)))


def send_to_customer(
    *,
    customer: Customer,
    template: str,
    key: str,
    context: dict,
    marketing: bool = False,
    store: Store | None = None,
    attachments: Iterable[tuple[str, bytes, str]] = (),
    now: datetime | None = None,
) -> bool:
    """Send one message by the customer's channel (`channels(customer)[0]`). Returns sent? (not
    when already sent under this key, without a usable address, or for "none").

    Call it from an outbox handler: a marketing SMS in quiet hours raises `outbox.Later` and the
    handler's message waits until they end. `store` is where the message is about (its local
    time counts when the customer has no preferred store); attachments go with the e-mail only.
    """
    usable = marketing_channels(customer) if marketing else channels(customer)
    if not usable:
        log.info(
            "message %s to customer %s not sent: contact channel %s, no usable address",
            key,
            customer.pk,
            customer.contact_channel,
        )
        return False
    channel = usable[0]
    context = {"customer": customer, **context}
    with translation.override(language_of(customer)):
        return _send(customer, channel, template, key, context, marketing, store, attachments, now)


def language_of(customer: Customer) -> str:
    """The customer's language, if the deployment still speaks it; else the default."""
    known = {code for code, _ in settings.LANGUAGES}
    return customer.language if customer.language in known else settings.LANGUAGE_CODE


def _send(customer, channel, template, key, context, marketing, store, attachments, now) -> bool:
    if channel == SMS:
        if marketing:
            until = quiet_until(now or timezone.now(), local_zone(customer, store))
            if until is not None:
                raise outbox.Later(until, "SMS quiet hours")
        sent = send_sms_once(
            key=f"{key}:sms",
            to=address(customer, SMS),
            text=render_sms(template, context),
            template=template,
        )
    else:
        sent = send_email_once(
            key=key,
            to=address(customer, EMAIL),
            template=template,
            context=context,
            attachments=attachments,
        )
    return sent


def sms_channel_errors(customer: Customer) -> dict[str, list[str]]:
    """SMS chosen for a phone number that cannot take one: the field error for the profile."""
    if (
        customer.contact_channel == ContactChannel.SMS
        and customer.phone
        and not can_receive_sms(customer.phone)
    ):
        return {
            "contact_channel": [
                f"{customer.phone} is a landline and cannot receive SMS; "
                "give a mobile number or choose another channel."
            ]
        }
    return {}
