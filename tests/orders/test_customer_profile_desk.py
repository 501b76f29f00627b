"""The profile form on the customer's desk page (/desk/customers/<id>/profile/): service agents
and managers change it through the same service as the API, store staff may not, a login's new
e-mail waits for the customer's code, every refusal stands next to its field."""

import pytest
from django.conf import settings
from django.test import Client

from common.models import OutboxMessage
from customers.models import ContactChange, Customer, TimelineEvent
from orders.desk.customer_profile import HAS_LANGUAGE
from stores.models import StaffRole
from tests.factories import CustomerFactory, StoreFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def anna(db):
    return CustomerFactory(
        first_name="Anna",
        last_name="Becker",
        email="anna@example.de",
        phone="+49301234567",
        sizes={"shirts": "M"},
        contact_channel="email",
    )


def form(customer, **changes) -> dict:
    data = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "contact_channel": customer.contact_channel,
        "preferred_store": customer.preferred_store.code if customer.preferred_store else "",
        "postcode": customer.postcode,
        "sizes": ", ".join(f"{c}: {s}" for c, s in customer.sizes.items()),
    }
    if HAS_LANGUAGE:
        data["language"] = customer.language
    return data | changes


def url(customer) -> str:
    return f"/desk/customers/{customer.pk}/profile/"


@pytest.mark.parametrize("role", [StaffRole.SERVICE_AGENT, StaffRole.MANAGER])
def test_agents_and_managers_change_the_profile(store, anna, role):
    client = desk(staff_user(store, role=role))
    assert 'id="profile-form"' in client.get(f"/desk/customers/{anna.pk}/").content.decode()
    response = client.post(
        url(anna),
        form(
            anna,
            first_name="Anne",
            phone="0170 5555555",
            preferred_store=store.code,
            contact_channel="sms",
            sizes="shirts: L, shoes: 39",
        ),
    )
    assert response.status_code == 302
    anna.refresh_from_db()
    assert (anna.first_name, anna.phone, anna.preferred_store) == ("Anne", "+491705555555", store)
    assert (anna.contact_channel, anna.sizes) == ("sms", {"shirts": "L", "shoes": "39"})
    event = TimelineEvent.objects.filter(customer=anna).latest("id")
    assert event.summary.startswith("Profile changed:") and "phone" in event.summary
    assert event.actor_user is not None
    assert anna.history.latest().history_user is not None  # the audit names who changed it


def test_store_staff_may_not(store, anna):
    client = desk(staff_user(store))
    assert 'id="profile-form"' not in client.get(f"/desk/customers/{anna.pk}/").content.decode()
    assert client.post(url(anna), form(anna, first_name="X")).status_code == 403
    anna.refresh_from_db()
    assert anna.first_name == "Anna"


def test_a_logins_new_email_waits_for_the_customers_code(store):
    user = UserFactory(email="lena@example.de")
    lena = CustomerFactory(user=user, email="lena@example.de", phone=None)
    client = desk(staff_user(store, role=StaffRole.SERVICE_AGENT))
    response = client.post(url(lena), form(lena, email="lena.neu@example.de"), follow=True)
    lena.refresh_from_db()
    assert lena.email == "lena@example.de"
    change = ContactChange.objects.get(customer=lena)
    assert change.value == "lena.neu@example.de"
    assert OutboxMessage.objects.filter(topic="customers.send_contact_code").exists()
    page = response.content.decode()
    assert "applies once the customer confirms it" in page
    assert "Waiting for the customer to confirm lena.neu@example.de" in page


def test_nothing_changed_writes_nothing(store, anna):
    client = desk(staff_user(store, role=StaffRole.SERVICE_AGENT))
    before = TimelineEvent.objects.count()
    response = client.post(url(anna), form(anna, phone="030 1234567"), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert TimelineEvent.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "valid email"),
        ({"phone": "abc"}, "phone", ""),
        ({"email": "", "phone": ""}, "email", "An e-mail address or a phone number is needed."),
        ({"first_name": "x" * 101}, "first_name", "At most 100 characters"),
        ({"contact_channel": "pigeon"}, "contact_channel", "Choose one of the channels listed."),
        ({"preferred_store": "ZZ-UNKNOWN"}, "preferred_store", "Choose one of the stores"),
        ({"sizes": "shirts M"}, "sizes", "category: size"),
        ({"postcode": "12345678901234567890"}, "postcode", "At most 10 characters"),
    ],
)
def test_bad_input_is_a_message_next_to_the_field(store, anna, changes, field, message):
    client = desk(staff_user(store, role=StaffRole.MANAGER))
    before = Customer.history.count()
    response = client.post(url(anna), form(anna, **changes))
    assert response.status_code == 400
    errors = response.context["profile_form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert Customer.history.count() == before


def test_an_address_of_another_customer_is_refused_at_the_field(store, anna):
    CustomerFactory(email="taken@example.de")
    client = desk(staff_user(store, role=StaffRole.SERVICE_AGENT))
    response = client.post(url(anna), form(anna, email="taken@example.de"))
    assert response.status_code == 400
    assert "Another customer already has" in " ".join(
        response.context["profile_form"].errors["email"]
    )
    anna.refresh_from_db()
    assert anna.email == "anna@example.de"


def test_a_store_not_selling_is_not_offered(store, anna):
    warehouse = StoreFactory(code="WHS-09", is_warehouse=True)
    client = desk(staff_user(store, role=StaffRole.SERVICE_AGENT))
    response = client.post(url(anna), form(anna, preferred_store=warehouse.code))
    assert "preferred_store" in response.context["profile_form"].errors


@pytest.mark.skipif(not HAS_LANGUAGE, reason="customers have no language of messages here")
def test_the_language_of_messages_is_changed_too(store, anna):
    client = desk(staff_user(store, role=StaffRole.SERVICE_AGENT))
    other = next(code for code, _name in settings.LANGUAGES if code != anna.language)
    assert client.post(url(anna), form(anna, language=other)).status_code == 302
    anna.refresh_from_db()
    assert anna.language == other
    response = client.post(url(anna), form(anna, language="tlh"))
    assert "language" in response.context["profile_form"].errors
