"""A store manager runs their own stores in the admin: not other stores, not roles above theirs."""

import pytest
from django.test import Client

from stores.models import StaffRole, Store, StoreMembership
from tests.factories import StoreFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores():
    return StoreFactory(code="BER-01"), StoreFactory(code="HAM-01")


@pytest.fixture
def manager(stores):
    user = staff_user(stores[0], role=StaffRole.MANAGER, username="berlin-manager")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def membership_form(store, user, role):
    return {"user": user.pk, "store": store.pk, "role": role}


def test_a_manager_sees_and_edits_only_their_stores(manager, stores):
    berlin, hamburg = stores
    page = manager.get("/admin/stores/store/").content.decode()
    assert "BER-01" in page and "HAM-01" not in page
    assert manager.get(f"/admin/stores/store/{hamburg.pk}/change/").status_code == 302
    response = manager.post(
        f"/admin/stores/store/{hamburg.pk}/change/", {"name": "Taken over"}, follow=True
    )
    hamburg.refresh_from_db()
    assert hamburg.name != "Taken over"
    assert response.status_code == 200


def test_a_manager_cannot_join_another_store(manager, stores):
    berlin, hamburg = stores
    response = manager.post(
        "/admin/stores/storemembership/add/",
        membership_form(hamburg, manager.user, StaffRole.MANAGER),
    )
    assert response.status_code == 200, "the form is shown again with an error"
    assert not StoreMembership.objects.filter(user=manager.user, store=hamburg).exists()


def test_a_service_agent_cannot_hand_out_roles(stores):
    berlin, _ = stores
    agent = staff_user(berlin, role=StaffRole.SERVICE_AGENT)
    client = Client()
    client.force_login(agent)
    newcomer = staff_user(username="newcomer")
    # A service agent has no right to memberships at all.
    refused = client.post(
        "/admin/stores/storemembership/add/",
        membership_form(berlin, newcomer, StaffRole.MANAGER),
    )
    assert refused.status_code == 403
    assert not StoreMembership.objects.filter(user=newcomer).exists()


def test_a_manager_hands_out_roles_at_their_store(manager, stores):
    berlin, _ = stores
    newcomer = staff_user(username="newcomer")
    response = manager.post(
        "/admin/stores/storemembership/add/",
        membership_form(berlin, newcomer, StaffRole.STORE_STAFF),
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert StoreMembership.objects.filter(
        user=newcomer, store=berlin, role=StaffRole.STORE_STAFF
    ).exists()


def test_the_membership_list_shows_only_managed_stores(manager, stores):
    berlin, hamburg = stores
    staff_user(hamburg, username="hamburg-staff")
    page = manager.get("/admin/stores/storemembership/").content.decode()
    assert "berlin-manager" in page and "hamburg-staff" not in page


def test_a_superuser_still_runs_everything(stores):
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    page = client.get("/admin/stores/store/").content.decode()
    assert "BER-01" in page and "HAM-01" in page
    assert Store.objects.count() == 2
