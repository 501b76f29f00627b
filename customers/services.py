"""Writes about customers: identity, notes, touchpoints, wishlist, store credit, and the timeline.

Every other app records what happened with a customer through `record_timeline_event`.
"""

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from common import outbox
from common.actor import Actor
from common.history import name_actor
from common.models import Channel, hash_key
from common.retry import retry_when_busy
from customers.exceptions import AlreadyErased, CustomerConflict, InvalidCustomerData
from customers.messaging import sms_channel_errors
from customers.models import (
    ContactChange,
    ContactChannel,
    ContactField,
    Customer,
    PossibleDuplicate,
    ServiceNote,
    StoreCreditEntry,
    TimelineEvent,
    TimelineKind,
    WishlistItem,
)
from customers.normalise import normalise_email, normalise_phone
from customers.privacy.consents import update_consents
from inventory.models import Variant
from stores.models import Store


def record_timeline_event(
    *,
    customer: Customer,
    kind: str,
    channel: str,
    summary: str,
    actor: Actor | None = None,
    store: Store | None = None,
    sku: str = "",
    subject_type: str = "",
    subject_id: Any = "",
    data: dict | None = None,
    at: datetime | None = None,
    campaign: str = "",
) -> TimelineEvent:
    """Append one entry to the customer's timeline (called inside the caller's transaction)."""
    event = timeline_entry(
        customer=customer,
        kind=kind,
        channel=channel,
        summary=summary,
        actor=actor,
        store=store,
        sku=sku,
        subject_type=subject_type,
        subject_id=subject_id,
        data=data,
        at=at,
        campaign=campaign,
    )
    event.save(force_insert=True)
    return event


def timeline_entry(
    *,
    customer: Customer,
    kind: str,
    channel: str,
    summary: str,
    actor: Actor | None = None,
    store: Store | None = None,
    sku: str = "",
    subject_type: str = "",
    subject_id: Any = "",
    data: dict | None = None,
    at: datetime | None = None,
    campaign: str = "",
) -> TimelineEvent:
    """The unsaved timeline entry, for a service that writes it together with its other rows
    (common.rows.insert_rows) in its transaction."""
    actor = actor or Actor.system()
    return TimelineEvent(
        customer=customer,
        kind=kind,
        channel=channel,
        summary=summary[:500],
        store=store,
        sku=sku,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id != "" else "",
        data=data or {},
        campaign=campaign[:50],
        at=at or timezone.now(),
        actor_user=actor.user if getattr(actor.user, "pk", None) else None,
        actor_client=actor.client,
    )


def _clean(customer: Customer) -> None:
    """The model's own checks (lengths, choices), refused field by field like any bad input."""
    try:
        customer.full_clean()
    except ValidationError as exc:
        raise InvalidCustomerData("Invalid customer data.", errors=exc.message_dict) from exc


