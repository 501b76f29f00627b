"""Journey 1, poster to store: the caller is found by phone, the item is reserved in the nearby
store, and then either the customer collects it or the hold runs out."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from inventory.models import StockItem
from orders.models import Order, Reservation
from tests.factories import StoreFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_reservations import variant_in_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(web, phone_desk, staff, store, django_capture_on_commit_callbacks):
    """Anna is known to the webshop as +49301234567 and viewed the jacket on the web."""
    jacket = variant_in_stock(store, 2, product__name="Regenjacke Nordkap")
    stocked(jacket, StoreFactory(code="MUC-01", latitude="48.137154", longitude="11.576124"), 5)
    response = web.post(
        "/api/v1/customers/",
        {"phone": "+49 30 1234567", "email": "anna@example.de", "first_name": "Anna"},
        format="json",
    )
    assert response.status_code == 201
    anna_id = response.json()["id"]
    web.post(
        f"/api/v1/customers/{anna_id}/touchpoints/",
        {"kind": "product_view", "sku": jacket.sku},
        format="json",
    )

    # The agent types the number the way the caller says it.
    found = phone_desk.get("/api/v1/customers/", {"phone": "030 1234567"}).json()
    assert [c["id"] for c in found["results"]] == [anna_id]

    availability = {
        row.store.code: row.available for row in StockItem.objects.filter(variant=jacket)
    }
    assert availability == {"BER-01": 2, "MUC-01": 5}

    with django_capture_on_commit_callbacks(execute=True):
        response = phone_desk.post(
            "/api/v1/reservations/",
            {
                "customer": anna_id,
                "store": "BER-01",
                "lines": [{"sku": jacket.sku, "quantity": 1}],
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="call-1",
        )
    assert response.status_code == 201, response.json()
    reservation = Reservation.objects.get(pk=response.json()["id"])
    assert mail.outbox[-1].to == ["anna@example.de"]
    assert StockItem.objects.get(variant=jacket, store=store).available == 1
    return {"reservation": reservation, "jacket": jacket, "anna": anna_id}


def test_the_customer_walks_in_and_buys_the_reserved_item(journey, staff, store):
    reservation = journey["reservation"]
    # The salesperson sees the reservation in the store's list.
    listed = staff.get("/api/v1/staff/reservations/", {"store": "BER-01"}).json()["results"]
    assert [r["id"] for r in listed] == [reservation.pk]
    # ... and on the customer's timeline the web visit of the product.
    timeline = staff.get(f"/api/v1/customers/{journey['anna']}/timeline/").json()["results"]
    assert {"product_view", "reservation_created"} <= {event["kind"] for event in timeline}

    response = staff.post(f"/api/v1/staff/reservations/{reservation.pk}/collect/", format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "collected"
    order = Order.objects.get(number=response.json()["order"])
    assert order.channel == "store" and order.customer_id == journey["anna"]
    item = StockItem.objects.get(variant=journey["jacket"], store=store)
    assert (item.on_hand, item.reserved) == (1, 0)
    assert_ledger_consistent()


def test_the_hold_runs_out_and_the_jacket_goes_back_on_sale(
    journey, staff, store, django_capture_on_commit_callbacks
):
    reservation = journey["reservation"]
    # Time travel: the deadline passed.
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=reservation.expires_at - timedelta(days=3),
        remind_at=None,
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("release_expired_reservations", stdout=(out := StringIO()))
    assert "1 expired reservation(s) released" in out.getvalue()
    reservation.refresh_from_db()
    assert (reservation.status, reservation.release_reason) == ("released", "expired")
    assert "expired" in mail.outbox[-1].subject
    assert StockItem.objects.get(variant=journey["jacket"], store=store).available == 2

    response = staff.post(f"/api/v1/staff/reservations/{reservation.pk}/collect/", format="json")
    assert response.status_code == 409
    assert not Order.objects.exists()
    assert_ledger_consistent()
