import pytest

from common.actor import Actor
from customers import services
from customers.models import Customer, ServiceNote, TimelineEvent, WishlistItem
from tests.factories import CustomerFactory, StoreFactory, VariantFactory, staff_user

pytestmark = pytest.mark.django_db


def test_merge_moves_history_and_keeps_the_alias(agent):
    web_anna = CustomerFactory(email="anna@example.de", phone=None, first_name="Anna", last_name="")
    phone_anna = CustomerFactory(
        email=None, phone="+49301234567", first_name="", last_name="Schmidt"
    )
    actor = Actor(user=agent.user)
    services.add_service_note(actor=actor, customer=phone_anna, text="Called about a drill")
    shared, other = VariantFactory(), VariantFactory()
    services.add_to_wishlist(actor=actor, customer=web_anna, variant=shared)
    services.add_to_wishlist(actor=actor, customer=phone_anna, variant=shared)
    services.add_to_wishlist(actor=actor, customer=phone_anna, variant=other)

    response = agent.post(
        f"/api/v1/customers/{web_anna.pk}/merge/", {"duplicate": phone_anna.pk}, format="json"
    )

    assert response.status_code == 200, response.content
    survivor = Customer.objects.get(pk=web_anna.pk)
    assert (survivor.email, survivor.phone, survivor.full_name) == (
        "anna@example.de",
        "+49301234567",
        "Anna Schmidt",
    )
    assert ServiceNote.objects.get().customer == survivor
    assert set(WishlistItem.objects.values_list("customer_id", "variant_id")) == {
        (survivor.pk, shared.pk),
        (survivor.pk, other.pk),
    }
    assert TimelineEvent.objects.filter(customer=phone_anna).count() == 0
    assert TimelineEvent.objects.filter(customer=survivor, kind="merged").exists()
    alias = Customer.objects.get(pk=phone_anna.pk)
    assert alias.merged_into == survivor
    # Looking the person up by the phone number now lands on the survivor.
    found = agent.get("/api/v1/customers/", {"phone": "030 1234567"}).json()["results"]
    assert [c["id"] for c in found] == [survivor.pk]


def test_find_or_create_with_an_alias_contact_returns_the_survivor():
    survivor = CustomerFactory(email="anna@example.de", phone="+49301111111")
    duplicate = CustomerFactory(email="anna.old@example.de", phone="+49302222222")
    actor = Actor(user=staff_user(StoreFactory()))
    services.merge_customers(actor=actor, survivor=survivor, duplicate=duplicate)
    customer, created = services.find_or_create_customer(actor=actor, email="anna.old@example.de")
    assert (customer, created) == (survivor, False)


def test_merge_refuses_itself_and_aliases(agent):
    a, b = CustomerFactory(), CustomerFactory()
    response = agent.post(f"/api/v1/customers/{a.pk}/merge/", {"duplicate": a.pk}, format="json")
    assert response.status_code == 409
    services.merge_customers(actor=Actor(user=agent.user), survivor=a, duplicate=b)
    response = agent.post(f"/api/v1/customers/{a.pk}/merge/", {"duplicate": b.pk}, format="json")
    assert response.status_code == 400
    assert "duplicate" in response.json()["errors"]


def test_only_staff_merge(web):
    a, b = CustomerFactory(), CustomerFactory()
    assert (
        web.post(f"/api/v1/customers/{a.pk}/merge/", {"duplicate": b.pk}, format="json").status_code
        == 403
    )
    assert Customer.objects.get(pk=b.pk).merged_into is None