def _normalised_identity(email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    errors: dict[str, list[str]] = {}
    try:
        email = normalise_email(email)
    except ValidationError as exc:
        errors["email"] = exc.messages
    try:
        phone = normalise_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    if not errors and not email and not phone:
        errors["email"] = ["An e-mail address or a phone number is needed."]
    if errors:
        raise InvalidCustomerData("Invalid customer data.", errors=errors)
    return email, phone


def find_or_create_customer(
    *,
    actor: Actor,
    email: str | None = None,
    phone: str | None = None,
    first_name: str = "",
    last_name: str = "",
    channel: str | None = None,
    **preferences: Any,
) -> tuple[Customer, bool]:
    """The same person (same normalised e-mail or phone) is the same customer, whatever the channel.

    Returns (customer, created). Unverified input never writes an identifier onto a known
    customer: a match on one identifier leaves the other as it is (only a missing name is filled
    in), and one that contradicts it (another e-mail or phone) is flagged as a possible duplicate
    for the service desk. An e-mail of one customer and a phone of another is a conflict (409) for
    a person to resolve by merging.
    """
    email, phone = _normalised_identity(email, phone)
    channel = channel or actor.channel
    for attempt in range(2):
        try:
            with transaction.atomic():
                # A merged record keeps its contact data as an alias: it leads to the survivor.
                found = (
                    Customer.objects.select_for_update(of=("self",))
                    .filter(
                        (Q(email=email) if email else Q(pk__in=[]))
                        | (Q(phone=phone) if phone else Q(pk__in=[]))
                    )
                    .order_by("pk")
                )
                matches = sorted(
                    {
                        c.merged_into if c.merged_into_id else c
                        for c in found.select_related("merged_into")
                    },
                    key=lambda c: c.pk,
                )
                if len(matches) > 1:
                    raise CustomerConflict(
                        "The e-mail address and the phone number belong to two different customers.",
                        code="customer_conflict",
                        extra={"customers": [c.pk for c in matches]},
                    )
                if matches:
                    customer = matches[0]
                    changed = []
                    for field, value in (("first_name", first_name), ("last_name", last_name)):
                        if value and not getattr(customer, field):
                            setattr(customer, field, value)
                            changed.append(field)
                    if changed:
                        name_actor(customer, actor)
                        customer.save(update_fields=[*changed, "updated_at"])
                    if (email and customer.email and email != customer.email) or (
                        phone and customer.phone and phone != customer.phone
                    ):
                        _flag_possible_duplicate(
                            actor=actor,
                            customer=customer,
                            channel=channel,
                            email=email,
                            phone=phone,
                            first_name=first_name,
                            last_name=last_name,
                        )
                    return customer, False
                consents = _consent_changes(preferences)
                customer = Customer(
                    email=email,
                    phone=phone,
                    first_name=first_name,
                    last_name=last_name,
                    source_channel=channel,
                    created_by_client=actor.client,
                    **preferences,
                )
                _clean(customer)
                errors = sms_channel_errors(customer)
                if errors:
                    raise InvalidCustomerData(
                        "This phone number cannot receive SMS.", errors=errors
                    )
                name_actor(customer, actor).save()
                record_timeline_event(
                    customer=customer,
                    kind=TimelineKind.PROFILE_CHANGED,
                    channel=channel,
                    summary="Customer record created",
                    actor=actor,
                )
                if consents:
                    update_consents(actor=actor, customer=customer, changes=consents)
                return customer, True
        except IntegrityError:
            # A concurrent request created the same person first: look again.
            if attempt:
                raise
    raise AssertionError("unreachable")


# When a touchpoint may have happened: this shop's era, up to a client clock a little ahead.
EARLIEST_TOUCHPOINT = datetime(2000, 1, 1, tzinfo=UTC)
TOUCHPOINT_CLOCK_SKEW = timedelta(days=1)

PROFILE_FIELDS = {
    "first_name",
    "last_name",
    "email",
    "phone",
    "preferred_store",
    "postcode",
    "sizes",
    "favourite_categories",
    "contact_channel",
    "language",
    "marketing_consent",
    "consents",
}


def _consent_changes(changes: dict) -> list[dict]:
    """`consents` as given, and the older `marketing_consent` flag as marketing by e-mail."""
    consents = list(changes.pop("consents", None) or [])
    if "marketing_consent" in changes:
        consents.append(
            {"purpose": "marketing", "channel": "email", "given": changes.pop("marketing_consent")}
        )
    return consents


@transaction.atomic
def update_customer_profile(*, actor: Actor, customer: Customer, **changes: Any) -> Customer:
    """Change contact data and preferences; consent changes record when and where they were given."""
    if customer.erased_at:
        raise AlreadyErased("This customer's personal data was erased.")
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise InvalidCustomerData(
            "Unknown fields.", errors={f: ["Cannot be changed here."] for f in sorted(unknown)}
        )
    if customer.user_id is not None:
        # A login's identifiers change only with the code sent to the new address.
        for field in (ContactField.EMAIL, ContactField.PHONE):
            if field in changes:
                _request_contact_change(
                    actor=actor, customer=customer, field=field, value=changes.pop(field)
                )
        if not changes:
            return customer
    if "email" in changes or "phone" in changes:
        email, phone = _normalised_identity(
            changes.get("email", customer.email), changes.get("phone", customer.phone)
        )
        changes["email"], changes["phone"] = email, phone
        clash = Customer.objects.exclude(pk=customer.pk).filter(
            (Q(email=email) if email else Q(pk__in=[]))
            | (Q(phone=phone) if phone else Q(pk__in=[]))
        )
        if clash.exists():
            raise CustomerConflict(
                "Another customer already has this e-mail address or phone number."
            )
    consents = _consent_changes(changes)
    if changes:
        for field, value in changes.items():
            setattr(customer, field, value)
        if "contact_channel" in changes or "phone" in changes:
            errors = sms_channel_errors(customer)
            if errors:
                raise InvalidCustomerData("This phone number cannot receive SMS.", errors=errors)
        _clean(customer)
        name_actor(customer, actor).save()
        record_timeline_event(
            customer=customer,
            kind=TimelineKind.PROFILE_CHANGED,
            channel=actor.channel,
            summary="Profile changed: " + ", ".join(sorted(changes)),
            actor=actor,
        )
    if consents:
        # After the contact data: a consent by e-mail goes to the address just given.
        update_consents(actor=actor, customer=customer, changes=consents)
    return customer


@transaction.atomic
def add_service_note(
    *,
    actor: Actor,
    customer: Customer,
    text: str,
    channel: str | None = None,
    store: Store | None = None,
) -> ServiceNote:
    """A note every channel sees on the customer's timeline ("agreed full refund")."""
    text = (text or "").strip()
    if not text:
        raise InvalidCustomerData("Invalid note.", errors={"text": ["A note needs some text."]})
    channel = channel or actor.channel
    note = ServiceNote.objects.create(
        customer=customer,
        text=text,
        channel=channel,
        store=store,
        author_user=actor.user if getattr(actor.user, "pk", None) else None,
        author_client=actor.client,
    )
    record_timeline_event(
        customer=customer,
        kind=TimelineKind.NOTE,
        channel=channel,
        summary=text,
        actor=actor,
        store=store,
        subject_type="note",
        subject_id=note.pk,
        data={"author": actor.label},
    )
    return note


@transaction.atomic
def record_touchpoint(
    *,
    actor: Actor,
    customer: Customer,
    kind: str,
    channel: str | None = None,
    sku: str = "",
    at: datetime | None = None,
    store: Store | None = None,
    data: dict | None = None,
    campaign: str = "",
) -> TimelineEvent:
    """A web or app event (a product view, a newsletter click) on the customer's timeline.

    `campaign` tags where the visit came from (a QR poster in a store), so that the campaign can
    be followed to the sale (orders.selectors.campaigns.campaign_funnel).
    """
    allowed = {TimelineKind.PRODUCT_VIEW, TimelineKind.TOUCHPOINT, TimelineKind.SIZE_FILTER}
    if kind not in allowed:
        raise InvalidCustomerData(
            "Invalid touchpoint.", errors={"kind": [f"Use one of: {', '.join(sorted(allowed))}."]}
        )
    if at is not None and not (EARLIEST_TOUCHPOINT <= at <= timezone.now() + TOUCHPOINT_CLOCK_SKEW):
        raise InvalidCustomerData(
            "Invalid touchpoint.", errors={"at": ["A time from 2000 up to now."]}
        )
    summary = "Touchpoint"
    if kind == TimelineKind.SIZE_FILTER:
        # The webshop's size filter teaches us a size: {"category": "shirts", "size": "M"}.
        data = data or {}
        missing = [
            key
            for key in ("category", "size")
            if not isinstance(data.get(key), str) or not data[key].strip()
        ]
        if missing:
            raise InvalidCustomerData(
                "Invalid touchpoint.",
                errors={"data": [f"A size filter needs {' and '.join(missing)} in data."]},
            )
        summary = f"Filtered {data['category']} by size {data['size']}"
    if sku:
        variant = Variant.objects.select_related("product").filter(sku=sku).first()
        if variant is None:
            raise InvalidCustomerData(
                "Invalid touchpoint.", errors={"sku": [f"Unknown SKU '{sku}'."]}
            )
        summary = (
            f"Viewed {variant.label} ({sku})"
            if kind == TimelineKind.PRODUCT_VIEW
            else f"{kind}: {sku}"
        )
    return record_timeline_event(
        customer=customer,
        kind=kind,
        channel=channel or actor.channel,
        summary=summary,
        actor=actor,
        sku=sku,
        at=at,
        store=store,
        data=data,
        campaign=(campaign or "").strip(),
    )


@transaction.atomic
def add_to_wishlist(
    *,
    actor: Actor,
    customer: Customer,
    variant: Variant,
    note: str = "",
    store: Store | None = None,
) -> WishlistItem:
    """Add an item to the customer's one list; adding it again updates the note."""
    item, created = WishlistItem.objects.get_or_create(
        customer=customer,
        variant=variant,
        defaults={
            "note": note,
            "channel": actor.channel,
            "added_by_user": actor.user
            if getattr(actor.user, "pk", None) and actor.channel == Channel.STORE
            else None,
            "store": store,
        },
    )
    if not created and note and note != item.note:
        item.note = note
        item.save(update_fields=["note", "updated_at"])
    if created:
        by = f" by {actor.label}" if actor.channel == Channel.STORE else ""
        record_timeline_event(
            customer=customer,
            kind=TimelineKind.WISHLIST_ADDED,
            channel=actor.channel,
            summary=f"Added {variant.label} ({variant.sku}) to the wishlist{by}",
            actor=actor,
            store=store,
            sku=variant.sku,
            subject_type="wishlist_item",
            subject_id=item.pk,
        )
    return item


@transaction.atomic
def remove_from_wishlist(*, actor: Actor, item: WishlistItem) -> None:
    record_timeline_event(
        customer=item.customer,
        kind=TimelineKind.WISHLIST_REMOVED,
        channel=actor.channel,
        summary=f"Removed {item.variant.sku} from the wishlist",
        actor=actor,
        sku=item.variant.sku,
    )
    item.delete()


def store_credit_balance(customer: Customer) -> Decimal:
    return StoreCreditEntry.objects.filter(customer=customer).aggregate(s=Sum("amount"))[
        "s"
    ] or Decimal("0.00")


def lock_customer(customer: Customer) -> None:
    """Lock the customer's row (for store credit) until the transaction ends.

    The global lock order puts customer rows before stock rows: a service that may touch both
    calls this first. NO KEY UPDATE: rows merely pointing at the customer (orders, timeline
    entries) can still be written meanwhile.
    """
    Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()


@retry_when_busy
@transaction.atomic
def add_store_credit_entry(
    *, customer: Customer, amount: Decimal, reason: str, cause_type: str = "", cause_id: Any = ""
) -> StoreCreditEntry:
    """Earn (positive) or spend (negative) store credit; the balance never goes below zero."""
    # Lock the customer row so that two spends cannot both see the same balance.
    lock_customer(customer)
    if amount < 0 and store_credit_balance(customer) + amount < 0:
        raise CustomerConflict(
            "Not enough store credit.",
            code="insufficient_store_credit",
            extra={"balance": str(store_credit_balance(customer))},
        )
    return StoreCreditEntry.objects.create(
        customer=customer,
        amount=amount,
        reason=reason,
        cause_type=cause_type,
        cause_id=str(cause_id),
    )


@retry_when_busy
@transaction.atomic
def merge_customers(*, actor: Actor, survivor: Customer, duplicate: Customer) -> Customer:
    """Move all history of `duplicate` to `survivor`; the duplicate stays as an alias.

    Every row that points at the duplicate (orders, reservations, returns, notes, timeline, store
    credit, wishlist) is re-pointed, whichever app owns it, so nothing is lost or told twice.
    Raises CustomerConflict when merging a customer into itself or into an alias.
    """
    if survivor.pk == duplicate.pk:
        raise CustomerConflict("A customer cannot be merged into itself.", code="merge_into_self")
    # Both rows in id order, whichever is kept: two merges of the same pair cannot deadlock.
    locked = Customer.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
    by_id = {customer.pk: customer for customer in locked.order_by("pk")}
    survivor, duplicate = by_id[survivor.pk], by_id[duplicate.pk]
    if survivor.merged_into_id or duplicate.merged_into_id:
        raise CustomerConflict(
            "Merge into the surviving record, not into an alias.", code="already_merged"
        )
    # The shared list holds each SKU once: drop the duplicate's copies of items the survivor has.
    WishlistItem.objects.filter(
        customer=duplicate,
        variant__in=WishlistItem.objects.filter(customer=survivor).values("variant"),
    ).delete()
    for relation in Customer._meta.related_objects:
        if relation.one_to_many and relation.related_model is not Customer:
            field = relation.field.name
            relation.related_model._base_manager.filter(**{field: duplicate}).update(
                **{field: survivor}
            )
    alias_fields = ["merged_into", "updated_at"]
    if duplicate.user_id and not survivor.user_id:
        survivor.user = duplicate.user
        duplicate.user = None
        alias_fields.append("user")
    for field in ("first_name", "last_name", "postcode"):
        if not getattr(survivor, field):
            setattr(survivor, field, getattr(duplicate, field))
    if not survivor.preferred_store_id:
        survivor.preferred_store_id = duplicate.preferred_store_id
    survivor.sizes = {**duplicate.sizes, **survivor.sizes}
    # Contact data the survivor lacks moves over; the rest stays on the alias and still finds it.
    moved = {}
    for field in ("email", "phone"):
        if not getattr(survivor, field) and getattr(duplicate, field):
            moved[field] = getattr(duplicate, field)
    # Saved, not updated: the alias's history shows the merge (and who did it).
    duplicate.merged_into = survivor
    for field in moved:
        setattr(duplicate, field, None)
    name_actor(duplicate, actor).save(update_fields=[*alias_fields, *moved])
    for field, value in moved.items():
        setattr(survivor, field, value)
    name_actor(survivor, actor).save()
    record_timeline_event(
        customer=survivor,
        kind=TimelineKind.MERGED,
        channel=actor.channel,
        summary=f"Merged customer {duplicate.pk} ({duplicate}) into this record",
        actor=actor,
        subject_type="customer",
        subject_id=duplicate.pk,
    )
    return survivor


# --- identity: contact changes and possible duplicates ----------------------------------------


def _flag_possible_duplicate(
    *, actor: Actor, customer: Customer, channel: str, email, phone, first_name, last_name
) -> None:
    flag = PossibleDuplicate(
        customer=customer,
        email=email or "",
        phone=phone or "",
        first_name=first_name[:100],
        last_name=last_name[:100],
        channel=channel,
        created_by_client=actor.client,
    )
    # The partial unique index keeps one open flag per contradiction, however often it comes.
    PossibleDuplicate.objects.bulk_create([flag], ignore_conflicts=True)
    record_timeline_event(
        customer=customer,
        kind=TimelineKind.PROFILE_CHANGED,
        channel=channel,
        summary=f"Possible duplicate: {email or phone} given with this customer's contact data",
        actor=actor,
    )


def pending_contact_changes(customer: Customer) -> dict[str, ContactChange]:
    now = timezone.now()
    open_changes = customer.contact_changes.filter(
        confirmed_at__isnull=True, void_at__isnull=True, expires_at__gt=now
    ).order_by("created_at")
    return {change.field: change for change in open_changes}


def _request_contact_change(*, actor: Actor, customer: Customer, field: str, value) -> None:
    email, phone = _normalised_identity(
        value if field == ContactField.EMAIL else None,
        value if field == ContactField.PHONE else None,
    )
    value = email if field == ContactField.EMAIL else phone
    if value == getattr(customer, field):
        return
    if Customer.objects.exclude(pk=customer.pk).filter(**{field: value}).exists():
        raise CustomerConflict("Another customer already has this e-mail address or phone number.")
    now = timezone.now()
    customer.contact_changes.filter(
        field=field, confirmed_at__isnull=True, void_at__isnull=True
    ).update(void_at=now)
    code = f"{secrets.randbelow(10**6):06d}"
    change = ContactChange.objects.create(
        customer=customer,
        field=field,
        value=value,
        code_hash=hash_key(code),
        expires_at=now + settings.OMNIS_CONTACT_CODE_TTL,
    )
    outbox.enqueue("customers.send_contact_code", {"change_id": change.pk, "code": code})
    record_timeline_event(
        customer=customer,
        kind=TimelineKind.PROFILE_CHANGED,
        channel=actor.channel,
        summary=f"New {field} requested, waiting for confirmation",
        actor=actor,
    )


def confirm_contact_change(*, actor: Actor, customer: Customer, code: str) -> Customer:
    """Apply the pending e-mail or phone change whose code this is.

    Raises InvalidCustomerData (400) for a wrong or expired code (after
    OMNIS_CONTACT_CODE_ATTEMPTS wrong codes the pending changes are void), CustomerConflict (409)
    when another customer took the address meanwhile.
    """
    with transaction.atomic():
        pending = list(
            ContactChange.objects.select_for_update()
            .filter(
                customer=customer,
                confirmed_at__isnull=True,
                void_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .order_by("pk")
        )
        digest = hash_key(str(code).strip())
        change = next((c for c in pending if secrets.compare_digest(c.code_hash, digest)), None)
        if change is not None:
            if Customer.objects.exclude(pk=customer.pk).filter(**{change.field: change.value}):
                raise CustomerConflict(
                    "Another customer already has this e-mail address or phone number."
                )
            customer = Customer.objects.select_for_update().get(pk=customer.pk)
            setattr(customer, change.field, change.value)
            name_actor(customer, actor).save(update_fields=[change.field, "updated_at"])
            change.confirmed_at = timezone.now()
            change.save(update_fields=["confirmed_at"])
            record_timeline_event(
                customer=customer,
                kind=TimelineKind.PROFILE_CHANGED,
                channel=actor.channel,
                summary=f"New {change.field} confirmed",
                actor=actor,
            )
            return customer
        # A wrong code counts against every pending change (committed before the error).
        for wrong in pending:
            wrong.wrong_codes += 1
            if wrong.wrong_codes >= settings.OMNIS_CONTACT_CODE_ATTEMPTS:
                wrong.void_at = timezone.now()
            wrong.save(update_fields=["wrong_codes", "void_at"])
    raise InvalidCustomerData(
        "Wrong or expired code.", errors={"code": ["Wrong or expired code; ask for a new one."]}
    )


@transaction.atomic
def resolve_possible_duplicates(*, actor: Actor, flags) -> int:
    """The service desk has looked at these flags (merged, or found to be another person)."""
    return PossibleDuplicate.objects.filter(
        pk__in=[f.pk for f in flags], resolved_at__isnull=True
    ).update(resolved_at=timezone.now())


# A sale at the till without a known customer still needs an order's customer: one shared record
# that is never contacted (its address cannot receive mail) and never learns sizes worth showing.
WALK_IN_EMAIL = "walk-in@counter.invalid"


def walk_in_customer() -> Customer:
    """The record that stands for every customer the till does not know."""
    defaults = {
        "first_name": "Walk-in",
        "last_name": "customer",
        "source_channel": "store",
        "contact_channel": ContactChannel.NONE,
    }
    try:
        with transaction.atomic():
            customer, _ = Customer.objects.get_or_create(email=WALK_IN_EMAIL, defaults=defaults)
    except IntegrityError:  # two tills created it at once: the other one won
        customer = Customer.objects.get(email=WALK_IN_EMAIL)
    return customer


def is_walk_in(customer: Customer) -> bool:
    return customer.email == WALK_IN_EMAIL
