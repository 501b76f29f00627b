"""Consents: given, confirmed and withdrawn per purpose and channel.

A consent for advertising by e-mail (models.DOUBLE_OPT_IN) counts only after the link sent to the
address was opened. `Customer.marketing_consent` is kept as the answer to "may we send marketing
e-mail?" (the confirmed consent), so readers of that flag see the same as `has_consent`.
"""

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.models import hash_key
from customers.exceptions import ConsentTokenExpired, ConsentTokenUnknown, InvalidCustomerData
from customers.models import (
    Consent,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    TimelineKind,
)

CONFIRM_TOPIC = "customers.send_consent_confirmation"


# --- reads -------------------------------------------------------------------------------------


def current_consents(customer: Customer) -> list[Consent]:
    """The consents not withdrawn, confirmed or waiting for confirmation (prefetched if it can)."""
    cached = getattr(customer, "open_consents", None)
    if cached is not None:
        return cached
    return list(customer.consents.filter(withdrawn_at__isnull=True).order_by("purpose", "channel"))


def has_consent(customer: Customer, purpose: str, channel: str) -> bool:
    """May we contact this customer for `purpose` by `channel`? Only a consent that counts."""
    return any(
        c.purpose == purpose and c.channel == channel and c.counts
        for c in current_consents(customer)
    )


# --- writes ------------------------------------------------------------------------------------


def update_consents(*, actor: Actor, customer: Customer, changes: Iterable[dict]) -> Customer:
    """Give (`given: true`) or withdraw (`given: false`) consents: [{purpose, channel, given}].

    Giving one that needs double opt-in sends the confirmation link; it counts once confirmed.
    Raises InvalidCustomerData for an unknown purpose or channel, or a channel the customer has no
    address for. Runs in the caller's transaction (or its own).
    """
    from customers.services import lock_customer, record_timeline_event

    changes = list(changes)
    errors = []
    for change in changes:
        if change.get("purpose") not in ConsentPurpose.values:
            errors.append(f"Unknown purpose '{change.get('purpose')}'.")
        elif change.get("channel") not in ConsentChannel.values:
            errors.append(f"Unknown channel '{change.get('channel')}'.")
        elif change.get("given", True):
            if change["channel"] == ConsentChannel.EMAIL and not customer.email:
                errors.append("Consent by e-mail needs an e-mail address.")
            if change["channel"] != ConsentChannel.EMAIL and not customer.phone:
                errors.append(f"Consent by {change['channel']} needs a phone number.")
    if errors:
        raise InvalidCustomerData("Invalid consents.", errors={"consents": errors})
    with transaction.atomic():
        # One writer per customer: the open-consent constraint is never raced into an error.
        lock_customer(customer)
        now = timezone.now()
        for change in changes:
            purpose, channel = change["purpose"], change["channel"]
            open_consent = (
                Consent.objects.select_for_update()
                .filter(customer=customer, purpose=purpose, channel=channel)
                .filter(withdrawn_at__isnull=True)
                .first()
            )
            if change.get("given", True):
                if open_consent is None:
                    open_consent = Consent.objects.create(
                        customer=customer,
                        purpose=purpose,
                        channel=channel,
                        source=actor.channel,
                        given_at=now,
                    )
                    summary = f"Consent given: {purpose} by {channel}"
                elif open_consent.counts or (
                    open_consent.confirmation_expires_at
                    and open_consent.confirmation_expires_at > now
                ):
                    continue  # already given, or its link is still valid
                else:
                    summary = f"Consent confirmation sent again: {purpose} by {channel}"
                if open_consent.needs_confirmation:
                    _send_confirmation(open_consent, to=customer.email, now=now)
                    summary += " (waiting for the confirmation link)"
            else:
                if open_consent is None:
                    continue
                open_consent.withdrawn_at = now
                open_consent.withdrawn_source = actor.channel
                open_consent.confirmation_token_hash = ""
                open_consent.save(
                    update_fields=[
                        "withdrawn_at",
                        "withdrawn_source",
                        "confirmation_token_hash",
                        "updated_at",
                    ]
                )
                summary = f"Consent withdrawn: {purpose} by {channel}"
            record_timeline_event(
                customer=customer,
                kind=TimelineKind.CONSENT,
                channel=actor.channel,
                summary=summary,
                actor=actor,
                subject_type="consent",
                subject_id=open_consent.pk,
            )
        _sync_marketing_flag(customer)
    return customer


