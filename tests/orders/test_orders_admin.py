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


def test_superuser_marks_ready_and_cannot_hand_over_without_the_code(store):
    order = pickup_order(store)
    client = admin_client(UserFactory(is_superuser=True, is_staff=True))
    with committed():
        response = run_action(client, "mark_ready_for_pickup", order)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP and order.pickup_code
    # Handing over needs the customer's code: at the desk or the store device, never in the admin.
    run_action(client, "hand_over_in_full", order)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP
    item = StockItem.objects.get(store=store, variant=order.lines.get().variant)
    assert item.reserved == order.lines.get().quantity


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


def test_every_admin_action_names_the_permission_it_needs():
    from django.contrib import admin

    from stores.services import ROLE_PERMISSIONS

    handed_out = {name for names in ROLE_PERMISSIONS.values() for name in names}
    ours = {"common", "stores", "inventory", "customers", "orders"}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ours:
            continue
        for action in model_admin.actions or ():
            function = getattr(model_admin, action) if isinstance(action, str) else action
            names = getattr(function, "allowed_permissions", ())
            assert names, f"{model.__name__} admin action {action} names no permission"
            for name in names:
                check = getattr(model_admin, f"has_{name}_permission")
                permission = getattr(check, "permission", None)
                if permission is not None:
                    assert permission in handed_out, f"{action}: no role has {permission}"
