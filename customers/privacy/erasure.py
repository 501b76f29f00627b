"""Erasure (GDPR Art. 17): a customer's personal data is anonymised, the business record stays.

Orders, returns, refunds and the store credit ledger are kept for the 10-year accounting
retention, still pointing at the (now nameless) customer row. Everything else that says who the
person is goes: name, e-mail, phone, postcode, preferences, notes' text, the list, the timeline,
pending contact changes, duplicate flags, consent links, the login.

Each table with a foreign key to Customer has a policy here: the app that owns the table
registers what to do with a customer's rows (`register`), or that they are kept as they are
(`keep`). A table without a policy stops erasure (and the test that checks every relation),
so a new table cannot quietly keep personal data.
"""

import json
from collections.abc import Callable

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from common.actor import Actor
from common.history import name_actor
from common.models import IdempotencyKey, LoginEvent, SentNotification, UserToken
from customers.exceptions import AlreadyErased, CustomerConflict
from customers.models import (
    Consent,
    ContactChange,
    ContactChannel,
    Customer,
    DiscountCode,
    Nudge,
    PossibleDuplicate,
    ServiceNote,
    StoreCreditEntry,
    TimelineEvent,
    TimelineKind,
    WishlistItem,
)

ERASED_TEXT = "[erased]"

# label_lower → function(customer, actor) that anonymises the customer's rows, or None: keep.
_POLICIES: dict[str, Callable[..., None] | None] = {}


def register(label: str) -> Callable:
    """Decorator: `function(*, customer, actor)` anonymises this table's rows of the customer."""

    def decorate(function: Callable) -> Callable:
        _POLICIES[label] = function
        return function

    return decorate


def keep(*labels: str) -> None:
    """These tables hold no personal text beyond the link to the customer: kept as they are."""
    for label in labels:
        _POLICIES.setdefault(label, None)


def policies() -> dict[str, Callable[..., None] | None]:
    return dict(_POLICIES)


def erase_customer(*, actor: Actor, customer: Customer) -> Customer:
    """Anonymise the customer's personal data; orders, returns, refunds and the ledger stay.

    Afterwards the customer cannot be found by e-mail, phone or name, the login (if any) is
    deactivated and its tokens revoked, and the timeline holds only the erasure (who and when).
    Raises AlreadyErased (409) when it was erased before (nothing changes), CustomerConflict
    for a merged alias (erase the surviving record: it erases the aliases too).
    """
    from customers.privacy.export import customer_relations
    from customers.services import lock_customer, record_timeline_event

    with transaction.atomic():
        lock_customer(customer)
        customer = Customer.objects.select_related("user").get(pk=customer.pk)
        if customer.erased_at:
            raise AlreadyErased("This customer's personal data was erased already.")
        if customer.merged_into_id:
            raise CustomerConflict(
                "This record was merged into another: erase the surviving customer.",
                code="already_merged",
            )
        missing = sorted(
            {r.related_model._meta.label_lower for r in customer_relations()} - set(_POLICIES)
        )
        if missing:
            raise RuntimeError(f"No erasure policy for {', '.join(missing)}.")

        people = [customer, *Customer.objects.filter(merged_into=customer).select_related("user")]
        addresses = _addresses(people)
        logins = [person.user for person in people if person.user_id]
        _forget_elsewhere(people, addresses, logins)
        now = timezone.now()
        for person in people:
            for policy in _POLICIES.values():
                if policy is not None:
                    policy(customer=person, actor=actor)
            _close_login(person, now=now)
            _anonymise(person, now=now)
            # The change history (emptied by its policy) keeps one row: the erasure, and who.
            name_actor(person, actor).save(update_fields=["updated_at"])
        record_timeline_event(
            customer=customer,
            kind=TimelineKind.DATA_ERASED,
            channel=actor.channel,
            summary=f"Personal data erased by {actor.label}",
            actor=actor,
        )
    return customer


def _addresses(people: list[Customer]) -> set[str]:
    found: set[str] = set()
    for person in people:
        found.update(a for a in (person.email, person.phone) if a)
        found.update(ContactChange.objects.filter(customer=person).values_list("value", flat=True))
        for email, phone in PossibleDuplicate.objects.filter(customer=person).values_list(
            "email", "phone"
        ):
            found.update(a for a in (email, phone) if a)
        found.update(
            Consent.objects.filter(customer=person)
            .exclude(confirmation_sent_to="")
            .values_list("confirmation_sent_to", flat=True)
        )
        if person.user_id and person.user.email:
            found.add(person.user.email)
    return found


def _anonymise(person: Customer, *, now) -> None:
    Customer.objects.filter(pk=person.pk).update(
        first_name="",
        last_name="",
        email=None,
        phone=None,
        postcode="",
        sizes={},
        favourite_categories=[],
        preferred_store=None,
        contact_channel=ContactChannel.NONE,
        marketing_consent=False,
        marketing_consent_at=None,
        marketing_consent_source="",
        erased_at=now,
        updated_at=now,
    )
    person.refresh_from_db()


