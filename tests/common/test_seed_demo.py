"""seed_demo: a believable retailer, created once however often it runs, stock explained by the
ledger."""

import re
from io import StringIO

import phonenumbers
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Sum

from common.models import ApiClient, hash_key
from customers.models import Customer, ServiceNote, TimelineEvent, WishlistItem
from inventory.demo import JOURNEY_SKUS
from inventory.models import Category, Product, StockItem, StockMovement, Variant
from inventory.validators import ean13_check_digit
from stores.models import StaffRole, Store, StoreMembership

User = get_user_model()

pytestmark = pytest.mark.django_db

COUNTED = (
    Store,
    StoreMembership,
    Category,
    Product,
    Variant,
    StockItem,
    StockMovement,
    Customer,
    TimelineEvent,
    ServiceNote,
    WishlistItem,
    ApiClient,
    User,
)


def seed(*extra: str) -> str:
    out = StringIO()
    call_command(
        "seed_demo", "--products", "20", "--customers", "30", *extra, stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def printed_keys(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+)\s+\w+\s+Authorization: Token (\S+)$", output, re.M))


def assert_ledger_explains_stock() -> None:
    rows = StockItem.objects.annotate(
        moved_on_hand=Sum("movements__on_hand_delta"),
        moved_reserved=Sum("movements__reserved_delta"),
    )
    offenders = [
        (row.pk, row.on_hand, row.moved_on_hand, row.reserved, row.moved_reserved)
        for row in rows
        if row.on_hand != (row.moved_on_hand or 0)
        or row.reserved != (row.moved_reserved or 0)
        or not 0 <= row.reserved <= row.on_hand
    ]
    assert offenders == []


def test_a_second_run_creates_nothing_new_and_prints_the_same_keys():
    first_output = seed()
    after_first = counts()

    second_output = seed()

    assert counts() == after_first
    assert printed_keys(first_output) == printed_keys(second_output)
    assert set(printed_keys(first_output)) == {"webshop", "phone-desk"}
    assert_ledger_explains_stock()


def test_the_demo_retailer_has_stores_catalogue_stock_and_customers():
    output = seed()

    assert after_seed_summary(output)
    # Five stores and the warehouse, all in Germany.
    stores = {s.code: s for s in Store.objects.all()}
    assert set(stores) == {"BER-01", "HAM-01", "MUC-01", "CGN-01", "FRA-01", "WHS-01"}
    warehouse = stores["WHS-01"]
    assert warehouse.is_warehouse and warehouse.accepts_returns
    assert not (warehouse.offers_pickup or warehouse.sells_in_store)
    assert all(s.time_zone == "Europe/Berlin" for s in stores.values())
    assert all(47 < s.latitude < 55 and 5 < s.longitude < 15 for s in stores.values())
    assert stores["BER-01"].opening_hours["sat"] and not stores["BER-01"].opening_hours["sun"]

    # Catalogue: valid SKUs and barcodes, Decimal prices, every journey SKU there.
    assert Product.objects.count() == 20
    for variant in Variant.objects.all():
        assert re.fullmatch(r"[A-Z0-9][A-Z0-9-]{2,31}", variant.sku)
        assert int(variant.ean[12]) == ean13_check_digit(variant.ean[:12])
        assert variant.price > 0
    assert set(JOURNEY_SKUS.values()) <= set(Variant.objects.values_list("sku", flat=True))

    # Stock with variety: the warehouse is deep, some shelves nearly empty, some safety stock.
    assert_ledger_explains_stock()
    warehouse_stock = StockItem.objects.filter(store=warehouse)
    assert warehouse_stock.count() == Variant.objects.count()
    assert min(warehouse_stock.values_list("on_hand", flat=True)) >= 5
    assert StockItem.objects.filter(on_hand__in=[1, 2], store__is_warehouse=False).exists()
    assert StockItem.objects.filter(safety_stock__gt=0).exists()
    shop_rows = StockItem.objects.filter(store__is_warehouse=False).count()
    assert shop_rows < Variant.objects.count() * 5  # some SKUs are missing in some stores
    last_pair = StockItem.objects.get(
        variant__sku=JOURNEY_SKUS["shoes_last_pair"], store__code="BER-01"
    )
    assert last_pair.on_hand == 1
    assert StockItem.objects.get(variant__sku=JOURNEY_SKUS["drill"], store__code="CGN-01").on_hand
    assert not StockItem.objects.filter(
        variant__sku=JOURNEY_SKUS["drill_from_warehouse"], store__code="CGN-01", on_hand__gt=0
    ).exists()


def after_seed_summary(output: str) -> bool:
    return "Counts: 6 stores, 20 products" in output and "omnis-demo" in output


def test_customers_are_german_with_valid_identities_and_history():
    seed()

    assert Customer.objects.count() == 30 + 5  # generated plus the journeys' people
    phones = [p for p in Customer.objects.values_list("phone", flat=True) if p]
    for phone in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number_for_region(number, "DE")
        assert phone == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert Customer.objects.filter(phone__isnull=True).exists()  # e-mail only
    assert Customer.objects.filter(email__isnull=True).exists()  # phone only
    assert all(
        e == e.lower() for e in Customer.objects.exclude(email=None).values_list("email", flat=True)
    )
    assert Customer.objects.exclude(sizes={}).exists()
    assert Customer.objects.filter(
        marketing_consent=True, marketing_consent_at__isnull=False
    ).exists()
    assert ServiceNote.objects.exists()
    assert TimelineEvent.objects.filter(kind="product_view").exists()
    # Every note is on the timeline, as the store sees it.
    assert TimelineEvent.objects.filter(kind="note").count() == ServiceNote.objects.count()

    anna = Customer.objects.get(phone="+49301234567")
    assert (anna.first_name, anna.last_name, anna.email) == (
        "Anna",
        "Schmidt",
        "anna.schmidt@example.de",
    )
    assert anna.preferred_store.code == "BER-01"
    assert anna.sizes["shirts"] == "M"
    assert anna.user.username == "anna.schmidt@example.de"
    assert anna.user.check_password("omnis-demo")
    assert anna.timeline.filter(kind="product_view", sku=JOURNEY_SKUS["shirt_m"]).exists()
    assert anna.wishlist.filter(variant__sku=JOURNEY_SKUS["shoes_last_pair"]).exists()


def test_demo_logins_and_api_clients_work(anon):
    output = seed()

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("omnis-demo")
    manager = User.objects.get(username="manager")
    assert manager.is_staff and manager.check_password("omnis-demo")
    assert StoreMembership.objects.filter(user=manager, role=StaffRole.MANAGER).count() == 6
    # The Berlin login leads the store and covers the trade centre: it walks every journey.
    assert sorted(
        StoreMembership.objects.filter(user__username="berlin").values_list("store__code", "role")
    ) == [("BER-01", StaffRole.MANAGER), ("CGN-01", StaffRole.MANAGER)]
    assert list(
        StoreMembership.objects.filter(user__username="lager").values_list("store__code", flat=True)
    ) == ["WHS-01"]
    assert StoreMembership.objects.filter(
        user__username="service", role=StaffRole.SERVICE_AGENT
    ).exists()
    assert User.objects.get(username="koeln").groups.filter(name="store_staff").exists()

    keys = printed_keys(output)
    webshop = ApiClient.objects.get(name="webshop")
    assert (webshop.channel, webshop.key_hash) == ("web", hash_key(keys["webshop"]))
    assert ApiClient.objects.get(name="phone-desk").channel == "phone"
    anon.credentials(HTTP_AUTHORIZATION=f"Token {keys['webshop']}")
    assert anon.get("/api/v1/stores/").status_code == 200


def test_a_revoked_demo_client_is_active_again_after_a_rerun():
    seed()
    ApiClient.objects.filter(name="webshop").update(is_active=False)

    seed()

    assert ApiClient.objects.get(name="webshop").is_active


def test_refuses_production_settings_without_force(settings):
    settings.SETTINGS_MODULE = "config.settings.production"

    with pytest.raises(CommandError, match="production"):
        seed()

    assert not Store.objects.exists()


def test_refuses_nonsense_sizes():
    with pytest.raises(CommandError):
        call_command("seed_demo", "--products", "0", stdout=StringIO())
    assert not Store.objects.exists()
