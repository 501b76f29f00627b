"""The admin of the base apps: every page renders, changelists keep a fixed query count, ledgers
are read-only, keys are shown once, stock changes only through inventory services."""

import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import now

from common import webhooks
from common.actor import Actor
from common.auth import issue_user_token
from common.models import (
    ApiClient,
    Channel,
    IdempotencyKey,
    LoginEvent,
    OutboxMessage,
    SentNotification,
    UserToken,
    WebhookAttempt,
    hash_key,
)
from customers.models import Customer, Nudge, PossibleDuplicate, Segment, TimelineEvent
from customers.services import (
    add_service_note,
    add_store_credit_entry,
    add_to_wishlist,
    record_touchpoint,
)
from inventory.models import StockItem, StockMovement, Transfer, TransferLine, Variant
from inventory.services import set_safety_stock
from tests.customers.factories_discounts import discount_code
from tests.factories import (
    CustomerFactory,
    StoreFactory,
    VariantFactory,
    WarehouseFactory,
    api_client_with_key,
    staff_user,
)
from tests.inventory.factories_stock import stocked

User = get_user_model()

pytestmark = pytest.mark.django_db

APPS = {"common", "stores", "inventory", "customers"}


def url(model, view: str, *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


@pytest.fixture
def world(db):
    """One of everything the admin of the base apps shows."""
    store = StoreFactory(code="BER-01")
    warehouse = WarehouseFactory(code="WHS-01")
    variant = VariantFactory(sku="HEM-0001-M-WEI")
    stocked(variant, store, 5)
    stocked(variant, warehouse, 20)
    staff = staff_user(store, username="berlin")
    customer = CustomerFactory(phone="+49301234567", email="anna.schmidt@example.de")
    agent = Actor(user=staff, channel=Channel.PHONE)
    add_service_note(actor=agent, customer=customer, text="Agreed full refund")
    add_to_wishlist(actor=Actor(channel=Channel.WEB), customer=customer, variant=variant)
    record_touchpoint(
        actor=Actor(channel=Channel.WEB), customer=customer, kind="product_view", sku=variant.sku
    )
    transfer = Transfer.objects.create(from_store=warehouse, to_store=store)
    TransferLine.objects.create(transfer=transfer, variant=variant, quantity=1)
    webshop, _ = api_client_with_key("webshop", Channel.WEB)
    subscription = webhooks.subscribe(
        client=webshop, url="https://shop.example/hooks", events=["order.status_changed"]
    )
    webhooks.publish("order.status_changed", {"order": "W-000001"}, subject="order:W-000001")
    WebhookAttempt.objects.create(
        delivery=subscription.deliveries.get(), number=1, status_code=500, state="pending", at=now()
    )
    issue_user_token(staff)
    add_store_credit_entry(customer=customer, amount=Decimal("10.00"), reason="Return R-1")
    IdempotencyKey.objects.create(
        principal="client:1", key="k-1", method="POST", path="/api/v1/orders/", fingerprint="x"
    )
    SentNotification.objects.create(key="order-ready-1", template="order_ready", recipient="a@b.de")
    OutboxMessage.objects.create(topic="orders.send_order_confirmation", next_attempt_at=now())
    PossibleDuplicate.objects.create(customer=customer, phone="+49309999999", channel="web")
    for safety in (1, 0):  # two safety stock changes; the stock row ends as it was
        set_safety_stock(actor=agent, store=warehouse, variant=variant, quantity=safety)
    LoginEvent.objects.create(kind="login", username="berlin", user=staff, ip="192.0.2.10")
    discount_code(store, customer=customer, campaign="qr-berlin")
    segment = Segment.objects.create(
        name="Berlin", rules=[{"rule": "preferred_store", "store": store.code}]
    )
    Nudge.objects.create(
        customer=customer, variant=variant, week="2026-W49", reason="listed", segment=segment
    )
    return {"store": store, "variant": variant, "customer": customer, "staff": staff}


def registered_models():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in APPS or model is User
    ]


def test_every_changelist_and_change_page_renders_for_a_superuser(admin_client, world):
    checked = []
    for model, model_admin in registered_models():
        response = admin_client.get(url(model, "changelist"))
        assert response.status_code == 200, model
        obj = model.objects.order_by("pk").first()
        assert obj is not None, f"no {model.__name__} to show"
        response = admin_client.get(url(model, "change", obj.pk))
        assert response.status_code == 200, model
        if model_admin.has_add_permission(response.wsgi_request):
            assert admin_client.get(url(model, "add")).status_code == 200, model
        checked.append(model._meta.label)
    assert {"inventory.StockMovement", "customers.TimelineEvent", "common.ApiClient"} <= set(
        checked
    )


