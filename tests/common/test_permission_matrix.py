"""Every API endpoint and desk page, called as every kind of caller, answers as the permission
table (common.access) says. Generated from the URL resolver: a new endpoint without a rule fails
here, and so does one whose object-level check is missing."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from common.access import ANY_STAFF, caller_kind, rule_for
from common.actor import Actor, ClientPrincipal
from common.auth import issue_user_token
from common.models import (
    ApiClient,
    Channel,
    OutboxMessage,
    WebhookDelivery,
    WebhookSubscription,
)
from customers.models import Segment
from customers.privacy.consents import CONFIRM_TOPIC, update_consents
from customers.services import add_to_wishlist
from inventory.models import Transfer, TransferLine
from inventory.services.transfers import create_transfer
from orders.services.returns import ReturnLineRequest, create_return
from stores.models import StaffRole
from tests.conftest import token_client
from tests.customers.factories_discounts import discount_code
from tests.factories import (
    CustomerFactory,
    StoreFactory,
    UserFactory,
    WarehouseFactory,
    api_client_with_key,
    staff_user,
)
from tests.orders.factories_orders import ready_order, stocked_variant
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought

API_PREFIX = "api/v1/"
DESK_PREFIX = "desk/"
METHODS = ("get", "post", "put", "patch", "delete")
CALLERS = (
    "anonymous",
    "web",
    "app",
    "phone",
    "customer",
    "staff_here",
    "staff_elsewhere",
    "agent_here",
    "manager_here",
)
OBJECT_KWARGS = {"number", "pk", "sku", "code", "event_id", "customer_id"}


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def api_endpoints():
    for route, pattern in walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if not route.startswith(API_PREFIX) or view is None:
            continue
        for method in METHODS:
            if hasattr(view, method):
                yield pytest.param(route, view, method.upper(), id=f"{method.upper()} {route}")


def desk_pages():
    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith(DESK_PREFIX):
            yield pytest.param(route, pattern.callback, id=route)


@dataclass
class World:
    callers: dict
    users: dict
    kwargs: dict


@pytest.fixture
def world(db):
    here = StoreFactory(code="BER-01", name="Berlin")
    elsewhere = StoreFactory(code="HAM-01", name="Hamburg")
    warehouse = WarehouseFactory(code="WHS-01")
    user = UserFactory()
    customer = CustomerFactory(user=user, email=user.email, phone="+49301234567")
    variant = stocked_variant(here, 20)
    stocked_variant(warehouse, 0)
    add_to_wishlist(actor=Actor(channel=Channel.WEB), customer=customer, variant=variant)
    order = ready_order(here, customer=customer)
    reservation = reservation_for(here, customer=customer)
    purchase = bought(customer=customer, store=here, lines=[(variant, 2, "30.00")])
    return_request = create_return(
        actor=Actor(channel=Channel.WEB),
        order=purchase,
        store=here,
        lines=[
            ReturnLineRequest(order_line=purchase.lines.get().pk, quantity=1, reason="too_small")
        ],
    )
    transfer = Transfer.objects.create(from_store=warehouse, to_store=here)
    TransferLine.objects.create(transfer=transfer, variant=variant, quantity=1)
    code = discount_code(here, customer=customer)
    sent_from_here = create_transfer(
        actor=Actor(), from_store=here, to_store=elsewhere, lines=[(variant, 1)]
    )

    update_consents(
        actor=Actor(channel=Channel.WEB),
        customer=customer,
        changes=[{"purpose": "marketing", "channel": "email", "given": True}],
    )
    consent_token = OutboxMessage.objects.filter(topic=CONFIRM_TOPIC).latest("pk").payload["token"]
    segment = Segment.objects.create(
        name="Berlin", rules=[{"rule": "preferred_store", "store": here.code}]
    )

    web_client, web_key = api_client_with_key("webshop", Channel.WEB)
    subscription = WebhookSubscription.objects.create(
        client=web_client, url="http://127.0.0.1:9/hook", events=["order.created"], secret="s"
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event_id="msg_matrix", event_type="order.created", data={}
    )

    users = {
        "customer": user,
        "staff_here": staff_user(here),
        "staff_elsewhere": staff_user(elsewhere),
        "agent_here": staff_user(here, role=StaffRole.SERVICE_AGENT),
        "manager_here": staff_user(here, role=StaffRole.MANAGER),
    }
    callers = {"anonymous": APIClient(), "web": token_client(web_key)}
    for name, channel in (("app", Channel.APP), ("phone", Channel.PHONE)):
        callers[name] = token_client(api_client_with_key(f"{name}-server", channel)[1])
    for name, login in users.items():
        callers[name] = token_client(issue_user_token(login))
    kwargs = {
        "staff/stores/<str:code>/": {"code": here.code},
        "products/<str:sku>/": {"sku": variant.sku},
        "me/wishlist/<str:sku>/": {"sku": variant.sku},
        "staff/transfers/<int:pk>/": {"pk": transfer.pk},
        "staff/transfers/<int:pk>/dispatch/": {"pk": sent_from_here.pk},
        "customers/<int:pk>/": {"pk": customer.pk},
        "orders/<str:number>/": {"number": order.number},
        "reservations/<int:pk>/": {"pk": reservation.pk},
        "returns/<int:pk>/": {"pk": return_request.pk},
        "webhooks/<int:pk>/": {"pk": subscription.pk, "event_id": delivery.event_id},
        "lists/<int:customer_id>/": {"customer_id": customer.pk},
        "lists/<int:customer_id>/items/": {"customer_id": customer.pk, "sku": variant.sku},
        "customers/<int:customer_id>/": {"customer_id": customer.pk},
        "pickups/<str:number>/": {"number": order.number},
        "returns/order/<str:number>/": {"number": purchase.number},
        "discount-codes/<str:code>/": {"code": code.code},
        "consents/confirm/<str:token>/": {"token": consent_token},
        "segments/<int:pk>/": {"pk": segment.pk},
        "staff/campaigns/<str:tag>/": {"tag": "WINTER"},
        "till/receipt/<str:number>/": {"number": purchase.number},
        "transfers/<int:transfer_id>/": {"transfer_id": sent_from_here.pk},
        "insights/": {"chart": "orders_by_channel"},
    }
    return World(callers=callers, users=users, kwargs=kwargs)


def fill(route: str, prefix: str, world: World) -> str:
    path = route[len(prefix) :]
    values = {}
    for start, found in world.kwargs.items():
        if path.startswith(start) or f"/{start}" in f"/{path}":
            values.update(found)
    url = "/" + route
    for name, value in values.items():
        for converter in ("int", "str", "path"):
            url = url.replace(f"<{converter}:{name}>", str(value))
    assert "<" not in url, f"no object for {route}: add it to the world"
    return url


def expectation(rule, view, caller: str, user, route: str) -> str:
    if not getattr(view, "authentication_classes", True):
        user = AnonymousUser()  # a login endpoint: every caller is anonymous there
    kind = caller_kind(user)
    if kind == "anonymous":
        return "allow" if rule.anonymous else "401"
    if not rule.allows(user):
        return "deny"
    on_object = any(f"<{c}:{k}>" in route for k in OBJECT_KWARGS for c in ("int", "str"))
    if on_object and rule.scope == "store" and caller == "staff_elsewhere":
        return "deny"
    if on_object and rule.scope == "own" and kind == "client" and caller != "web":
        return "deny"  # the webshop's own webhook subscription
    return "allow"


def principal(world: World, caller: str):
    if caller in world.users:
        return world.users[caller]
    if caller == "anonymous":
        return AnonymousUser()
    name = {"web": "webshop", "app": "app-server", "phone": "phone-server"}[caller]
    return ClientPrincipal(ApiClient.objects.get(name=name))


@pytest.mark.parametrize(("route", "view", "method"), list(api_endpoints()))
def test_every_endpoint_answers_every_caller_as_the_table_says(world, route, view, method):
    rule = rule_for(view, method)
    assert rule is not None, f"{view.__name__}.access has no rule for {method}"
    url = fill(route, API_PREFIX, world)
    wrong = []
    for caller in CALLERS:
        expected = expectation(rule, view, caller, principal(world, caller), route)
        with transaction.atomic():
            response = getattr(world.callers[caller], method.lower())(url, {}, format="json")
            transaction.set_rollback(True)
        status = response.status_code
        ok = {
            "401": status == 401,
            "deny": status in (403, 404),
            "allow": status not in (401, 403) and status < 500,
        }[expected]
        if not ok:
            wrong.append(f"{caller}: expected {expected}, got {status}")
    assert not wrong, f"{method} /{route} ({rule.describe()}):\n" + "\n".join(wrong)


@pytest.mark.parametrize(("route", "view"), list(desk_pages()))
def test_every_desk_page_answers_every_caller_as_its_rule_says(world, route, view):
    rule = getattr(view, "desk_rule", None)
    assert rule is not None, f"desk page /{route} names no rule (common.access.desk_rule)"
    url = fill(route, DESK_PREFIX, world)
    wrong = []
    for caller in ("anonymous", "customer", *(c for c in CALLERS if c in world.users)):
        client = Client()
        if caller in world.users:
            client.force_login(world.users[caller])
        expected = "login" if caller in ("anonymous", "customer") else "page"
        if expected == "page" and not rule.allows(world.users[caller]):
            expected = "deny"
        with transaction.atomic():
            response = client.get(url)
            transaction.set_rollback(True)
        status = response.status_code
        ok = {
            "login": status == 302 and "/login/" in response["Location"],
            "deny": status in (403, 404, 405),
            "page": status in (200, 302, 404, 405),
        }[expected]
        if not ok:
            wrong.append(f"{caller}: expected {expected}, got {status}")
    assert not wrong, f"/{route} ({rule.describe()}):\n" + "\n".join(wrong)


def test_the_table_names_only_permissions_a_role_hands_out():
    from stores.services import ROLE_PERMISSIONS

    handed_out = {name for names in ROLE_PERMISSIONS.values() for name in names}
    named = set()
    for _route, view, method in (p.values for p in api_endpoints()):
        rule = rule_for(view, method)
        if rule and rule.staff and rule.staff != ANY_STAFF:
            named.add(rule.staff)
    for _route, view in (p.values for p in desk_pages()):
        rule = getattr(view, "desk_rule", None)
        if rule and rule.staff and rule.staff != ANY_STAFF:
            named.add(rule.staff)
    assert named <= handed_out, f"no role has {sorted(named - handed_out)}"


def test_docs_show_the_current_table(db):
    from pathlib import Path

    from common.management.commands.permission_table import permission_table

    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    start = docs.index("<!-- permission-table -->\n") + len("<!-- permission-table -->\n")
    end = docs.index("<!-- /permission-table -->")
    assert docs[start:end] == permission_table(), "run manage.py permission_table into docs/api.md"
