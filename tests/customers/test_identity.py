"""Identity cannot be taken over: a login's new e-mail or phone waits for the code sent to it, and
find-or-create never writes an identifier onto a known customer."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from common import sms
from customers.models import ContactChange, Customer, PossibleDuplicate, TimelineEvent
from tests.factories import CustomerFactory
from tests.orders.factories_orders import committed


@pytest.fixture(autouse=True)
def no_sms():
    sms.outbox.clear()


def code_from_mail() -> str:
    return mail.outbox[-1].subject.rsplit(" ", 1)[-1]


def patch_me(customer_api, body):
    with committed():
        return customer_api.patch("/api/v1/me/", body, format="json")


class TestChangingMyContactData:
    def test_a_new_email_is_pending_until_the_code_sent_to_it_is_given(self, customer_api):
        me = customer_api.customer
        old = me.email
        response = patch_me(customer_api, {"email": "New.Address@Example.de"})
        assert response.status_code == 200, response.json()
        assert response.json()["email"] == old
        assert response.json()["pending_email"] == "new.address@example.de"
        me.refresh_from_db()
        assert me.email == old
        assert mail.outbox[-1].to == ["new.address@example.de"]

        # Meanwhile the new address belongs to nobody: a guest order with it is not this login's.
        assert not Customer.objects.filter(email="new.address@example.de").exists()

        code = code_from_mail()
        response = customer_api.post("/api/v1/me/confirm/", {"code": code}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["email"] == "new.address@example.de"
        assert response.json()["pending_email"] is None
        me.refresh_from_db()
        assert me.email == "new.address@example.de"

    def test_a_new_phone_gets_its_code_by_sms(self, customer_api):
        response = patch_me(customer_api, {"phone": "0170 1234567"})
        assert response.json()["pending_phone"] == "+491701234567"
        assert sms.outbox[-1]["to"] == "+491701234567"
        code = sms.outbox[-1]["text"].rstrip(".").rsplit(" ", 1)[-1]
        assert customer_api.post("/api/v1/me/confirm/", {"code": code}).status_code == 200
        customer_api.customer.refresh_from_db()
        assert customer_api.customer.phone == "+491701234567"

    def test_a_wrong_code_is_400_and_five_void_the_change(self, customer_api):
        patch_me(customer_api, {"email": "other@example.de"})
        code = code_from_mail()
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            response = customer_api.post("/api/v1/me/confirm/", {"code": wrong}, format="json")
            assert response.status_code == 400
            assert "code" in response.json()["errors"]
        response = customer_api.post("/api/v1/me/confirm/", {"code": code}, format="json")
        assert response.status_code == 400, "the change is void after five wrong codes"
        assert customer_api.customer.email != "other@example.de"
        assert ContactChange.objects.get().void_at is not None

    def test_an_expired_code_is_400(self, customer_api):
        patch_me(customer_api, {"email": "late@example.de"})
        code = code_from_mail()
        ContactChange.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = customer_api.post("/api/v1/me/confirm/", {"code": code}, format="json")
        assert response.status_code == 400
        customer_api.customer.refresh_from_db()
        assert customer_api.customer.email != "late@example.de"

    def test_an_address_of_another_customer_is_a_conflict_and_nothing_is_sent(self, customer_api):
        CustomerFactory(email="taken@example.de")
        response = patch_me(customer_api, {"email": "taken@example.de"})
        assert response.status_code == 409
        assert mail.outbox == []
        assert not ContactChange.objects.exists()

    def test_names_and_preferences_change_at_once(self, customer_api):
        response = patch_me(customer_api, {"first_name": "Berta", "email": "b@example.de"})
        assert response.json()["first_name"] == "Berta"
        assert response.json()["pending_email"] == "b@example.de"


class TestFindOrCreateWritesNoIdentifier:
    def test_a_missing_phone_is_not_filled_from_unverified_input(self, web):
        known = CustomerFactory(email="victim@example.de", phone=None)
        response = web.post(
            "/api/v1/customers/",
            {"email": "victim@example.de", "phone": "0170 9999999"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["id"] == known.pk
        known.refresh_from_db()
        assert known.phone is None

    def test_a_contradicting_phone_leaves_the_customer_unchanged_and_is_flagged(self, web):
        known = CustomerFactory(email="anna@example.de", phone="+49301111111")
        for _ in range(2):
            response = web.post(
                "/api/v1/customers/",
                {"email": "anna@example.de", "phone": "030 2222222", "first_name": "Anna"},
                format="json",
            )
            assert response.status_code == 200
            assert response.json()["id"] == known.pk
        known.refresh_from_db()
        assert known.phone == "+49301111111"
        flag = PossibleDuplicate.objects.get()
        assert (flag.customer, flag.phone) == (known, "+49302222222")
        assert TimelineEvent.objects.filter(
            customer=known, summary__startswith="Possible duplicate"
        ).exists()

    def test_a_guest_order_with_an_unconfirmed_address_does_not_reach_the_login(
        self, customer_api, web
    ):
        patch_me(customer_api, {"email": "attacker.wants@example.de"})
        response = web.post(
            "/api/v1/customers/", {"email": "attacker.wants@example.de"}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["id"] != customer_api.customer.pk
