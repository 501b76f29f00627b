"""Every desk form, fed what people really type: empty, letters, 20-digit numbers, 5,000 characters,
an unknown code. Generated: the POST views come from the URL resolver, their fields from the forms
on the desk's own pages. The answer is never a 500, and a refused value writes nothing.

A new desk form needs no new test here; a POST view whose form appears on no page below fails
`test_every_desk_form_is_found`, so it cannot be forgotten."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.db import transaction
from django.test import Client

from common.actor import Actor
from common.models import Channel
from customers.models import Customer, ServiceNote, WishlistItem
from inventory.models import StockMovement
from inventory.services.transfers import create_transfer, dispatch_transfer
from orders.models import Order, Refund, Reservation, Return
from orders.services.returns import ReturnLineRequest, create_return, receive_return
from stores.models import Store
from tests.common import test_permission_matrix as matrix
from tests.orders.factories_orders import pickup_order, stocked_variant
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db

# Every desk address with objects to open: the permission matrix's world.
world = matrix.world
desk_pages, fill, DESK_PREFIX = matrix.desk_pages, matrix.fill, matrix.DESK_PREFIX

NASTY = {
    "empty": "",
    "letters": "abcdef",
    "20 digits": "12345678901234567890",
    "5000 characters": "x" * 5000,
    "unknown code": "ZZ-UNKNOWN-0",
    "negative": "-1",
}
# Fields where words are a fine answer (so letters, digits or a code are valid input there), with
# the most characters they take: a form with only such fields may rightly act on them.
FREE_TEXT = {"reason": 200, "text": 4000, "note": 500, "first_name": 100, "last_name": 100}
# Fields that only carry the page's state back (search boxes, where to return to).
CARRIED = {"csrfmiddlewaretoken", "confirmed"}
# Pages that show forms only with a query (the rest of the desk's GET pages are read as they are).
PAGES_WITH_QUERY = (
    "/desk/phone/?phone=030+1234567&q={sku}",
    "/desk/phone/?phone=0170+5555555&q={sku}",
    "/desk/lists/?q=%2B49301234567",
    "/desk/pickups/scan/?code={number}",
)


@dataclass
class Form:
    action: str
    fields: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # the page's state carried along, not typed


class FormReader(HTMLParser):
    """The POST forms of a page: action, field names and what a user would send untouched (the
    values shown, a select's chosen or first usable option, every box ticked)."""

    def __init__(self, page: str):
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        form = self.current
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            action = attrs.get("action") or self.page
            self.current = Form(action=urlsplit(action).path)
            self.forms.append(self.current)
        elif form is None:
            return
        elif tag == "option" and self.select and "disabled" not in attrs:
            if "selected" in attrs or self.select not in form.values:
                form.values[self.select] = attrs.get("value") or ""
        elif tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            name = attrs["name"]
            form.fields.add(name)
            if attrs.get("type") == "hidden":
                form.hidden.add(name)
            self.select = name if tag == "select" else None
            if tag in ("input", "button") and attrs.get("value") is not None:
                form.values.setdefault(name, attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def _route_of(path: str) -> str | None:
    from django.urls import resolve

    match = resolve(path)
    return match.route


def desk_forms(client: Client, world) -> dict[str, list[Form]]:
    """{route: [forms posting to it]} from every desk page a manager can open."""
    pages = []
    for param in desk_pages():
        route, _view = param.values
        pages.append(fill(route, DESK_PREFIX, world))
    sku = world.kwargs["products/<str:sku>/"]["sku"]
    number = world.kwargs["pickups/<str:number>/"]["number"]
    pages += [page.format(sku=sku, number=number) for page in PAGES_WITH_QUERY]
    pages += getattr(client, "more_pages", [])
    forms: dict[str, list[Form]] = {}
    for page in pages:
        response = client.get(page)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        reader = FormReader(urlsplit(page).path)
        reader.feed(response.content.decode())
        for form in reader.forms:
            if form.action.startswith(f"/{DESK_PREFIX}"):  # not the language switcher's
                forms.setdefault(_route_of(form.action), []).append(form)
    return forms


def post_views(client: Client, world) -> dict[str, str]:
    """{route: url} of every desk URL that takes a POST (anything but 405 to an empty one)."""
    found = {}
    for param in desk_pages():
        route, _view = param.values
        url = fill(route, DESK_PREFIX, world)
        with transaction.atomic():
            status = client.post(url, {}).status_code
            transaction.set_rollback(True)
        if status != 405:
            found[route] = url
    return found


def written() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "reservations": Reservation.objects.count(),
        "returns": Return.objects.count(),
        "refunds": Refund.objects.count(),
        "stock movements": StockMovement.objects.count(),
        "list items": WishlistItem.objects.count(),
        "service notes": ServiceNote.objects.count(),
        "customers": Customer.objects.count(),
        "customer changes": Customer.history.count(),
    }


def may_act_on(fields: set[str], value: str) -> bool:
    """Could a form with these fields rightly do something with `value` in each of them?"""
    typed = fields - CARRIED
    return bool(typed) and all(
        name in FREE_TEXT and 0 < len(value.strip()) <= FREE_TEXT[name] for name in typed
    )


@pytest.fixture
def manager(world) -> Client:
    """A manager of the world's store, with the objects whose buttons the world lacks: an order to
    pick, a received return to refund, a transfer arriving."""
    here = Store.objects.get(code="BER-01")
    actor = Actor(user=world.users["manager_here"], channel=Channel.STORE)
    pickup_order(here)
    purchase = bought(store=here, lines=[(stocked_variant(here, 3), 1, "20.00")])
    announced = create_return(
        actor=actor,
        order=purchase,
        store=here,
        lines=[ReturnLineRequest(order_line=purchase.lines.get().pk, quantity=1, reason="other")],
    )
    receive_return(
        actor=actor,
        return_request=announced,
        conditions={line.pk: "resellable" for line in announced.lines.all()},
    )
    warehouse = Store.objects.get(code="WHS-01")
    arriving = create_transfer(
        actor=actor, from_store=warehouse, to_store=here, lines=[(stocked_variant(warehouse), 1)]
    )
    dispatch_transfer(actor=actor, transfer=arriving)
    client = Client(raise_request_exception=False)  # a 500 is counted, not raised
    client.force_login(world.users["manager_here"])
    client.more_pages = [f"/desk/returns/{announced.pk}/"]
    return client


def test_every_desk_form_is_found(manager, world):
    forms = desk_forms(manager, world)
    missing = sorted(set(post_views(manager, world)) - set(forms))
    assert not missing, (
        f"desk POST views whose form is on no page read here: {missing}; "
        "add the page that shows it to PAGES_WITH_QUERY"
    )


SAYS_WHY = ('class="errorlist"', '<li class="error">')  # next to a field, or above the form


def _post(client: Client, url: str, data: dict, follow=True) -> tuple[int, dict, dict, bool]:
    """Post and roll back: (status, counts before, counts after, whether the answer says why — a
    form shown again keeps what was typed; a redirect away from it must say why)."""
    data = {**data, "confirmed": "1"}  # past any "are you sure?" step, to the real check
    with transaction.atomic():
        before = written()
        response = client.post(url, data, follow=follow)
        after = written()
        transaction.set_rollback(True)
    chain = getattr(response, "redirect_chain", None)  # only when followed
    status = chain[0][1] if chain else response.status_code
    says_why = not chain or any(
        mark in response.content.decode(errors="replace") for mark in SAYS_WHY
    )
    return status, before, after, says_why


def test_no_desk_form_fails_on_bad_input(manager, world):
    forms = [form for found in desk_forms(manager, world).values() for form in found]
    assert len(forms) >= 15  # the walk found the desk's forms
    failures = []
    for form in forms:
        typed = form.fields - CARRIED
        for label, value in NASTY.items():
            # The value in every field at once: refused as a whole, nothing written.
            status, before, after, says_why = _post(
                manager,
                form.action,
                {"action": form.values.get("action", "")} | dict.fromkeys(typed, value),
            )
            visible = typed - form.hidden
            refused = visible and not may_act_on(visible, value)
            if status >= 500:
                failures.append(f"{form.action} with {label} everywhere: {status}")
            elif refused and after != before:
                changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
                failures.append(f"{form.action} with {label} everywhere wrote {changed}")
            elif refused and not says_why:
                failures.append(f"{form.action} with {label} everywhere: refused without a word")
            # The value in one field, the rest as the page filled them in.
            for name in sorted(typed):
                status, *_rest = _post(
                    manager, form.action, form.values | {name: value}, follow=False
                )
                if status >= 500:
                    failures.append(f"{form.action} with {label} in {name}: {status}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("label", list(NASTY))
def test_no_desk_address_fails_on_a_bad_code_in_it(manager, world, label):
    """The codes in desk addresses (order numbers, ids) are typed and scanned too."""
    value = NASTY[label] or " "
    failures = []
    for param in desk_pages():
        route, _view = param.values
        if "<str:" not in route and "<int:" not in route:
            continue
        url = "/" + route
        for converter in ("str", "int"):
            while f"<{converter}:" in url:
                start = url.index(f"<{converter}:")
                end = url.index(">", start)
                raw = value if converter == "str" else (value if value.isdigit() else "0")
                url = url[:start] + quote(raw, safe="") + url[end + 1 :]
        for method in ("get", "post"):
            with transaction.atomic():
                response = getattr(manager, method)(url, {"confirmed": "1"})
                transaction.set_rollback(True)
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {url[:80]}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_query_strings_of_desk_pages_never_fail(manager, world):
    """Search boxes and filters are forms too (GET)."""
    failures = []
    for param in desk_pages():
        route, _view = param.values
        url = fill(route, DESK_PREFIX, world)
        for label, value in NASTY.items():
            query = urlencode(
                {name: value for name in ("q", "phone", "postcode", "code", "store", "page", "sku")}
            )
            response = manager.get(f"{url}?{query}")
            if response.status_code >= 500:
                failures.append(f"{url} with {label}: {response.status_code}")
    assert not failures, "\n".join(failures)
