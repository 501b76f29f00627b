"""Admin actions on returns call the services; staff act only on their stores' returns."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from common.actor import Actor
from orders.models import Return, ReturnStatus
from orders.services.returns import ReturnLineRequest, create_return
from tests.factories import UserFactory, staff_user
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db

URL = "/admin/orders/return/"


def announced(store):
    order = bought(store=store)
    return create_return(
        actor=Actor.system(),
        order=order,
        store=store,
        lines=[ReturnLineRequest(order_line=order.lines.get().pk, quantity=1, reason="other")],
    )


def act(client, action, *returns):
    return client.post(
        URL,
        {"action": action, "_selected_action": [r.pk for r in returns]},
        follow=True,
    )


def test_receive_and_refund_from_the_admin(store):
    r = announced(store)
    admin = Client()
    admin.force_login(UserFactory(is_superuser=True, is_staff=True))

    act(admin, "receive_resellable", r)
    response = act(admin, "refund_store_credit", r)

    r.refresh_from_db()
    assert r.status == ReturnStatus.REFUNDED
    assert "1 return(s) refunded." in response.content.decode()
    again = act(admin, "refund_store_credit", r)
    assert "already refunded" in again.content.decode()


def test_staff_see_and_act_only_on_their_stores(store, other_store):
    mine, theirs = announced(store), announced(other_store)
    user = staff_user(store)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_return", "change_return"])
    )
    client = Client()
    client.force_login(user)

    listing = client.get(URL).content.decode()
    assert mine.number in listing and theirs.number not in listing

    act(client, "reject", mine, theirs)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == ReturnStatus.REJECTED
    assert theirs.status == ReturnStatus.REQUESTED
    assert Return.objects.filter(status=ReturnStatus.REJECTED).count() == 1
