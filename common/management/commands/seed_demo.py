"""`manage.py seed_demo`: the demo retailer "Omnis Haus & Mode", safe to run again."""

import base64
import hashlib
import hmac
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from common.actor import Actor
from common.models import Channel
from common.services import ensure_api_client_with_key
from customers.demo import JOURNEY_PEOPLE, seed_customers, seed_journey_people
from customers.models import Customer
from inventory.demo import CATEGORIES, JOURNEY_SKUS, seed_catalogue, seed_stock
from inventory.models import Product, StockItem, Variant
from orders.demo import seed_orders
from orders.insights.rollups import refresh_all
from stores.demo import TRADE_CENTRE, WAREHOUSE, seed_stores
from stores.models import StaffRole, Store
from stores.services import create_or_update_staff, ensure_staff_groups

DEMO_PASSWORD = "omnis-demo"
# Demo only: the demo clients' keys are derived from this public secret so that every run prints
# the same keys. Never use these keys outside a demo database.
DEMO_KEY_SECRET = b"omnis-haus-und-mode-demo-keys"
DEMO_CLIENTS = (("webshop", Channel.WEB), ("phone-desk", Channel.PHONE))

# username, stores ("*" = every location), role, first name, last name
DEMO_STAFF = (
    ("manager", "*", StaffRole.MANAGER, "Miriam", "Krüger"),
    ("berlin", "BER-01", StaffRole.STORE_STAFF, "Jan", "Lehmann"),
    ("hamburg", "HAM-01", StaffRole.STORE_STAFF, "Fiete", "Hansen"),
    ("muenchen", "MUC-01", StaffRole.STORE_STAFF, "Vroni", "Huber"),
    ("koeln", "CGN-01", StaffRole.STORE_STAFF, "Kevin", "Schmitz"),
    ("frankfurt", "FRA-01", StaffRole.STORE_STAFF, "Lena", "Weber"),
    ("lager", WAREHOUSE, StaffRole.STORE_STAFF, "Olaf", "Meyer"),
    ("service", "*", StaffRole.SERVICE_AGENT, "Sevgi", "Yilmaz"),
)


def demo_api_key(name: str) -> str:
    digest = hmac.new(DEMO_KEY_SECRET, name.encode(), hashlib.sha256).digest()
    return "demo-" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Command(BaseCommand):
    help = (
        "Create the demo retailer: stores and warehouse, catalogue, stock (through the ledger), "
        "customers with history, staff and customer logins, API clients, then orders, "
        "reservations and returns. Safe to run again: nothing is created twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=200)
        parser.add_argument("--customers", type=int, default=500)
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with production settings (the demo logins have a public password).",
        )

    def handle(self, *args, products: int, customers: int, force: bool, **options):
        if settings.SETTINGS_MODULE.endswith(".production") and not force:
            raise CommandError(
                "Refusing to seed demo data with production settings: the demo logins and API "
                "keys are public. Use --force if this really is a demo installation."
            )
        if products < 1 or customers < 0:
            raise CommandError("--products must be at least 1 and --customers at least 0.")
        started = time.monotonic()
        quiet = options["verbosity"] == 0

        def progress(iterable, desc: str):
            return tqdm(iterable, desc=desc, file=self.stderr, disable=quiet, leave=False)

        def step(text: str) -> None:
            if not quiet:
                self.stdout.write(f"· {text}")

        step("Stores and warehouse")
        stores = seed_stores()

        step("Staff groups and logins")
        ensure_staff_groups()
        users = self._logins(stores)

        step("API clients")
        keys = {}
        for name, channel in DEMO_CLIENTS:
            keys[name] = demo_api_key(name)
            ensure_api_client_with_key(name=name, channel=channel, key=keys[name])

        step(f"Catalogue ({products} products)")
        with transaction.atomic():
            variants = seed_catalogue(products, lambda it: progress(it, "catalogue"))

        step("Opening stock (goods receipts on the ledger)")
        seed_stock(
            actor=Actor(user=users["lager"], channel=Channel.STORE),
            variants=variants,
            stores=stores,
            warehouse=WAREHOUSE,
            trade_centre=TRADE_CENTRE,
            progress=lambda it: progress(it, "stock"),
        )

        step(f"Customers ({customers} and the journeys' people)")
        agent = Actor(user=users["service"], channel=Channel.PHONE)
        seed_journey_people(
            stores=stores,
            variants_by_sku={v.sku: v for v in variants},
            journey_skus=JOURNEY_SKUS,
            agent_actor=agent,
            password=DEMO_PASSWORD,
        )
        seed_customers(
            count=customers,
            stores=stores,
            variants=variants,
            category_slugs=[c.slug for c in CATEGORIES],
            agent_actor=agent,
            progress=lambda it: progress(it, "customers"),
        )

        step("Orders, reservations and returns")
        seed_orders(stdout=self.stdout)

        step("Insights (the demo's days counted)")
        refresh_all()

        if not quiet:
            self._summary(keys, time.monotonic() - started)

    def _logins(self, stores: dict[str, Store]) -> dict:
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.email = admin.email or "admin@omnis.example"
        admin.set_password(DEMO_PASSWORD)
        admin.save()
        users = {"admin": admin}
        for username, where, role, first, last in DEMO_STAFF:
            chosen = list(stores.values()) if where == "*" else [stores[where]]
            users[username], _ = create_or_update_staff(
                username=username,
                stores=chosen,
                role=role,
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                email=f"{username}@omnis.example",
            )
        return users

    def _summary(self, keys: dict[str, str], seconds: float) -> None:
        out = self.stdout.write
        out("")
        out(self.style.SUCCESS(f"Omnis Haus & Mode is ready ({seconds:.0f} s)."))
        out("  Staff desk: http://127.0.0.1:8000/   Admin: http://127.0.0.1:8000/admin/")
        out("  API docs:   http://127.0.0.1:8000/api/docs/")
        out("")
        out(f"Logins (password for all: {DEMO_PASSWORD})")
        out(f"  {'admin':<26} superuser")
        for username, where, role, first, last in DEMO_STAFF:
            stores = "all stores" if where == "*" else where
            out(f"  {username:<26} {StaffRole(role).label}, {stores} ({first} {last})")
        anna = JOURNEY_PEOPLE[0]
        out(f"  {anna.email:<26} customer login ({anna.first_name} {anna.last_name})")
        out("")
        out("API keys (demo only: derived from a public secret, the same on every run)")
        for name, channel in DEMO_CLIENTS:
            out(f"  {name:<12} {channel:<6} Authorization: Token {keys[name]}")
        out("")
        out("Journeys")
        for person in JOURNEY_PEOPLE:
            contact = person.phone or person.email
            out(f"  {person.first_name} {person.last_name} ({contact}): {person.story}")
        for key, sku in JOURNEY_SKUS.items():
            out(f"  {key:<22} {sku}")
        out("")
        out(
            "Counts: "
            f"{Store.objects.count()} stores, {Product.objects.count()} products, "
            f"{Variant.objects.count()} variants, {StockItem.objects.count()} stock items, "
            f"{Customer.objects.count()} customers"
        )
