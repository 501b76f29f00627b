"""Customer messages carried out by the outbox (each idempotent by its key)."""

from common import outbox
from common.notifications import send_email_once
from common.sms import send_sms_once
from customers.models import ContactChange, ContactField


@outbox.handler("customers.send_contact_code")
def send_contact_code(change_id: int, code: str) -> bool:
    """The confirmation code goes to the new address itself: only its owner can confirm it."""
    change = ContactChange.objects.select_related("customer").filter(pk=change_id).first()
    if change is None or change.confirmed_at or change.void_at:
        return False
    key = f"contact-change:{change.pk}"
    if change.field == ContactField.PHONE:
        return send_sms_once(
            key=key, to=change.value, text=f"Omnis: your confirmation code is {code}."
        )
    return send_email_once(
        key=key,
        to=change.value,
        template="contact_code",
        context={"customer": change.customer, "code": code, "expires_at": change.expires_at},
    )