def _close_login(person: Customer, *, now) -> None:
    if not person.user_id:
        return
    user = person.user
    UserToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    user.username = f"erased-{person.pk}-{user.pk}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    # The row stays (deactivated) so that links to it keep pointing somewhere.
    user.save()


def _forget_elsewhere(people: list[Customer], addresses: set[str], logins: list) -> None:
    """Outside the customer's own rows the person shows up in the record of sent messages, in
    stored answers to idempotent requests (kept for OMNIS_IDEMPOTENCY_TTL), in the login
    throttle's attempts, in login events and in the admin's change log."""
    names = {
        value
        for person in people
        for value in (person.first_name, person.last_name, person.full_name, person.postcode)
        if value and len(value) >= 3
    }
    if addresses:
        SentNotification.objects.filter(recipient__in=addresses).update(recipient=ERASED_TEXT)
    mentions = Q(principal__in=[f"user:{login.pk}" for login in logins])
    for person in people:
        mentions |= Q(path__startswith=f"/api/v1/customers/{person.pk}/")
        for end in (",", "}"):
            mentions |= Q(body__contains=f'"customer": {person.pk}{end}')
    for needle in addresses | names:
        # SQLite keeps JSON with non-ASCII characters escaped; PostgreSQL keeps them as they are.
        for form in {needle, json.dumps(needle)[1:-1]}:
            mentions |= Q(body__icontains=form)
    # Answered requests only: the erasure's own request row is still waiting for its answer.
    IdempotencyKey.objects.filter(response_status__isnull=False).annotate(
        body=Cast("response_body", TextField())
    ).filter(mentions).delete()
    usernames = addresses | {login.get_username() for login in logins}
    throttle_models = apps.get_app_config("axes").get_models() if apps.is_installed("axes") else ()
    for model in throttle_models:
        if any(field.name == "username" for field in model._meta.concrete_fields):
            model._base_manager.filter(username__in=usernames).delete()
    # Login events stay as the security trail, without who typed what from where.
    LoginEvent.objects.filter(Q(user__in=logins) | Q(username__in=usernames)).update(
        username="", ip=None, user_agent=""
    )
    customer_type = ContentType.objects.get_for_model(Customer)
    for person in people:
        LogEntry.objects.filter(content_type=customer_type, object_id=str(person.pk)).update(
            object_repr=f"Customer {person.pk}", change_message=""
        )


# --- the customers app's own tables ------------------------------------------------------------


@register("customers.timelineevent")
def _erase_timeline(*, customer: Customer, actor: Actor) -> None:
    # Views, notes, messages: the history says who the person is. The erasure entry is added last.
    TimelineEvent.objects.filter(customer=customer).delete()


@register("customers.servicenote")
def _erase_notes(*, customer: Customer, actor: Actor) -> None:
    ServiceNote.objects.filter(customer=customer).update(text=ERASED_TEXT)


@register("customers.wishlistitem")
def _erase_wishlist(*, customer: Customer, actor: Actor) -> None:
    WishlistItem.objects.filter(customer=customer).delete()


@register("customers.nudge")
def _erase_nudges(*, customer: Customer, actor: Actor) -> None:
    # What the customer looked at and was told about: behaviour, not accounting.
    Nudge.objects.filter(customer=customer).delete()


@register("customers.contactchange")
def _erase_contact_changes(*, customer: Customer, actor: Actor) -> None:
    ContactChange.objects.filter(customer=customer).delete()


@register("customers.possibleduplicate")
def _erase_duplicate_flags(*, customer: Customer, actor: Actor) -> None:
    PossibleDuplicate.objects.filter(customer=customer).delete()


@register("customers.consent")
def _erase_consents(*, customer: Customer, actor: Actor) -> None:
    # When consents were given and withdrawn stays as proof; the links and addresses go.
    Consent.objects.filter(customer=customer, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now(), withdrawn_source=actor.channel
    )
    Consent.objects.filter(customer=customer).update(
        confirmation_token_hash="", confirmation_sent_to=""
    )


@register(Customer.history.model._meta.label_lower)
def _erase_change_history(*, customer: Customer, actor: Actor) -> None:
    # Every earlier version of the row repeats the personal data.
    Customer.history.filter(id=customer.pk).delete()


@register("customers.customer")
def _erase_aliases(*, customer: Customer, actor: Actor) -> None:
    pass  # merged aliases are erased with their survivor (erase_customer walks them)


keep(
    StoreCreditEntry._meta.label_lower,  # the ledger: amounts and causes only
    DiscountCode._meta.label_lower,  # codes, values and uses: part of the orders they discounted
)