def _send_confirmation(consent: Consent, *, to: str, now) -> None:
    token = secrets.token_urlsafe(32)
    consent.confirmation_token_hash = hash_key(token)
    consent.confirmation_expires_at = now + settings.OMNIS_CONSENT_CONFIRM_TTL
    consent.confirmation_sent_to = to
    consent.save(
        update_fields=[
            "confirmation_token_hash",
            "confirmation_expires_at",
            "confirmation_sent_to",
            "updated_at",
        ]
    )
    outbox.enqueue(CONFIRM_TOPIC, {"consent_id": consent.pk, "token": token})


def confirm_consent(*, token: str) -> Consent:
    """The link in the confirmation e-mail was opened: from now on the consent counts.

    Opening it again changes nothing. Raises ConsentTokenUnknown (404) for a token that matches
    no open consent, ConsentTokenExpired (400) for one past its time.
    """
    from customers.services import record_timeline_event

    digest = hash_key(str(token).strip())
    with transaction.atomic():
        consent = (
            Consent.objects.select_for_update()
            .select_related("customer")
            .filter(confirmation_token_hash=digest, withdrawn_at__isnull=True)
            .first()
        )
        if consent is None or consent.customer.erased_at:
            raise ConsentTokenUnknown("This confirmation link is not known (or was withdrawn).")
        if consent.confirmed_at:
            return consent
        now = timezone.now()
        if consent.confirmation_expires_at is None or consent.confirmation_expires_at <= now:
            raise ConsentTokenExpired(
                "This confirmation link has expired; give the consent again for a new one.",
                errors={"token": ["Expired."]},
            )
        consent.confirmed_at = now
        consent.save(update_fields=["confirmed_at", "updated_at"])
        record_timeline_event(
            customer=consent.customer,
            kind=TimelineKind.CONSENT,
            channel=consent.source,
            summary=f"Consent confirmed: {consent.purpose} by {consent.channel}",
            subject_type="consent",
            subject_id=consent.pk,
        )
        _sync_marketing_flag(consent.customer)
    return consent


def _sync_marketing_flag(customer: Customer) -> None:
    consent = (
        Consent.objects.filter(
            customer=customer,
            purpose=ConsentPurpose.MARKETING,
            channel=ConsentChannel.EMAIL,
            withdrawn_at__isnull=True,
            confirmed_at__isnull=False,
        )
        .order_by("-confirmed_at")
        .first()
    )
    flag = consent is not None
    if customer.marketing_consent == flag and (not flag or customer.marketing_consent_at):
        return
    now = timezone.now()
    customer.marketing_consent = flag
    customer.marketing_consent_at = consent.confirmed_at if consent else now
    customer.marketing_consent_source = consent.source if consent else ""
    Customer.objects.filter(pk=customer.pk).update(
        marketing_consent=customer.marketing_consent,
        marketing_consent_at=customer.marketing_consent_at,
        marketing_consent_source=customer.marketing_consent_source,
        updated_at=now,
    )
    if hasattr(customer, "open_consents"):
        del customer.open_consents


def record_confirmed_consent(
    *, customer: Customer, purpose: str, channel: str, source: str, given_at, confirmed_at
) -> Consent:
    """A consent that was given and confirmed before it reached us (an import, the demo data).
    An open consent for the same purpose and channel is left as it is."""
    with transaction.atomic():
        consent = Consent.objects.filter(
            customer=customer, purpose=purpose, channel=channel, withdrawn_at__isnull=True
        ).first() or Consent.objects.create(
            customer=customer,
            purpose=purpose,
            channel=channel,
            source=source,
            given_at=given_at,
            confirmed_at=confirmed_at,
        )
        _sync_marketing_flag(customer)
    return consent
