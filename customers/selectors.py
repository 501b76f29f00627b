"""Reads about customers: the phone desk's look-up and the single customer view."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from customers.models import Customer, TimelineEvent, WishlistItem
from customers.normalise import normalise_email, normalise_phone


def find_customers(
    *, phone: str | None = None, email: str | None = None, q: str | None = None
) -> QuerySet[Customer]:
    """Look up customers by phone in any format, e-mail (any case), or a name fragment."""
    qs = Customer.objects.filter(merged_into__isnull=True).select_related("preferred_store")
    if phone:
        try:
            qs = qs.filter(phone=normalise_phone(phone))
        except ValidationError:
            return qs.none()
    if email:
        try:
            qs = qs.filter(email=normalise_email(email))
        except ValidationError:
            return qs.none()
    if q:
        for word in q.split():
            qs = qs.filter(first_name__icontains=word) | qs.filter(last_name__icontains=word)
    return qs


def customer_timeline(customer: Customer) -> QuerySet[TimelineEvent]:
    return (
        TimelineEvent.objects.filter(customer=customer)
        .select_related("store", "actor_user", "actor_client")
        .order_by("-at", "-id")
    )


def wishlist_of(customer: Customer) -> QuerySet[WishlistItem]:
    return (
        WishlistItem.objects.filter(customer=customer)
        .select_related("variant__product", "added_by_user", "store")
        .order_by("-created_at", "-id")
    )
