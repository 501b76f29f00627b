"""Customer messages carried out by the outbox (each idempotent by its key)."""

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from common import outbox
from common.models import hash_key
from common.notifications import send_email_once
from common.sms import send_sms_once
from customers.messaging import language_of, local_zone
from customers.models import Consent, ContactChange, ContactField


@outbox.handler("customers.send_contact_code")
def send_contact_code(change_id: int, code: str) -> bool:
    """The confirmation code goes to the new address itself: only its owner can confirm it."""
    change = ContactChange.objects.select_related("customer").filter(pk=change_id).first()
    if change is None or change.confirmed_at or change.void_at:
        return False
    key = f"contact-change:{change.pk}"
    with translation.override(language_of(change.customer)):
        if change.field == ContactField.PHONE:
            text = _("Omnis: your confirmation code is %(code)s.") % {"code": code}
            return send_sms_once(key=key, to=change.value, text=text)
        return send_email_once(
            key=key,
            to=change.value,
            template="contact_code",
            context={
                "customer": change.customer,
                "code": code,
                "expires_at": change.expires_at,
                "zone": local_zone(change.customer),
            },
        )


@outbox.handler("customers.send_consent_confirmation")
def send_consent_confirmation(consent_id: int, token: str) -> bool:
    """The double opt-in link goes to the address the consent is for; only its owner can open it."""
    consent = Consent.objects.select_related("customer").filter(pk=consent_id).first()
    if consent is None or consent.confirmed_at or consent.withdrawn_at:
        return False
    if consent.confirmation_token_hash != hash_key(token):
        return False  # a newer link was sent meanwhile
    url = settings.OMNIS_PUBLIC_URL + reverse("consent-confirm", kwargs={"token": token})
    with translation.override(language_of(consent.customer)):
        return send_email_once(
            key=f"consent-confirmation:{consent.pk}:{consent.confirmation_token_hash[:16]}",
            to=consent.confirmation_sent_to,
            template="consent_confirmation",
            context={
                "customer": consent.customer,
                "purpose": consent.get_purpose_display(),
                "url": url,
                "expires_at": consent.confirmation_expires_at,
                "zone": local_zone(consent.customer),
            },
        )
