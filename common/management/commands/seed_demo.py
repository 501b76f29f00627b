"""`manage.py seed_demo`: the demo retailer "Omnis Haus & Mode", safe to run again."""

import base64
import hashlib
import hmac
import os
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

# username, stores ("*" = every location), role, first name, last name. Jan Lehmann leads the
# Berlin store and covers the trade centre: with his login a newcomer walks every journey.
DEMO_STAFF = (
    ("berlin", "BER-01 CGN-01", StaffRole.MANAGER, "Jan", "Lehmann"),
    ("manager", "*", StaffRole.MANAGER, "Miriam", "Krüger"),
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
            "--port", type=int, default=8000, help="The port the printed links point to."
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do nothing when the demo is there already (`make run`; `make reset` rebuilds).",
        )
        parser.add_argument(
            "--no-summary",
            action="store_true",
            help="Leave out the links and logins at the end (`manage.py serve_demo` prints them).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with production settings (the demo logins have a public password).",
        )

    def handle(
        self,
        *args,
        products: int,
        customers: int,
        force: bool,
        port: int,
        no_summary: bool,
        once: bool,
        **options,
    ):
        # Under override_settings (a test's live server) SETTINGS_MODULE reads None.
        module = settings.SETTINGS_MODULE or os.environ.get("DJANGO_SETTINGS_MODULE", "")
        if module.endswith(".production") and not force:
            raise CommandError(
                "Refusing to seed demo data with production settings: the demo logins and API "
                "keys are public. Use --force if this really is a demo installation."
            )
        if products < 1 or customers < 0:
            raise CommandError("--products must be at least 1 and --customers at least 0.")
        started = time.monotonic()
        quiet = options["verbosity"] == 0
        if once and demo_is_seeded():
            if not quiet:
                self.stdout.write("· The demo is loaded (`make reset` rebuilds it from scratch).")
                if not no_summary:
                    self.stdout.write(demo_summary(port=port, style=self.style))
            return

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
            self.stdout.write(
                self.style.SUCCESS(
                    f"Omnis Haus & Mode is ready ({time.monotonic() - started:.0f} s)."
                )
            )
        if not quiet and not no_summary:
            self.stdout.write(demo_summary(port=port, style=self.style))

    def _logins(self, stores: dict[str, Store]) -> dict:
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.email = admin.email or "admin@omnis.example"
        admin.set_password(DEMO_PASSWORD)
        admin.save()
        users = {"admin": admin}
        for username, where, role, first, last in DEMO_STAFF:
            chosen = list(stores.values()) if where == "*" else [stores[c] for c in where.split()]
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


def demo_is_seeded() -> bool:
    """The last step of the seed has run: the journeys' orders and the returns are there."""
    from orders.models import Order, Return

    thomas = next(p for p in JOURNEY_PEOPLE if p.last_name == "Becker")
    return Order.objects.filter(customer__email=thomas.email).exists() and Return.objects.exists()


def _journey_lines() -> list[str]:
    """Where each journey starts in the demo, with the numbers a newcomer types or scans."""
    from orders.models import Order, OrderStatus
    from orders.services.orders import PICKUP_QR_PREFIX

    people = {p.last_name: p for p in JOURNEY_PEOPLE}
    lukas, thomas, julia = people["Wagner"], people["Becker"], people["Neumann"]
    anna, sabine = people["Schmidt"], people["Hoffmann"]
    drills = list(
        Order.objects.filter(customer__email=thomas.email, pickup_store__code=TRADE_CENTRE)
        .select_related("transfer")
        .order_by("pk")
    )
    ready = next((o for o in drills if o.status == OrderStatus.READY_FOR_PICKUP), None)
    coming = next((o for o in drills if o.transfer_id and o.status == OrderStatus.PLACED), None)
    lines = [
        f"  1 Lukas Wagner ({lukas.phone}) calls about the shirt {JOURNEY_SKUS['shirt_m']}: "
        "his store HAM-01 has none, reserve it at the phone desk (Phone desk)."
    ]
    if ready is not None:
        lines.append(
            f"  2 Thomas Becker's drill {ready.number} is ready at {TRADE_CENTRE}: pickup code "
            f"{ready.pickup_code}, QR {PICKUP_QR_PREFIX}{ready.number}:{ready.pickup_code} "
            "(type either into the search box)."
        )
    if coming is not None:
        lines.append(
            f"    His drill set {coming.number} comes from the warehouse: receive transfer "
            f"{coming.transfer_id} (Transfers), then mark it ready (Pickups)."
        )
    lines += [
        f"  3 Julia Neumann ({julia.phone}) returns her webshop order at the counter (Returns): "
        "the chat note is on her page.",
        f"  4 Anna Schmidt ({anna.email}) wears shirts in M: her page shows her sizes.",
        f"  5 Anna's last pair {JOURNEY_SKUS['shoes_last_pair']} in Berlin is on her list.",
        f"  6 Sabine Hoffmann ({sabine.email}) built a furniture list: open it under Lists.",
        "  7 Sell at the Till in BER-01, then return it at CGN-01 by the receipt's barcode (Returns).",
    ]
    return lines


def demo_summary(*, port: int, style) -> str:
    """Links with the real port, API keys, where each journey starts, and the logins last."""
    base = f"http://127.0.0.1:{port}"
    lines = [
        "",
        style.SUCCESS(f"Omnis Haus & Mode: {base}/"),
        f"  Store desk {base}/desk/   Admin {base}/admin/   API docs {base}/api/docs/",
        f"  Counts: {Store.objects.count()} stores, {Product.objects.count()} products, "
        f"{Variant.objects.count()} variants, {StockItem.objects.count()} stock items, "
        f"{Customer.objects.count()} customers",
    ]
    if "filebased" in settings.EMAIL_BACKEND or "Summary" in settings.EMAIL_BACKEND:
        lines.append(f"  E-mails and SMS are written to {settings.EMAIL_FILE_PATH}/")
    lines += ["", "API keys (demo only: derived from a public secret, the same on every run)"]
    lines += [
        f"  {name:<12} {channel:<6} Authorization: Token {demo_api_key(name)}"
        for name, channel in DEMO_CLIENTS
    ]
    lines += ["", "Journeys (log in as berlin: every one of them in the desk)", *_journey_lines()]
    lines += ["", style.SUCCESS(f"Logins at {base}/desk/ (password for all: {DEMO_PASSWORD})")]
    for username, where, role, first, last in DEMO_STAFF:
        stores = "all stores" if where == "*" else where.replace(" ", " and ")
        start = "  <- start here" if username == "berlin" else ""
        lines.append(f"  {username:<26} {StaffRole(role).label}, {stores} ({first} {last}){start}")
    lines.append(f"  {'admin':<26} superuser")
    anna = JOURNEY_PEOPLE[0]
    lines.append(f"  {anna.email:<26} customer login ({anna.first_name} {anna.last_name})")
    return "\n".join(lines)
