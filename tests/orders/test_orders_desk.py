"""The click & collect desk page: staff pick, mark ready and hand over with the customer's code."""

import pytest
from django.test import Client

from orders.models.orders import OrderStatus
from tests.factories import UserFactory, staff_user
from tests.orders.factories_orders import committed, pickup_order, ready_order

pytestmark = pytest.mark.django_db


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_lists_my_stores_pickups_only(store, other_store, django_assert_max_num_queries):
    to_pick = pickup_order(store)
    waiting = ready_order(store)
    elsewhere = ready_order(other_store)
    client = desk(staff_user(store))
    # 13: the menu asks once whether the login may see the insights (its permissions).
    with django_assert_max_num_queries(13):
        page = client.get("/desk/pickups/").content.decode()
    assert to_pick.number in page and waiting.number in page
    assert elsewhere.number not in page
    assert waiting.pickup_code not in page, "the code is the customer's proof, never shown"


def test_mark_ready_and_hand_over_with_the_code(store):
    order = pickup_order(store)
    client = desk(staff_user(store))
    with committed():
        client.post(f"/desk/pickups/{order.number}/ready/")
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP
    response = client.post(
        f"/desk/pickups/{order.number}/hand-over/", {"pickup_code": "WRONG9"}, follow=True
    )
    assert "does not match" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP and order.pickup_code_attempts == 1
    client.post(f"/desk/pickups/{order.number}/hand-over/", {"pickup_code": order.pickup_code})
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED


def test_other_stores_orders_and_non_staff_are_refused(store, other_store):
    order = pickup_order(other_store)
    assert desk(staff_user(store)).post(f"/desk/pickups/{order.number}/ready/").status_code == 404
    assert desk(UserFactory()).get("/desk/pickups/").status_code == 302
