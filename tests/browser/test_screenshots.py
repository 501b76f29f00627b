"""Every desk page of the demo in a real browser, as the Berlin login sees it.

`make screenshots` keeps the pictures in docs/screenshots/ (OMNIS_SCREENSHOTS names the folder);
in the suite they go to a temporary folder, so a desk page that stops rendering fails here.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.test.utils import override_settings

from common.actor import Actor
from common.models import Channel
from customers.models import Customer
from inventory.demo import JOURNEY_SKUS
from inventory.models import StockItem
from orders.demo import KEEP_CLEAR
from orders.models import Order, OrderStatus
from orders.services.orders import PICKUP_QR_PREFIX
from orders.services.sales import sell_at_till
from stores.models import Store
from tests.browser.desk import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def folder(tmp_path) -> Path:
    wanted = os.environ.get("OMNIS_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def desk_pages() -> list[tuple[str, str]]:
    """(file name, desk path) of every desk page, each showing something of the demo."""
    julia = Customer.objects.get(email="julia.neumann@example.de")
    web_order = Order.objects.filter(customer=julia, status=OrderStatus.DELIVERED).first()
    ready = Order.objects.get(
        customer__email="thomas.becker@example.de", status=OrderStatus.READY_FOR_PICKUP
    )
    item = (
        StockItem.objects.filter(
            store__code="BER-01", on_hand__gte=F("reserved") + F("safety_stock") + 1
        )
        .exclude(variant__sku__in=KEEP_CLEAR)
        .select_related("variant")
        .order_by("variant__sku")
        .first()
    )
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        sale = sell_at_till(
            actor=Actor(
                user=get_user_model().objects.get(username="berlin"), channel=Channel.STORE
            ),
            store=Store.objects.get(code="BER-01"),
            lines=[(item.variant, 1)],
            payment_method="card",
            customer=Customer.objects.get(email="anna.schmidt@example.de"),
        )
    return [
        ("board", "/desk/"),
        ("board-trade-centre", "/desk/?store=CGN-01"),
        ("search", "/desk/search/?q=Schmidt"),
        ("customer", f"/desk/customers/{julia.pk}/"),
        ("phone-desk", f"/desk/phone/?phone=0170+1234567&q={JOURNEY_SKUS['shirt_m']}"),
        ("reservations", "/desk/reservations/"),
        ("pickups", "/desk/pickups/?store=CGN-01"),
        (
            "hand-over",
            f"/desk/pickups/scan/?code={PICKUP_QR_PREFIX}{ready.number}:{ready.pickup_code}",
        ),
        ("transfers", "/desk/transfers/"),
        ("returns", "/desk/returns/"),
        ("return-order", f"/desk/returns/order/{web_order.number}/"),
        ("lists", "/desk/lists/?q=sabine.hoffmann%40example.de"),
        ("till", "/desk/till/"),
        ("receipt", f"/desk/till/receipt/{sale.number}/"),
    ]


def test_every_desk_page_of_the_demo(live_server, page, folder):
    # The pictures for the docs show a fuller demo; the suite only needs every page to render.
    size = (60, 60) if os.environ.get("OMNIS_SCREENSHOTS") else (20, 5)
    call_command("seed_demo", products=size[0], customers=size[1], verbosity=0)
    pages = desk_pages()
    log_in(page, live_server.url, "berlin")

    for name, path in pages:
        response = page.goto(live_server.url + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        page.locator("main").wait_for()
        page.screenshot(path=folder / f"{name}.png")

    saved = sorted(p.stem for p in folder.glob("*.png"))
    assert saved == sorted(name for name, _ in pages)