def test_searches_find_skus_barcodes_products_and_store_codes(admin_client, world):
    variant = world["variant"]
    for term in (variant.sku, variant.ean, variant.product.name, "BER-01"):
        response = admin_client.get(url(StockItem, "changelist"), {"q": term})
        assert response.status_code == 200
        assert response.context["cl"].result_count >= 1, term
    response = admin_client.get(url(StockItem, "changelist"), {"q": "NO-SUCH-SKU"})
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("term", ["030 1234567", "+49 30 1234567", "0049301234567"])
def test_customer_search_finds_a_phone_number_in_any_format(admin_client, world, term):
    CustomerFactory(phone="+49301234568")

    response = admin_client.get(url(Customer, "changelist"), {"q": term})

    assert list(response.context["cl"].result_list) == [world["customer"]]


def test_customer_search_by_name_and_email(admin_client, world):
    world["customer"].first_name, world["customer"].last_name = "Anna", "Schmidt"
    world["customer"].save()
    for term in ("Anna Schmidt", "ANNA.SCHMIDT@example.de"):
        response = admin_client.get(url(Customer, "changelist"), {"q": term})
        assert list(response.context["cl"].result_list) == [world["customer"]], term


def _many(model_name: str, count: int) -> None:
    """`count` more rows of one list, each with its own related rows."""
    for _ in range(count):
        store = StoreFactory()
        variant = VariantFactory()
        if model_name in ("StockItem", "StockMovement"):
            stocked(variant, store, 3)
        if model_name == "Customer":
            CustomerFactory(preferred_store=store)


@pytest.mark.parametrize(
    "model",
    [StockItem, StockMovement, Customer, TimelineEvent, Variant],
    ids=lambda m: m.__name__,
)
def test_changelists_keep_a_fixed_query_count(
    admin_client, world, model, django_assert_max_num_queries
):
    changelist = url(model, "changelist")
    admin_client.get(changelist)  # warm up sessions and content types
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(changelist).status_code == 200

    _many(model.__name__ if model is not TimelineEvent else "Customer", 30)
    if model is TimelineEvent:
        for customer in Customer.objects.all():
            record_touchpoint(
                actor=Actor(channel=Channel.APP), customer=customer, kind="touchpoint"
            )
    assert model.objects.count() >= 30

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(changelist)
    assert len(response.context["cl"].result_list) >= 30


def test_the_ledger_and_the_timeline_cannot_be_added_changed_or_deleted(admin_client, world):
    movement = StockMovement.objects.first()
    event = TimelineEvent.objects.first()
    for model, obj in ((StockMovement, movement), (TimelineEvent, event)):
        assert admin_client.get(url(model, "add")).status_code == 403
        assert admin_client.get(url(model, "delete", obj.pk)).status_code == 403
        page = admin_client.get(url(model, "change", obj.pk))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content  # a view page, not a form
        response = admin_client.post(url(model, "change", obj.pk), {"reason": "edited"})
        assert response.status_code == 403
    movement.refresh_from_db()
    assert movement.reason != "edited"


def test_stock_quantities_cannot_be_edited_in_the_admin(admin_client, world):
    item = StockItem.objects.get(store=world["store"])

    admin_client.post(
        url(StockItem, "change", item.pk), {"on_hand": 99, "reserved": 3, "safety_stock": 2}
    )

    item.refresh_from_db()
    assert (item.on_hand, item.reserved, item.safety_stock) == (5, 0, 0)
    assert admin_client.get(url(StockItem, "add")).status_code == 403


def _action(admin_client, model, action: str, objs, **data):
    return admin_client.post(
        url(model, "changelist"),
        {"action": action, "_selected_action": [o.pk for o in objs], **data},
    )


def test_receiving_goods_in_the_admin_goes_through_the_ledger(admin_client, world):
    item = StockItem.objects.get(store=world["store"])

    page = _action(admin_client, StockItem, "receive_goods", [item])
    assert page.status_code == 200 and b"Receive goods" in page.content  # asks for the quantity
    response = _action(
        admin_client, StockItem, "receive_goods", [item], apply="1", quantity=4, reason="Lieferung"
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.on_hand == 9
    last = StockMovement.objects.filter(stock_item=item).order_by("-id").first()
    assert (last.kind, last.on_hand_delta, last.reason) == ("receipt", 4, "Lieferung")
    assert last.actor_user.username == "admin"


def test_a_bad_quantity_writes_nothing_and_shows_the_form_again(admin_client, world):
    item = StockItem.objects.get(store=world["store"])
    movements = StockMovement.objects.count()

    page = _action(admin_client, StockItem, "receive_goods", [item], apply="1", quantity=0)

    assert page.status_code == 200
    assert page.context["form"].errors["quantity"]
    assert StockMovement.objects.count() == movements


def test_safety_stock_and_counts_through_the_admin(admin_client, world):
    item = StockItem.objects.get(store=world["store"])

    _action(admin_client, StockItem, "change_safety_stock", [item], apply="1", quantity=2)
    _action(
        admin_client, StockItem, "record_count", [item], apply="1", counted=3, reason="Inventur"
    )

    item.refresh_from_db()
    assert (item.on_hand, item.safety_stock) == (3, 2)
    assert StockMovement.objects.filter(
        stock_item=item, kind="adjustment", on_hand_delta=-2
    ).exists()


def test_staff_change_stock_only_in_their_own_stores(client, world):
    staff = world["staff"]
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_stockitem", "change_stockitem"])
    )
    client.force_login(staff)
    own = StockItem.objects.get(store=world["store"])
    foreign = StockItem.objects.exclude(store=world["store"]).get()

    response = _action(
        client, StockItem, "change_safety_stock", [own, foreign], apply="1", quantity=1
    )

    assert response.status_code == 302
    own.refresh_from_db()
    foreign.refresh_from_db()
    assert (own.safety_stock, foreign.safety_stock) == (1, 0)


