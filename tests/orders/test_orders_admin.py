"""Admin actions on orders go through the services and respect the staff member's stores."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from inventory.models import StockItem
from orders.models.orders import OrderStatus
from tests.factories import UserFactory, staff_user
from tests.orders.factories_orders import committed, delivery_order, pickup_order, warehouse

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(client, action, *orders):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def store_admin(store):
    user = staff_user(store)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "change_order"])
    )
    return user


def test_superuser_marks_ready_and_hands_over(store):
    order = pickup_order(store)
    client = admin_client(UserFactory(is_superuser=True, is_staff=True))
    with committed():
        response = run_action(client, "mark_ready_for_pickup", order)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP and order.pickup_code
    run_action(client, "hand_over_in_full", order)
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    item = StockItem.objects.get(store=store, variant=order.lines.get().variant)
    assert item.reserved == 0


def test_refusal_is_reported_not_raised(store):
    order = pickup_order(store)
    client = admin_client(UserFactory(is_superuser=True, is_staff=True))
    response = run_action(client, "ship", order)
    assert response.status_code == 200
    assert "not a delivery order" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED


def test_staff_see_and_act_on_their_stores_only(store, other_store):
    mine = pickup_order(store)
    theirs = pickup_order(other_store)
    client = admin_client(store_admin(store))
    page = client.get(CHANGELIST).content.decode()
    assert mine.number in page and theirs.number not in page
    run_action(client, "cancel", mine, theirs)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == OrderStatus.CANCELLED
    assert theirs.status == OrderStatus.PLACED


def test_ship_and_deliver_from_the_admin():
    whs = warehouse()
    order = delivery_order(whs)
    client = admin_client(store_admin(whs))
    run_action(client, "ship", order)
    run_action(client, "deliver", order)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
