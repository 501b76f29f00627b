"""Demo reservations of "Omnis Haus & Mode", made and moved through the reservation services.

Every state is there: active holds from the phone desk and the webshop (some ending today, so the
store list shows its highlight), collected ones turned into store sales, expired and cancelled
ones. Lukas Wagner (journey 1) gets none: a new user reserves for him at the phone desk.
"""

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from common.actor import Actor
from common.errors import ApplicationError
from common.models import ApiClient, Channel
from customers.models import Customer
from inventory.models import StockItem, Variant
from orders.demo import JOURNEY_EMAILS, KEEP_CLEAR, PICKUP_STORES, STAFF_OF
from orders.models import Reservation
from orders.services import reservations as services
from stores.models import Store

# Journey 1's caller: left without a reservation for the walk-through.
JOURNEY_CALLER_PHONE = "+491701234567"
# Per store: (channel, state) of the demo holds.
PLAN = (
    (Channel.PHONE, "active_today"),
    (Channel.PHONE, "active"),
    (Channel.WEB, "active"),
    (Channel.WEB, "collected"),
    (Channel.PHONE, "expired"),
    (Channel.WEB, "cancelled"),
)


def _say(stdout, text: str) -> None:
    if stdout is not None:
        stdout.write(text)


def _ending_today(store: Store, now: datetime) -> datetime:
    """Today's closing time if still ahead, else within the next hour (today whenever possible)."""
    local = now.astimezone(store.zone)
    for _opens, closes in services.opening_spans(store, local.date()):
        if closes > now + timedelta(minutes=30):
            return closes
    return min(now + timedelta(hours=1), local.replace(hour=23, minute=59, second=0))


def seed_reservations(*, stdout=None) -> int:
    """Reservations in every state at the demo stores; nothing happens when any exist."""
    if Reservation.objects.exists():
        _say(stdout, "  reservations exist already: none added")
        return 0
    stores = list(
        Store.objects.filter(code__in=PICKUP_STORES, takes_reservations=True).order_by("code")
    )
    customers = list(
        Customer.objects.filter(merged_into__isnull=True, email__isnull=False)
        .exclude(phone=JOURNEY_CALLER_PHONE)
        .exclude(email__in=JOURNEY_EMAILS)
        .order_by("pk")[:80]
    )
    if not stores or not customers:
        _say(stdout, "  demo stores or customers missing: no reservations added")
        return 0
    users = {u.username: u for u in get_user_model().objects.filter(username__in=STAFF_OF.values())}
    agent_user = get_user_model().objects.filter(username="service").first()
    agent = Actor(user=agent_user, channel=Channel.PHONE)
    web_client = (
        ApiClient.objects.filter(channel=Channel.WEB, is_active=True).order_by("pk").first()
    )
    webshop = Actor(client=web_client, channel=Channel.WEB)
    rng = random.Random(1)
    now = timezone.now()
    made = 0

    def variants_at(store: Store, count: int) -> list[tuple[Variant, int]]:
        items = list(
            StockItem.objects.filter(
                store=store, on_hand__gte=F("reserved") + F("safety_stock") + 3
            )
            .exclude(variant__sku__in=KEEP_CLEAR)
            .select_related("variant__product")
            .order_by("variant__sku")[:60]
        )
        return [(item.variant, 1) for item in rng.sample(items, min(count, len(items)))]

    # The demo customers are made up: their e-mails and SMS are rendered but not sent anywhere.
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        SMS_BACKEND="common.sms.DummyBackend",
    ):
        for store in stores:
            clerk = Actor(user=users.get(STAFF_OF.get(store.code, "")), channel=Channel.STORE)
            for channel, state in PLAN:
                lines = variants_at(store, rng.randint(1, 2))
                if not lines:
                    continue
                actor = agent if channel == Channel.PHONE else webshop
                # Holds that are over by now were made days ago.
                made_at = {
                    "expired": now - timedelta(days=4),
                    "collected": now - timedelta(days=1),
                }.get(state)
                try:
                    reservation = services.reserve_for_customer(
                        actor=actor,
                        customer=rng.choice(customers),
                        store=store,
                        lines=lines,
                        channel=channel,
                        expires_at=_ending_today(store, now) if state == "active_today" else None,
                        note="Demo",
                        now=made_at,
                    )
                    if state == "collected":
                        services.collect_reservation(actor=clerk, reservation=reservation)
                    elif state == "cancelled":
                        services.cancel_reservation(
                            actor=actor, reservation=reservation, note="Customer changed plans"
                        )
                except ApplicationError as exc:
                    _say(stdout, f"  reservation left out: {exc.detail}")
                    continue
                made += 1
        # The expiry run releases the holds whose deadline passed (and sends due reminders).
        result = services.release_expired_reservations(now=now)
    _say(
        stdout,
        f"  {made} reservations in every state ({result['released']} expired, "
        f"{result['reminded']} reminded)",
    )
    return made
