"""The demo retailer's customers: German names and numbers, preferences, and some history.

Every customer is derived from its number (Faker seeded per customer), so a second run finds the
same people through customers.services.find_or_create_customer and creates nobody new.
"""

import random
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

import phonenumbers
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.logins import create_or_update_customer_login
from customers.models import (
    ConsentChannel,
    ConsentPurpose,
    ContactChannel,
    Customer,
    TimelineKind,
)
from customers.privacy.consents import record_confirmed_consent
from customers.services import (
    add_service_note,
    add_to_wishlist,
    find_or_create_customer,
    record_touchpoint,
)
from inventory.models import Variant
from stores.models import Store

SEED = 4711
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "179")
DOMAINS = ("example.de", "example.com", "example.org", "example.net")
LETTER_SIZES = ("S", "M", "L", "XL")
TROUSER_SIZES = ("W30L32", "W32L32", "W34L32", "W36L34")
SHOE_SIZES = ("38", "39", "40", "41", "42", "43", "44", "45")

NOTES = (
    "Ruft lieber nachmittags an, vormittags nicht erreichbar.",
    "Reklamation Reißverschluss Jacke: Ersatz zugesagt, Kundin war sehr freundlich.",
    "Wünscht Lieferung nur an die Packstation.",
    "Hat nach Größe 46 bei Schuhen gefragt – bitte melden, wenn verfügbar.",
    "Komplizierte Rückgabe besprochen, volle Erstattung zugesagt.",
    "Stammkunde im Profi-Center, kauft für seinen Handwerksbetrieb.",
    "Möchte keine Werbung per SMS, nur E-Mail.",
)


@dataclass(frozen=True)
class DemoPerson:
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    preferred_store: str
    postcode: str
    sizes: dict
    story: str


# The people the customer journeys are told with (/work/shared/journeys.md).
ANNA = DemoPerson(
    "Anna",
    "Schmidt",
    "anna.schmidt@example.de",
    "+49301234567",
    "BER-01",
    "10115",
    {"shirts": "M", "trousers": "W30L32", "shoes": "39"},
    "sizes follow her (4), the weekend nudge (5); has a customer login",
)
JOURNEY_PEOPLE = (
    ANNA,
    DemoPerson(
        "Lukas",
        "Wagner",
        None,
        "+491701234567",
        "HAM-01",
        "20095",
        {"shirts": "L"},
        "saw the poster, reserves by phone (1)",
    ),
    DemoPerson(
        "Thomas",
        "Becker",
        "thomas.becker@example.de",
        "+4917612345678",
        "CGN-01",
        "50825",
        {},
        "tradesperson collecting a drill at the trade centre (2)",
    ),
    DemoPerson(
        "Julia",
        "Neumann",
        "julia.neumann@example.de",
        "+4915112345678",
        "FRA-01",
        "60313",
        {"shirts": "S", "shoes": "38"},
        "a complicated return with a note (3), returns anywhere (7)",
    ),
    DemoPerson(
        "Sabine",
        "Hoffmann",
        "sabine.hoffmann@example.de",
        "+4916012345678",
        "MUC-01",
        "80331",
        {},
        "builds a furniture list online (6)",
    ),
)


def _ascii(text: str) -> str:
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum())


def demo_phone(number: int) -> str:
    """A German mobile number in E.164, different for every customer number."""
    prefix = MOBILE_PREFIXES[number % len(MOBILE_PREFIXES)]
    phone = f"+49{prefix}{20000000 + number * 1013:08d}"
    if not phonenumbers.is_valid_number(phonenumbers.parse(phone)):
        phone = f"+49151{20000000 + number * 1013:08d}"
    return phone


def demo_person(number: int, store_codes: list[str], category_slugs: list[str]) -> dict:
    """Customer number `number` of the demo: the same person on every run."""
    from faker import Faker  # a development dependency: only the demo needs it

    fake = Faker("de_DE")
    fake.seed_instance(SEED + number)
    rng = random.Random(SEED * 10_000 + number)
    female = rng.random() < 0.5
    first = fake.first_name_female() if female else fake.first_name_male()
    last = fake.last_name()
    contact = rng.random()
    email = (
        f"{_ascii(first)}.{_ascii(last)}{number}@{DOMAINS[number % len(DOMAINS)]}"
        if contact >= 0.15
        else None
    )
    phone = demo_phone(number) if contact < 0.15 or contact >= 0.30 else None
    sizes = {}
    if rng.random() < 0.6:
        sizes["shirts"] = rng.choice(LETTER_SIZES)
    if rng.random() < 0.4:
        sizes["trousers"] = rng.choice(TROUSER_SIZES)
    if rng.random() < 0.5:
        sizes["shoes"] = rng.choice(SHOE_SIZES[:4] if female else SHOE_SIZES[3:])
    consent = rng.random() < 0.4
    channel = rng.choice([Channel.WEB, Channel.WEB, Channel.APP, Channel.PHONE, Channel.STORE])
    return {
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "channel": channel,
        "preferred_store_code": rng.choice(store_codes) if rng.random() < 0.8 else None,
        "postcode": fake.postcode(),
        "sizes": sizes,
        "favourite_categories": rng.sample(category_slugs, rng.randint(0, 2)),
        "contact_channel": ContactChannel.EMAIL if email else ContactChannel.SMS,
        "marketing_consent": consent,
        "consent_days_ago": rng.randint(1, 700),
    }


