"""One search box (desk header and GET /api/v1/staff/search/): codes, QR payloads, numbers,
holds, phones, e-mails and names; staff find orders, holds and returns of their stores only."""

import pytest
from django.test import Client

from common.actor import Actor
from common.models import Channel
from orders.services.returns import ReturnLineRequest, create_return
from orders.tasks.orders import pickup_qr_payload
from stores.models import StaffRole
from tests.factories import CustomerFactory, staff_user
from tests.orders.factories_orders import ready_order, stocked_variant
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought, staff_api

pytestmark = pytest.mark.django_db


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def find(api, q):
    response = api.get("/api/v1/staff/search/", {"q": q})
    assert response.status_code == 200, response.content
    return [(r["kind"], r["id"]) for r in response.json()["results"]]


@pytest.fixture
def anna(db):
    return CustomerFactory(
        first_name="Anna", last_name="Becker", phone="+49301234567", email="anna@example.com"
    )


def test_a_pickup_code_typed_or_scanned_finds_the_order(store):
    order = ready_order(store)
    api = staff_api(store)
    assert find(api, order.pickup_code) == [("order", order.number)]
    assert find(api, order.pickup_code.lower()) == [("order", order.number)]
    assert find(api, pickup_qr_payload(order)) == [("order", order.number)]
    # The payload with a wrong code names no order.
    assert find(api, f"OMNIS-PICKUP:{order.number}:XXXXXX") == []


def test_the_desk_box_opens_the_order_at_the_counter(store):
    order = ready_order(store)
    response = desk(staff_user(store)).get("/desk/search/", {"q": pickup_qr_payload(order)})
    assert response.status_code == 302
    assert response["Location"].startswith("/desk/pickups/?store=BER-01")
    assert f"#order-{order.number}" in response["Location"]


def test_order_receipt_and_return_numbers(store, anna):
    variant = stocked_variant(store, 0)
    purchase = bought(customer=anna, store=store, lines=[(variant, 1, "30.00")])
    return_request = create_return(
        actor=Actor(channel=Channel.WEB),
        order=purchase,
        store=store,
        lines=[
            ReturnLineRequest(order_line=purchase.lines.get().pk, quantity=1, reason="too_small")
        ],
    )
    api = staff_api(store)
    assert find(api, purchase.number) == [("order", purchase.number)]
    assert find(api, f"ORDER:{purchase.number}") == [("order", purchase.number)]
    assert find(api, return_request.number.lower()) == [("return", str(return_request.pk))]
    client = desk(staff_user(store))
    response = client.get("/desk/search/", {"q": return_request.number})
    assert response["Location"] == f"/desk/returns/{return_request.pk}/"
    response = client.get("/desk/search/", {"q": purchase.number})
    assert response["Location"] == f"/desk/returns/order/{purchase.number}/"


def test_a_reservation_id(store, anna):
    hold = reservation_for(store, customer=anna)
    assert ("reservation", str(hold.pk)) in find(staff_api(store), str(hold.pk))
    assert ("reservation", str(hold.pk)) in find(staff_api(store), f"#{hold.pk}")


def test_phone_in_any_format_and_email_find_the_customer(store, anna):
    api = staff_api(store)
    for q in ("030 1234567", "+49 30 1234567", "0049301234567", "ANNA@example.com"):
        assert find(api, q) == [("customer", str(anna.pk))], q
    response = desk(staff_user(store)).get("/desk/search/", {"q": "030 1234567"})
    assert response["Location"] == f"/desk/customers/{anna.pk}/"


def test_names_are_for_service_agents_and_managers(store, anna):
    assert find(staff_api(store, role=StaffRole.SERVICE_AGENT), "beck") == [
        ("customer", str(anna.pk))
    ]
    assert find(staff_api(store, role=StaffRole.MANAGER), "Anna Becker") == [
        ("customer", str(anna.pk))
    ]
    refused = staff_api(store).get("/api/v1/staff/search/", {"q": "Anna Becker"})
    assert refused.status_code == 403
    page = desk(staff_user(store)).get("/desk/search/", {"q": "Anna Becker"})
    assert page.status_code == 200 and "service agents and managers" in page.content.decode()
    assert "anna@example.com" not in page.content.decode()


def test_other_stores_orders_holds_and_returns_are_not_found(store, other_store, anna):
    order = ready_order(other_store)
    hold = reservation_for(other_store, customer=anna)
    api = staff_api(store)
    assert find(api, order.pickup_code) == []
    assert find(api, pickup_qr_payload(order)) == []
    assert find(api, order.number) == []
    assert ("reservation", str(hold.pk)) not in find(api, str(hold.pk))
    # Customers are everyone's: found by exact phone from any store.
    assert find(api, "030 1234567") == [("customer", str(anna.pk))]
    # A service agent, who reserves in every store, sees the hold.
    agent = staff_api(store, role=StaffRole.SERVICE_AGENT)
    assert ("reservation", str(hold.pk)) in find(agent, str(hold.pk))


def test_api_results_carry_kind_id_label_and_url(store):
    order = ready_order(store)
    body = staff_api(store).get("/api/v1/staff/search/", {"q": order.pickup_code}).json()
    (hit,) = body["results"]
    assert hit["kind"] == "order" and hit["id"] == order.number
    assert order.number in hit["label"] and hit["url"] == f"/api/v1/orders/{order.number}/"


@pytest.mark.parametrize("q", ["", "   ", "x" * 5000, "ab", "12345678901234567890"])
def test_bad_input_is_a_message_never_a_500(store, q):
    client = desk(staff_user(store))
    response = client.get("/desk/search/", {"q": q})
    assert response.status_code == 200
    response = staff_api(store).get("/api/v1/staff/search/", {"q": q})
    assert response.status_code in (200, 400)


def test_a_nul_character_is_refused_at_the_door(store):
    response = desk(staff_user(store)).get("/desk/search/", {"q": "R-1\x00"})
    assert response.status_code == 400
    assert staff_api(store).get("/api/v1/staff/search/", {"q": "R-1\x00"}).status_code == 400


def test_an_empty_or_overlong_query_says_why(store):
    client = desk(staff_user(store))
    assert "Type or scan" in client.get("/desk/search/", {"q": ""}).content.decode()
    assert "too long" in client.get("/desk/search/", {"q": "x" * 5000}).content.decode()
    body = staff_api(store).get("/api/v1/staff/search/", {"q": "x" * 5000})
    assert body.status_code == 400 and "q" in str(body.json())


def test_every_desk_page_has_the_search_box(store):
    page = desk(staff_user(store)).get("/desk/pickups/").content.decode()
    assert 'action="/desk/search/"' in page
