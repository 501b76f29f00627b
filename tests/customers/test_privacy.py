"""Consent and privacy: double opt-in for advertising by e-mail, the export of everything stored
about a person, and erasure that leaves no personal string anywhere in the database."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from common.actor import Actor
from common.models import Channel, SentNotification, UserToken
from customers.discounts import issue_discount_code
from customers.models import (
    Consent,
    Customer,
    Nudge,
    NudgeReason,
    TimelineEvent,
    TimelineKind,
    WishlistItem,
)
from customers.privacy.consents import has_consent, update_consents
from customers.privacy.erasure import erase_customer, policies
from customers.privacy.export import customer_export
from customers.services import (
    add_service_note,
    add_store_credit_entry,
    add_to_wishlist,
    find_or_create_customer,
    update_customer_profile,
)
from orders.models import Order, Refund, RefundMethod, Return
from orders.services.discounts import record_redemption
from orders.services.returns import ReturnLineRequest, create_return
from tests.conftest import token_client
from tests.factories import CustomerFactory, UserFactory
from tests.orders.factories_orders import committed, stocked_variant
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db

MARKETING_EMAIL = {"purpose": "marketing", "channel": "email", "given": True}


def confirmation_link() -> str:
    return re.search(r"http\S+/api/v1/consents/confirm/\S+/", mail.outbox[-1].body).group(0)


def path_of(link: str) -> str:
    return link[link.index("/api/v1/") :]


def patch_me(customer_api, body):
    with committed():
        return customer_api.patch("/api/v1/me/", body, format="json")


def consent_of(response, purpose="marketing", channel="email"):
    found = [
        c
        for c in response.json()["consents"]
        if c["purpose"] == purpose and c["channel"] == channel
    ]
    return found[0] if found else None


class TestDoubleOptIn:
    def test_marketing_email_counts_only_after_the_link_sent_to_the_address_is_opened(
        self, customer_api, anon
    ):
        me = customer_api.customer
        response = patch_me(customer_api, {"consents": [MARKETING_EMAIL]})
        assert response.status_code == 200, response.json()
        consent = consent_of(response)
        assert consent["status"] == "awaiting_confirmation"
        assert consent["source"] == Channel.WEB and consent["given_at"]
        assert response.json()["marketing_consent"] is False
        me.refresh_from_db()
        assert not me.marketing_consent and not has_consent(me, "marketing", "email")
        assert mail.outbox[-1].to == [me.email]

        confirmed = anon.get(path_of(confirmation_link()))
        assert confirmed.status_code == 200, confirmed.json()
        assert confirmed.json()["confirmed_at"]
        me.refresh_from_db()
        assert me.marketing_consent and me.marketing_consent_source == Channel.WEB
        assert has_consent(me, "marketing", "email")
        assert consent_of(customer_api.get("/api/v1/me/"))["status"] == "given"
        # Opening the link again changes nothing.
        assert anon.get(path_of(confirmation_link())).status_code == 200
        assert Consent.objects.filter(customer=me).count() == 1

    def test_withdrawing_ends_it_at_once_and_keeps_the_history(self, customer_api, anon):
        me = customer_api.customer
        patch_me(customer_api, {"consents": [MARKETING_EMAIL]})
        anon.get(path_of(confirmation_link()))
        response = patch_me(
            customer_api,
            {"consents": [{"purpose": "marketing", "channel": "email", "given": False}]},
        )
        assert consent_of(response) is None
        me.refresh_from_db()
        assert not me.marketing_consent and not has_consent(me, "marketing", "email")
        old = Consent.objects.get(customer=me)
        assert old.withdrawn_at and old.confirmed_at and old.withdrawn_source == Channel.WEB
        # Its link no longer confirms anything.
        assert anon.get(path_of(confirmation_link())).status_code == 404

    def test_the_older_flag_is_the_same_consent_and_waits_for_the_link(self, customer_api):
        response = patch_me(customer_api, {"marketing_consent": True})
        assert response.status_code == 200
        assert response.json()["marketing_consent"] is False
        assert consent_of(response)["status"] == "awaiting_confirmation"

    def test_sms_consent_needs_no_link(self, web):
        customer = CustomerFactory()
        with committed():
            response = web.patch(
                f"/api/v1/customers/{customer.pk}/",
                {"consents": [{"purpose": "newsletter", "channel": "sms"}]},
                format="json",
            )
        assert response.status_code == 200, response.json()
        assert consent_of(response, "newsletter", "sms")["status"] == "given"
        assert has_consent(customer, "newsletter", "sms")
        assert mail.outbox == []

    def test_unknown_link_is_404_and_an_expired_one_400(self, customer_api, anon):
        assert anon.get("/api/v1/consents/confirm/not-a-token/").status_code == 404
        patch_me(customer_api, {"consents": [MARKETING_EMAIL]})
        Consent.objects.update(confirmation_expires_at=timezone.now() - timedelta(seconds=1))
        response = anon.get(path_of(confirmation_link()))
        assert response.status_code == 400
        assert response.json()["code"] == "consent_token_expired"
        customer_api.customer.refresh_from_db()
        assert not customer_api.customer.marketing_consent
        assert Consent.objects.get().confirmed_at is None

    def test_giving_again_after_expiry_sends_a_new_link(self, customer_api, anon):
        patch_me(customer_api, {"consents": [MARKETING_EMAIL]})
        old_link = confirmation_link()
        Consent.objects.update(confirmation_expires_at=timezone.now() - timedelta(seconds=1))
        patch_me(customer_api, {"consents": [MARKETING_EMAIL]})
        assert confirmation_link() != old_link
        assert anon.get(path_of(old_link)).status_code == 404
        assert anon.get(path_of(confirmation_link())).status_code == 200

    def test_consent_by_a_channel_without_an_address_is_400(self, web):
        customer = CustomerFactory(email=None)
        response = web.patch(
            f"/api/v1/customers/{customer.pk}/", {"consents": [MARKETING_EMAIL]}, format="json"
        )
        assert response.status_code == 400
        assert "consents" in response.json()["errors"]
        assert not Consent.objects.exists()


# --- export ------------------------------------------------------------------------------------


def reverse_relations_to_customer() -> set[str]:
    """Every table with a foreign key to Customer, found independently of the export code."""
    found = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and field.related_model is Customer:
                found.add(model._meta.label_lower)
    return found


def rich_customer(store):
    """A customer with a row in every table that can hold one."""
    user = UserFactory()
    customer = CustomerFactory(user=user, email=user.email)
    variant = stocked_variant(store, 20)
    actor = Actor(channel=Channel.WEB)
    with committed():
        add_to_wishlist(actor=actor, customer=customer, variant=variant, note="for the garden")
        add_service_note(actor=actor, customer=customer, text="Called about delivery")
        update_consents(actor=actor, customer=customer, changes=[MARKETING_EMAIL])
        reservation_for(store, customer=customer)
        purchase = bought(customer=customer, store=store, lines=[(variant, 2, "30.00")])
        code = issue_discount_code(
            actor=actor,
            customer=customer,
            percent=Decimal("10"),
            valid_until=timezone.now() + timedelta(days=30),
        )
        record_redemption(actor=actor, order=purchase, code=code)
        create_return(
            actor=actor,
            order=purchase,
            store=store,
            lines=[
                ReturnLineRequest(
                    order_line=purchase.lines.get().pk, quantity=1, reason="too_small"
                )
            ],
        )
        add_store_credit_entry(customer=customer, amount=Decimal("5.00"), reason="goodwill")
        update_customer_profile(actor=actor, customer=customer, email="neue.adresse@example.de")
        find_or_create_customer(actor=actor, email=customer.email, phone="030 4445556")
        Nudge.objects.create(
            customer=customer, variant=variant, week="2026-W49", reason=NudgeReason.LISTED
        )
    return customer


class TestExport:
    def test_export_has_a_section_for_every_table_that_points_at_the_customer(self, store):
        customer = rich_customer(store)
        data = customer_export(customer)
        expected = reverse_relations_to_customer()
        assert len(expected) >= 10
        assert set(data["records"]) == expected
        for label in expected - {"customers.customer"}:
            model = apps.get_model(label)
            stored = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, models.ForeignKey) and f.related_model is Customer
            ]
            link = Q(**{stored[0]: customer})
            if model is Customer.history.model:
                link |= Q(id=customer.pk)  # its own versions
            count = model._base_manager.filter(link).count()
            assert len(data["records"][label]) == count, label
            assert count > 0, f"the test's customer has no {label}: add one to rich_customer"
        order = data["records"]["orders.order"][0]
        assert order["lines"] and order["lines"][0]["quantity"] == 2
        assert data["records"]["orders.return"][0]["lines"]
        assert data["customer"]["email"] == customer.email
        # Secrets stay out.
        assert "confirmation_token_hash" not in data["records"]["customers.consent"][0]
        json.dumps(data)  # JSON as it is

    def test_staff_export_is_logged_with_who(self, agent, store):
        customer = rich_customer(store)
        response = agent.get(f"/api/v1/customers/{customer.pk}/export/")
        assert response.status_code == 200
        assert response.json()["customer"]["id"] == customer.pk
        event = customer.timeline.get(kind=TimelineKind.DATA_EXPORTED)
        assert event.actor_user == agent.user

    def test_my_export_is_mine_only(self, customer_api):
        response = customer_api.get("/api/v1/me/export/")
        assert response.status_code == 200
        assert response.json()["customer"]["id"] == customer_api.customer.pk
        assert response.json()["login"]["username"] == customer_api.user.username

    def test_store_staff_and_channel_clients_may_not_export(self, staff, web):
        customer = CustomerFactory()
        assert staff.get(f"/api/v1/customers/{customer.pk}/export/").status_code == 403
        assert web.get(f"/api/v1/customers/{customer.pk}/export/").status_code == 403
        assert not customer.timeline.filter(kind=TimelineKind.DATA_EXPORTED).exists()

    def test_command_prints_the_export(self, store):
        customer = rich_customer(store)
        out = StringIO()
        call_command("export_customer", str(customer.pk), stdout=out)
        assert json.loads(out.getvalue())["customer"]["id"] == customer.pk


# --- erasure -----------------------------------------------------------------------------------

FIRST, LAST = "Wilhelmina", "Quastenberg"
EMAIL, PHONE, POSTCODE = "wilhelmina.quastenberg@example.org", "+49309876543", "D-10999"
NEW_EMAIL = "w.quastenberg.neu@example.org"
NOTE = "Wants a call back about the Rosenthal sofa"
LIST_NOTE = "birthday present for her sister"
STREET = "Quastenweg 17"
SECRET = "S3cret-password-for-login!"


def personal_strings() -> list[str]:
    return [FIRST, LAST, EMAIL, PHONE, "309876543", POSTCODE, NEW_EMAIL, NOTE, LIST_NOTE, STREET]


def text_columns():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                yield model, field


def where_found(needles) -> list[str]:
    """Grep every text and JSON column of every table for each needle."""
    found = []
    for model, field in text_columns():
        qs = model._base_manager.annotate(_text=Cast(field.name, TextField()))
        for needle in needles:
            if qs.filter(_text__icontains=needle).exists():
                found.append(f"{model._meta.label}.{field.name}: {needle}")
    return found


@pytest.fixture
def person(web, anon, store, agent):
    """Wilhelmina, known everywhere: created through the API, with a login, a list, notes, an
    order with a delivery address, a reservation, a return, consents, a pending new e-mail, a
    flagged duplicate, store credit, sent messages and an admin log entry."""
    with committed():
        created = web.post(
            "/api/v1/customers/",
            {
                "email": EMAIL,
                "phone": "030 9876543",
                "first_name": FIRST,
                "last_name": LAST,
                "postcode": POSTCODE,
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="create-wilhelmina",
        )
    assert created.status_code == 201, created.json()
    customer = Customer.objects.get(pk=created.json()["id"])
    user = UserFactory(username=EMAIL, email=EMAIL, first_name=FIRST, last_name=LAST)
    user.set_password(SECRET)
    user.save()
    customer.user = user
    customer.save()
    assert anon.post(
        "/api/v1/auth/token/", {"username": EMAIL, "password": "wrong"}, format="json"
    ).status_code in (400, 401)
    login = anon.post("/api/v1/auth/token/", {"username": EMAIL, "password": SECRET}, format="json")
    me = token_client(login.json()["token"])

    variant = stocked_variant(store, 20)
    with committed():
        assert (
            me.post(
                "/api/v1/me/wishlist/",
                {"sku": variant.sku, "note": LIST_NOTE},
                format="json",
                HTTP_IDEMPOTENCY_KEY="list-1",
            ).status_code
            == 201
        )
        agent.post(
            f"/api/v1/customers/{customer.pk}/notes/",
            {"text": NOTE},
            format="json",
            HTTP_IDEMPOTENCY_KEY="note-1",
        )
        me.patch("/api/v1/me/", {"consents": [MARKETING_EMAIL], "email": NEW_EMAIL}, format="json")
    with committed():
        assert anon.get(path_of(confirmation_link())).status_code == 200
        # Someone else gives Wilhelmina's e-mail with another phone: a possible duplicate.
        web.post(
            "/api/v1/customers/",
            {"email": EMAIL, "phone": "030 1112223", "first_name": FIRST},
            format="json",
        )
        order = bought(
            customer=customer,
            store=store,
            lines=[(variant, 2, "30.00")],
            shipping_address={"name": f"{FIRST} {LAST}", "street": STREET, "postcode": POSTCODE},
        )
        create_return(
            actor=Actor(channel=Channel.WEB),
            order=order,
            store=store,
            lines=[
                ReturnLineRequest(order_line=order.lines.get().pk, quantity=1, reason="too_small")
            ],
        )
        reservation_for(store, customer=customer)
        add_store_credit_entry(customer=customer, amount=Decimal("5.00"), reason="goodwill")
    LogEntry.objects.create(
        user=agent.user,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer),
        action_flag=CHANGE,
        change_message="Changed phone.",
    )
    customer.refresh_from_db()
    found = where_found(personal_strings())
    # The world is rich enough to prove something: each string is stored somewhere first.
    for needle in personal_strings():
        assert any(line.endswith(f": {needle}") for line in found), needle
    assert SentNotification.objects.filter(recipient=EMAIL).exists()
    customer.token_client = me
    return customer


class TestErase:
    def test_erase_leaves_no_personal_string_anywhere_and_keeps_the_accounting(
        self, person, manager
    ):
        orders_before = list(Order.objects.filter(customer=person).values("pk", "total"))
        returns_before = Return.objects.filter(customer=person).count()
        credit_before = person.store_credit.count()
        with committed():
            response = manager.post(f"/api/v1/customers/{person.pk}/erase/")
        assert response.status_code == 202, response.json()
        assert response.json()["erased_at"]

        assert where_found(personal_strings()) == []

        # The accounting stays.
        assert list(Order.objects.filter(customer=person).values("pk", "total")) == orders_before
        assert Return.objects.filter(customer=person).count() == returns_before
        assert person.store_credit.count() == credit_before
        # Found by nothing; the login is closed; the timeline says only who erased it.
        assert manager.get(f"/api/v1/customers/?email={EMAIL}").json()["count"] == 0
        assert manager.get("/api/v1/customers/?phone=030 9876543").json()["count"] == 0
        assert manager.get(f"/api/v1/customers/?q={LAST}").json()["count"] == 0
        assert person.token_client.get("/api/v1/me/").status_code == 401
        assert not UserToken.objects.filter(
            user_id=person.user_id, revoked_at__isnull=True
        ).exists()
        events = list(TimelineEvent.objects.filter(customer=person))
        assert [e.kind for e in events] == [TimelineKind.DATA_ERASED]
        assert events[0].actor_user == manager.user
        assert not WishlistItem.objects.filter(customer=person).exists()
        assert not has_consent(person, "marketing", "email")
        # A new order with the old address is a new, unrelated customer.
        person.refresh_from_db()
        assert person.erased_at and person.contact_channel == "none"

    def test_erasing_twice_is_409_and_changes_nothing(self, person, agent):
        with committed():
            assert agent.post(f"/api/v1/customers/{person.pk}/erase/").status_code == 202
        before = list(TimelineEvent.objects.filter(customer=person).values())
        person.refresh_from_db()
        erased_at = person.erased_at
        response = agent.post(f"/api/v1/customers/{person.pk}/erase/")
        assert response.status_code == 409
        assert response.json()["code"] == "already_erased"
        person.refresh_from_db()
        assert person.erased_at == erased_at
        assert list(TimelineEvent.objects.filter(customer=person).values()) == before
        # Nothing comes back through the profile either.
        assert (
            agent.patch(
                f"/api/v1/customers/{person.pk}/", {"first_name": FIRST}, format="json"
            ).status_code
            == 409
        )
        person.refresh_from_db()
        assert person.first_name == ""
        # An erased customer has nothing left to export.
        assert agent.get(f"/api/v1/customers/{person.pk}/export/").json()["code"] == (
            "already_erased"
        )

    def test_store_staff_and_channel_clients_may_not_erase(self, staff, web):
        customer = CustomerFactory()
        assert staff.post(f"/api/v1/customers/{customer.pk}/erase/").status_code == 403
        assert web.post(f"/api/v1/customers/{customer.pk}/erase/").status_code == 403
        customer.refresh_from_db()
        assert customer.erased_at is None and customer.email

    def test_every_table_pointing_at_customers_has_an_erasure_policy(self):
        assert reverse_relations_to_customer() <= set(policies())

    def test_merged_aliases_are_erased_with_their_survivor(self, store):
        survivor, alias = CustomerFactory(), CustomerFactory()
        Customer.objects.filter(pk=alias.pk).update(merged_into=survivor)
        erase_customer(actor=Actor(), customer=survivor)
        alias.refresh_from_db()
        assert alias.erased_at and alias.email is None and alias.last_name == ""

    def test_command_needs_yes_and_refuses_twice(self):
        customer = CustomerFactory()
        with pytest.raises(CommandError, match="--yes"):
            call_command("erase_customer", str(customer.pk))
        customer.refresh_from_db()
        assert customer.erased_at is None
        call_command("erase_customer", str(customer.pk), "--yes", stdout=StringIO())
        customer.refresh_from_db()
        assert customer.erased_at
        with pytest.raises(CommandError, match="already_erased"):
            call_command("erase_customer", str(customer.pk), "--yes", stdout=StringIO())


class TestAdminActions:
    def test_actions_name_their_permissions(self):
        from django.contrib import admin

        model_admin = admin.site._registry[Customer]
        assert model_admin.has_export_permission.permission == "customers.export_customer"
        assert model_admin.has_erase_permission.permission == "customers.erase_customer"

    def test_erase_asks_first_then_erases(self, admin_client):
        customer = CustomerFactory()
        url = "/admin/customers/customer/"
        body = {"action": "erase_data", "_selected_action": [customer.pk]}
        page = admin_client.post(url, body)
        assert page.status_code == 200 and b"Yes, erase" in page.content
        customer.refresh_from_db()
        assert customer.erased_at is None
        admin_client.post(url, {**body, "confirm": "yes"})
        customer.refresh_from_db()
        assert customer.erased_at

    def test_export_downloads_json(self, admin_client):
        customer = CustomerFactory()
        response = admin_client.post(
            "/admin/customers/customer/",
            {"action": "export_data", "_selected_action": [customer.pk]},
        )
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)[str(customer.pk)]["customer"]["id"] == customer.pk


def test_refund_rows_stay_after_erasure(store):
    customer = rich_customer(store)
    order = Order.objects.filter(customer=customer).first()
    Refund.objects.create(order=order, method=RefundMethod.STORE_CREDIT, amount=Decimal("1.00"))
    erase_customer(actor=Actor(), customer=customer)
    assert Refund.objects.filter(order=order).count() == 1