def _confirmed_marketing_email(customer: Customer, *, source: str, at) -> None:
    record_confirmed_consent(
        customer=customer,
        purpose=ConsentPurpose.MARKETING,
        channel=ConsentChannel.EMAIL,
        source=source,
        given_at=at,
        confirmed_at=at + timedelta(minutes=7),
    )


def _history(
    *,
    customer: Customer,
    number: int,
    variants: list[Variant],
    stores: dict[str, Store],
    agent_actor: Actor,
) -> None:
    """Some touchpoints, notes and wishlist items on a new customer's timeline."""
    rng = random.Random(SEED * 20_000 + number)
    now = timezone.now()
    if number % 3 == 0:
        for _ in range(rng.randint(1, 3)):
            record_touchpoint(
                actor=Actor(channel=rng.choice([Channel.WEB, Channel.APP])),
                customer=customer,
                kind=TimelineKind.PRODUCT_VIEW,
                sku=rng.choice(variants).sku,
                at=now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1440)),
            )
    if number % 9 == 0:
        store = stores.get(customer.preferred_store.code) if customer.preferred_store else None
        add_service_note(
            actor=agent_actor,
            customer=customer,
            text=rng.choice(NOTES),
            channel=Channel.PHONE,
            store=store,
        )
    if number % 7 == 0:
        for variant in rng.sample(variants, min(len(variants), rng.randint(1, 3))):
            add_to_wishlist(actor=Actor(channel=Channel.WEB), customer=customer, variant=variant)


def seed_journey_people(
    *,
    stores: dict[str, Store],
    variants_by_sku: dict[str, Variant],
    journey_skus: dict[str, str],
    agent_actor: Actor,
    password: str,
) -> Customer:
    """The journeys' customers, their history, and Anna's customer login. Returns Anna."""
    now = timezone.now()
    anna = None
    for person in JOURNEY_PEOPLE:
        customer, created = find_or_create_customer(
            actor=Actor(channel=Channel.WEB),
            email=person.email,
            phone=person.phone,
            first_name=person.first_name,
            last_name=person.last_name,
            preferred_store=stores.get(person.preferred_store),
            postcode=person.postcode,
            sizes=person.sizes,
            contact_channel=ContactChannel.EMAIL if person.email else ContactChannel.SMS,
        )
        if created and person.email:
            _confirmed_marketing_email(customer, source=Channel.WEB, at=now - timedelta(days=90))
        if person is ANNA:
            anna = customer
            create_or_update_customer_login(email=person.email, password=password)
        if not created:
            continue

        def sku(key: str) -> Variant | None:
            return variants_by_sku.get(journey_skus.get(key, ""))

        def view(variant: Variant | None, channel: str, days: int, customer=customer) -> None:
            if variant is not None:
                record_touchpoint(
                    actor=Actor(channel=channel),
                    customer=customer,
                    kind=TimelineKind.PRODUCT_VIEW,
                    sku=variant.sku,
                    at=now - timedelta(days=days),
                )

        if person is ANNA:
            view(sku("shirt_m"), Channel.WEB, 3)
            view(sku("shoes_last_pair"), Channel.APP, 2)
            view(sku("shoes_last_pair"), Channel.WEB, 1)
            if sku("shoes_last_pair"):
                add_to_wishlist(
                    actor=Actor(channel=Channel.APP),
                    customer=customer,
                    variant=sku("shoes_last_pair"),
                    note="Für den Sommer",
                )
        elif person.last_name == "Wagner":
            view(sku("shirt_m"), Channel.WEB, 0)
        elif person.last_name == "Neumann":
            add_service_note(
                actor=agent_actor,
                customer=customer,
                text="Rückgabe der Webshop-Bestellung im Chat besprochen: Ware kommt in die "
                "Filiale, volle Erstattung auf das ursprüngliche Zahlungsmittel zugesagt.",
                channel=Channel.WEB,
            )
        elif person.last_name == "Hoffmann":
            for key in ("furniture_table", "furniture_shelf"):
                if sku(key):
                    add_to_wishlist(
                        actor=Actor(channel=Channel.WEB), customer=customer, variant=sku(key)
                    )
    assert anna is not None
    return anna


def seed_customers(
    *,
    count: int,
    stores: dict[str, Store],
    variants: list[Variant],
    category_slugs: list[str],
    agent_actor: Actor,
    progress: Callable[[Iterable], Iterable] = iter,
) -> int:
    """`count` generated customers (and some history for the new ones). Returns how many are new."""
    shop_codes = sorted(code for code, store in stores.items() if not store.is_warehouse)
    created_count = 0
    now = timezone.now()
    for number in progress(range(1, count + 1)):
        person = demo_person(number, shop_codes, category_slugs)
        code = person.pop("preferred_store_code")
        days = person.pop("consent_days_ago")
        consent = person.pop("marketing_consent")
        customer, created = find_or_create_customer(
            actor=Actor(channel=person["channel"]),
            preferred_store=stores[code] if code else None,
            **person,
        )
        if created:
            created_count += 1
            if consent and customer.email:
                _confirmed_marketing_email(
                    customer, source=person["channel"], at=now - timedelta(days=days)
                )
            _history(
                customer=customer,
                number=number,
                variants=variants,
                stores=stores,
                agent_actor=agent_actor,
            )
    return created_count
