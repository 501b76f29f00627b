"""Everything stored about a person, as JSON (GDPR Art. 15 and 20).

The export is built from the schema, not from a list kept by hand: every table with a foreign key
to Customer becomes a section (`records`, keyed by "app.model"), each row with its own columns and
the rows that hang from it one level down (an order's lines, history, refunds). A table added
later is exported without anyone remembering to; the test compares the sections with
`Customer._meta`. Secrets (hashes of codes and tokens) are left out.
"""

import datetime
import decimal
import uuid

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from common.actor import Actor
from common.models import SentNotification, UserToken
from customers.exceptions import AlreadyErased
from customers.models import Customer, TimelineKind

FORMAT_VERSION = 1


def customer_relations() -> list[models.ForeignObjectRel]:
    """Every foreign key (or one-to-one) that points at Customer, named or hidden ("+")."""
    return [
        field
        for field in Customer._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
    ]


def _secret(field: models.Field) -> bool:
    return field.name.endswith("_hash") or field.name in {"password", "secret"}


def _value(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _row(obj: models.Model) -> dict:
    return {
        field.attname: _value(getattr(obj, field.attname))
        for field in obj._meta.concrete_fields
        if not _secret(field)
    }


def _child_relations(model) -> list[models.ForeignObjectRel]:
    return [
        rel
        for rel in model._meta.related_objects
        if (rel.one_to_many or rel.one_to_one) and rel.related_model is not Customer
    ]


def _row_with_children(obj: models.Model) -> dict:
    row = _row(obj)
    for rel in _child_relations(type(obj)):
        name = rel.get_accessor_name()
        if rel.one_to_one:
            child = getattr(obj, name, None) if hasattr(obj, name) else None
            row[name] = _row(child) if child is not None else None
        else:
            row[name] = [_row(child) for child in getattr(obj, name).all()]
    return row


def _records(customer: Customer) -> dict[str, list[dict]]:
    records: dict[str, list[dict]] = {}
    for relation in customer_relations():
        model = relation.related_model
        key = model._meta.label_lower
        link = Q(**{relation.field.name: customer})
        if model is Customer.history.model:
            link |= Q(id=customer.pk)  # the customer's own earlier versions, not only its aliases'
        queryset = model._base_manager.filter(link).order_by("pk")
        if model is not Customer:
            accessors = [
                rel.get_accessor_name()
                for rel in _child_relations(model)
                if rel.one_to_many and not rel.hidden
            ]
            queryset = queryset.prefetch_related(*accessors)
        rows = records.setdefault(key, [])
        seen = {row["id"] for row in rows}
        rows.extend(
            _row_with_children(obj) if model is not Customer else _row(obj)
            for obj in queryset
            if obj.pk not in seen
        )
    return records


def customer_export(customer: Customer) -> dict:
    """The data of one customer: profile, login, every related table, and the messages sent."""
    user = customer.user
    addresses = [a for a in (customer.email, customer.phone) if a]
    return {
        "format": FORMAT_VERSION,
        "exported_at": _value(timezone.now()),
        "customer": _row(customer),
        "login": None
        if user is None
        else {
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": _value(user.date_joined),
            "last_login": _value(user.last_login),
            "is_active": user.is_active,
            "tokens": [
                {
                    "prefix": token.key_prefix,
                    "kind": token.kind,
                    "created_at": _value(token.created_at),
                    "expires_at": _value(token.expires_at),
                    "last_used_at": _value(token.last_used_at),
                    "revoked_at": _value(token.revoked_at),
                }
                for token in UserToken.objects.filter(user=user).order_by("pk")
            ],
        },
        "records": _records(customer),
        "messages_sent": [
            {"template": n.template, "recipient": n.recipient, "sent_at": _value(n.sent_at)}
            for n in SentNotification.objects.filter(recipient__in=addresses).order_by("pk")
        ],
    }


def export_customer(*, actor: Actor, customer: Customer) -> dict:
    """Everything stored about the customer; the export itself is written to their timeline
    (who and when). Raises AlreadyErased (409) for an erased customer: nothing personal is left.
    """
    from customers.services import record_timeline_event

    if customer.erased_at:
        raise AlreadyErased("This customer's personal data was erased.")
    with transaction.atomic():
        data = customer_export(customer)
        record_timeline_event(
            customer=customer,
            kind=TimelineKind.DATA_EXPORTED,
            channel=actor.channel,
            summary=f"Personal data exported by {actor.label}",
            actor=actor,
        )
    return data