def test_creating_an_api_client_shows_its_key_once(admin_client, db):
    response = admin_client.post(
        url(ApiClient, "add"), {"name": "app-backend", "channel": "app"}, follow=True
    )

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    key = next(re.search(r"is (\S+) —", m).group(1) for m in shown if "not shown again" in m)
    client = ApiClient.objects.get(name="app-backend")
    assert client.key_hash == hash_key(key) and client.key_prefix == key[:8]
    page = admin_client.get(url(ApiClient, "change", client.pk))
    assert key.encode() not in page.content


def test_an_api_client_with_a_store_channel_or_a_taken_name_is_refused(admin_client, db):
    api_client_with_key("webshop", Channel.WEB)
    for data in ({"name": "till", "channel": "store"}, {"name": "webshop", "channel": "web"}):
        response = admin_client.post(url(ApiClient, "add"), data)
        assert response.status_code == 200 and response.context["adminform"].form.errors
    assert ApiClient.objects.count() == 1


def test_the_key_of_an_api_client_cannot_be_edited(admin_client, db):
    client, _ = api_client_with_key("webshop", Channel.WEB)

    admin_client.post(
        url(ApiClient, "change", client.pk),
        {"name": "webshop", "channel": "phone", "key_prefix": "hacked", "is_active": ""},
    )

    client.refresh_from_db()
    assert (client.channel, client.is_active) == ("web", True)
    assert client.key_prefix != "hacked"


def test_revoke_actions(admin_client, anon, db):
    client, key = api_client_with_key("webshop", Channel.WEB)
    user = User.objects.create_user("kunde@example.de", password="pw-12345678")
    token_key = issue_user_token(user)

    _action(admin_client, ApiClient, "revoke", [client])
    _action(admin_client, UserToken, "revoke", UserToken.objects.all())

    client.refresh_from_db()
    assert not client.is_active and client.revoked_at is not None
    assert UserToken.objects.get().revoked_at is not None
    for secret in (key, token_key):
        anon.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
        assert anon.get("/api/v1/stores/").status_code == 401


def test_editing_a_customer_goes_through_the_service_and_lands_on_the_timeline(admin_client, world):
    customer = world["customer"]
    page = admin_client.get(url(Customer, "change", customer.pk))
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update(
        {
            "sizes": '{"shirts": "M"}',
            "favourite_categories": "[]",
            "phone": "030 7654321",
            "marketing_consent": "on",  # read-only: consents are given by the customer
            "preferred_store": world["store"].pk,
        }
    )
    for prefix in ("consents", "notes", "wishlist", "store_credit", "timeline"):
        data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"

    response = admin_client.post(url(Customer, "change", customer.pk), data)

    assert response.status_code == 302, (
        getattr(response, "context", None) and response.context["adminform"].form.errors
    )
    customer.refresh_from_db()
    assert customer.phone == "+49307654321"
    assert customer.sizes == {"shirts": "M"}
    assert not customer.marketing_consent and not customer.consents.exists()
    event = customer.timeline.filter(kind="profile_changed").order_by("-id").first()
    assert "phone" in event.summary and event.actor_user.username == "admin"


def test_adding_a_known_person_as_customer_creates_no_duplicate(admin_client, world):
    data = {
        "first_name": "Anna",
        "last_name": "Schmidt",
        "email": "",
        "phone": "030 1234567",
        "postcode": "",
        "sizes": "{}",
        "favourite_categories": "[]",
        "contact_channel": "email",
    }
    for prefix in ("consents", "notes", "wishlist", "store_credit", "timeline"):
        data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"

    response = admin_client.post(url(Customer, "add"), data)

    # The form's uniqueness check finds the normalised phone: nothing new is written.
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"]
    assert Customer.objects.count() == 1
