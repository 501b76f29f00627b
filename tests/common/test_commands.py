"""Operator commands: create_api_client, create_staff, create_customer_login."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from common.models import ApiClient, hash_key
from customers.models import Customer
from stores.models import StaffRole, StoreMembership
from tests.factories import CustomerFactory, StoreFactory, UserFactory

User = get_user_model()

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def printed_key(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


class TestCreateApiClient:
    def test_prints_a_key_that_authenticates_as_the_channel(self, anon):
        output = run("create_api_client", "webshop", "--channel", "web")

        key = printed_key(output)
        client = ApiClient.objects.get(name="webshop")
        assert client.channel == "web"
        assert client.key_hash == hash_key(key)
        assert key not in (client.key_prefix, client.key_hash)  # only the hash is stored
        anon.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert anon.get("/api/v1/stores/").status_code == 200

    def test_running_again_issues_a_new_key_and_the_old_one_stops_working(self, anon):
        old = printed_key(run("create_api_client", "phone-desk", "--channel", "phone"))
        ApiClient.objects.filter(name="phone-desk").update(is_active=False)

        output = run("create_api_client", "phone-desk", "--channel", "phone")

        new = printed_key(output)
        assert "new key" in output
        assert new != old
        client = ApiClient.objects.get(name="phone-desk")
        assert client.is_active and client.key_hash == hash_key(new)
        assert ApiClient.objects.count() == 1
        anon.credentials(HTTP_AUTHORIZATION=f"Token {old}")
        assert anon.get("/api/v1/stores/").status_code == 401

    @pytest.mark.parametrize("channel", ["store", "fax", ""])
    def test_an_unknown_channel_is_refused(self, channel):
        with pytest.raises(CommandError):
            run("create_api_client", "webshop", "--channel", channel)
        assert not ApiClient.objects.exists()

    def test_the_channel_is_required(self):
        with pytest.raises(CommandError):
            run("create_api_client", "webshop")


class TestCreateStaff:
    def test_creates_an_admin_capable_login_in_the_stores_with_the_role_group(self):
        StoreFactory(code="BER-01")
        StoreFactory(code="HAM-01")

        output = run(
            "create_staff",
            "jana",
            "--store",
            "BER-01",
            "--store",
            "ham-01",
            "--role",
            "manager",
            "--password",
            "s3cret-pass",
        )

        assert "Created" in output
        user = User.objects.get(username="jana")
        assert user.is_staff and not user.is_superuser
        assert user.check_password("s3cret-pass")
        assert set(
            StoreMembership.objects.filter(user=user).values_list("store__code", "role")
        ) == {("BER-01", "manager"), ("HAM-01", "manager")}
        assert list(user.groups.values_list("name", flat=True)) == ["manager"]
        assert user.has_perm("stores.change_store")
        assert user.has_perm("inventory.view_stockmovement")

    def test_running_again_updates_password_stores_and_role(self):
        StoreFactory(code="BER-01")
        StoreFactory(code="HAM-01")
        run(
            "create_staff",
            "jana",
            "--store",
            "BER-01",
            "--role",
            "manager",
            "--password",
            "first-pass-1",
        )

        output = run(
            "create_staff",
            "jana",
            "--store",
            "HAM-01",
            "--role",
            "store_staff",
            "--password",
            "second-pass-2",
        )

        assert "Updated" in output
        user = User.objects.get(username="jana")
        assert user.check_password("second-pass-2")
        assert list(
            StoreMembership.objects.filter(user=user).values_list("store__code", "role")
        ) == [("HAM-01", "store_staff")]
        assert list(user.groups.values_list("name", flat=True)) == ["store_staff"]
        user = User.objects.get(pk=user.pk)  # permissions are cached per instance
        assert user.has_perm("orders.change_order")
        assert not user.has_perm("stores.change_store")
        assert User.objects.filter(username="jana").count() == 1

    def test_an_unknown_store_is_refused_and_nothing_is_created(self):
        StoreFactory(code="BER-01")
        with pytest.raises(CommandError, match="XXX-99"):
            run(
                "create_staff",
                "jana",
                "--store",
                "BER-01",
                "--store",
                "XXX-99",
                "--role",
                "store_staff",
                "--password",
                "pw-12345678",
            )
        assert not User.objects.filter(username="jana").exists()

    def test_an_unknown_role_is_refused(self):
        StoreFactory(code="BER-01")
        with pytest.raises(CommandError, match="Unknown role"):
            run(
                "create_staff",
                "jana",
                "--store",
                "BER-01",
                "--role",
                "boss",
                "--password",
                "pw-12345678",
            )
        assert not User.objects.filter(username="jana").exists()

    def test_the_groups_grant_more_to_managers_than_to_staff(self):
        from stores.services import ensure_staff_groups

        groups = ensure_staff_groups()
        perms = {
            role: set(group.permissions.values_list("content_type__app_label", "codename"))
            for role, group in groups.items()
        }
        assert set(groups) == set(StaffRole.values)
        assert perms[StaffRole.STORE_STAFF] < perms[StaffRole.SERVICE_AGENT]
        assert perms[StaffRole.SERVICE_AGENT] < perms[StaffRole.MANAGER]
        assert ("inventory", "view_stockitem") in perms[StaffRole.STORE_STAFF]
        assert ("customers", "change_customer") not in perms[StaffRole.STORE_STAFF]
        # Nobody but a superuser changes the ledger or API keys.
        everything = set().union(*perms.values())
        assert ("inventory", "change_stockmovement") not in everything
        assert ("common", "change_apiclient") not in everything


class TestCreateCustomerLogin:
    def test_creates_the_customer_and_a_login_named_after_the_email(self):
        output = run(
            "create_customer_login", "  Anna.Schmidt@Example.DE ", "--password", "pw-anna-123"
        )

        assert "Created" in output
        user = User.objects.get(username="anna.schmidt@example.de")
        assert user.check_password("pw-anna-123")
        assert not user.is_staff
        customer = Customer.objects.get(email="anna.schmidt@example.de")
        assert customer.user == user

    def test_links_a_known_customer_instead_of_creating_another(self):
        known = CustomerFactory(email="kunde@example.de")

        run("create_customer_login", "KUNDE@example.de", "--password", "pw-kunde-123")

        known.refresh_from_db()
        assert known.user is not None and known.user.username == "kunde@example.de"
        assert Customer.objects.count() == 1

    def test_running_again_sets_the_new_password(self):
        run("create_customer_login", "kunde@example.de", "--password", "first-pw-1")

        output = run("create_customer_login", "kunde@example.de", "--password", "second-pw-2")

        assert "Updated" in output
        assert User.objects.filter(username="kunde@example.de").count() == 1
        assert User.objects.get(username="kunde@example.de").check_password("second-pw-2")
        assert Customer.objects.count() == 1

    def test_a_bad_email_is_refused(self):
        with pytest.raises(CommandError, match="email"):
            run("create_customer_login", "not-an-email", "--password", "pw-12345678")
        assert not User.objects.exists()
        assert not Customer.objects.exists()

    def test_a_staff_username_is_not_turned_into_a_customer_login(self):
        staff = UserFactory(username="chef@example.de", is_staff=True)

        with pytest.raises(CommandError, match="staff login"):
            run("create_customer_login", "chef@example.de", "--password", "pw-12345678")

        staff.refresh_from_db()
        assert staff.check_password("secret-pass-123")
        assert not Customer.objects.filter(user=staff).exists()

    def test_a_customer_linked_to_another_login_is_a_conflict(self):
        other = UserFactory(username="someone-else")
        CustomerFactory(email="kunde@example.de", user=other)

        with pytest.raises(CommandError, match="another login"):
            run("create_customer_login", "kunde@example.de", "--password", "pw-12345678")
        assert not User.objects.filter(username="kunde@example.de").exists()
