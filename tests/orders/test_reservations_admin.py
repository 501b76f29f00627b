"""Reservation admin: the list and detail render; the actions go through the services."""

import pytest
from django.contrib.auth.models import Permission

from orders.models import Reservation, ReservationStatus
from tests.factories import staff_user
from tests.orders.factories_reservations import reservation_for

pytestmark = pytest.mark.django_db
URL = "/admin/orders/reservation/"


@pytest.fixture
def admin_login(client, store):
    user = staff_user(store, is_superuser=True)
    client.force_login(user)
    return client


def test_list_and_detail_render(admin_login, store):
    reservation = reservation_for(store)
    assert admin_login.get(URL).status_code == 200
    page = admin_login.get(f"{URL}{reservation.pk}/change/")
    assert page.status_code == 200
    assert reservation.lines.get().variant.sku in page.content.decode()


@pytest.mark.parametrize(
    "action, status", [("collect", "collected"), ("release", "released"), ("extend", "active")]
)
def test_actions_call_the_services(admin_login, store, action, status):
    reservation = reservation_for(store)
    response = admin_login.post(
        URL, {"action": action, "_selected_action": [reservation.pk]}, follow=True
    )
    assert response.status_code == 200
    reservation.refresh_from_db()
    assert reservation.status == status
    if action == "extend":
        assert reservation.extension_count == 1


def test_staff_of_another_store_cannot_act(client, store, other_store):
    reservation = reservation_for(store)
    user = staff_user(other_store)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="reservation"))
    client.force_login(user)
    response = client.post(
        URL, {"action": "collect", "_selected_action": [reservation.pk]}, follow=True
    )
    # Another store's holds are not even listed to them: nothing to select, nothing done.
    assert response.status_code == 200
    assert Reservation.objects.get().status == ReservationStatus.ACTIVE


def test_staff_see_only_their_stores_holds(client, store, other_store):
    mine = reservation_for(store)
    theirs = reservation_for(other_store)
    client.force_login(staff_user(store))
    page = client.get("/admin/orders/reservation/").content.decode()
    assert f"/admin/orders/reservation/{mine.pk}/change/" in page
    assert f"/admin/orders/reservation/{theirs.pk}/change/" not in page
    assert client.get(f"/admin/orders/reservation/{theirs.pk}/change/").status_code == 302
