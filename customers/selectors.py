"""Reads about customers: the phone desk's look-up and the single customer view."""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet

from customers.models import Consent, Customer, TimelineEvent, WishlistItem
from customers.normalise import normalise_email, normalise_phone


def find_customers(
    *, phone: str | None = None, email: str | None = None, q: str | None = None
) -> QuerySet[Customer]:
    """Look up customers by phone in any format, e-mail (any case), or a name fragment."""
    qs = (
        Customer.objects.filter(merged_into__isnull=True)
        .select_related("preferred_store")
        .prefetch_related(
            Prefetch(
                "consents",
                queryset=Consent.objects.filter(withdrawn_at__isnull=True).order_by(
                    "purpose", "channel"
                ),
                to_attr="open_consents",
            )
        )
    )
    # Contact data left on a merged alias still finds the surviving customer.
    if phone:
        try:
            phone = normalise_phone(phone)
        except ValidationError:
            return qs.none()
        qs = qs.filter(Q(phone=phone) | Q(aliases__phone=phone))
    if email:
        try:
            email = normalise_email(email)
        except ValidationError:
            return qs.none()
        qs = qs.filter(Q(email=email) | Q(aliases__email=email))
    if q:
        for word in q.split():
            qs = qs.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
    return qs.distinct()


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


def wishlist_items_for_nudges(*, since) -> QuerySet[WishlistItem]:
    """List items added since `since` by customers who agreed to marketing, may be contacted
    (by e-mail or SMS, customers.messaging) and have a preferred store: the candidates for an
    "only a few left" message."""
    return (
        WishlistItem.objects.filter(
            created_at__gte=since,
            customer__merged_into__isnull=True,
            customer__marketing_consent=True,
            customer__preferred_store__isnull=False,
        )
        .exclude(customer__contact_channel="none")
        .select_related("customer__preferred_store", "variant__product")
        .order_by("pk")
    )


def has_timeline_event(*, customer: Customer, subject_type: str, subject_id: str) -> bool:
    return TimelineEvent.objects.filter(
        customer=customer, subject_type=subject_type, subject_id=subject_id
    ).exists()
