"""Password logins and tokens: lock-out after failures, throttles, password rules, token lifetimes,
logout, revocation on a new password, last_used_at."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.auth import issue_user_token
from common.models import TokenKind, UserToken
from stores.models import StaffRole
from tests.conftest import token_client
from tests.factories import CustomerFactory, UserFactory, api_client_with_key, staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"  # tests.factories.UserFactory's
TOKEN_URL = "/api/v1/auth/token/"


def token_for(user) -> UserToken:
    return UserToken.objects.filter(user=user).latest("created_at")


def ask_token(api, username: str, password: str, **extra):
    body = {"username": username, "password": password}
    return api.post(TOKEN_URL, body, format="json", **extra)


def admin_login(client: Client, username: str, password: str, next_url: str = "/admin/"):
    return client.post(
        f"/admin/login/?next={next_url}",
        {"username": username, "password": password, "next": next_url},
    )


class TestLockOut:
    def test_token_endpoint_locks_a_login_out_after_five_failures(self, anon, store):
        user = staff_user(store)
        for _ in range(4):
            assert ask_token(anon, user.username, "wrong-guess").status_code == 401
        fifth = ask_token(anon, user.username, "wrong-guess")
        assert fifth.status_code == 403, fifth.content
        assert fifth.json()["code"] == "locked_out"
        # Locked: even the right password is refused, in the contract's error body.
        response = ask_token(anon, user.username, PASSWORD)
        assert response.status_code == 403
        body = response.json()
        assert body["type"] == "permission_denied" and body["code"] == "locked_out"
        assert body["detail"] and body["errors"] == {}
        assert not UserToken.objects.filter(user=user).exists()

    def test_lock_out_is_per_login_and_address(self, anon, store):
        user = staff_user(store)
        other = staff_user(store)
        for _ in range(5):
            ask_token(anon, user.username, "wrong-guess")
        assert ask_token(anon, other.username, PASSWORD).status_code == 200
        from_elsewhere = ask_token(anon.__class__(REMOTE_ADDR="10.1.2.3"), user.username, PASSWORD)
        assert from_elsewhere.status_code == 200

    def test_lock_out_ends_after_the_cool_off(self, anon, store, settings):
        from axes.models import AccessAttempt

        user = staff_user(store)
        for _ in range(5):
            ask_token(anon, user.username, "wrong-guess")
        assert ask_token(anon, user.username, PASSWORD).status_code == 403
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        assert ask_token(anon, user.username, PASSWORD).status_code == 200

    def test_axes_reset_unlocks(self, anon, store):
        user = staff_user(store)
        for _ in range(5):
            ask_token(anon, user.username, "wrong-guess")
        call_command("axes_reset_username", user.username, stdout=None)
        assert ask_token(anon, user.username, PASSWORD).status_code == 200

    def test_admin_and_desk_login_lock_out(self, store):
        user = staff_user(store)
        client = Client()
        for _ in range(4):
            response = admin_login(client, user.username, "wrong-guess", next_url="/desk/")
            assert response.status_code == 200  # the form again, with its error
        assert admin_login(client, user.username, "wrong-guess").status_code == 403
        response = admin_login(client, user.username, PASSWORD, next_url="/desk/")
        assert response.status_code == 403
        assert "locked" in response.content.decode()
        assert client.get("/desk/").status_code == 302  # still not logged in

    def test_a_good_login_before_the_limit_starts_the_count_again(self, store):
        user = staff_user(store)
        client = Client()
        for _ in range(4):
            admin_login(client, user.username, "wrong-guess")
        assert admin_login(client, user.username, PASSWORD, next_url="/desk/").status_code == 302
        client.logout()
        for _ in range(4):
            admin_login(client, user.username, "wrong-guess")
        assert admin_login(client, user.username, PASSWORD).status_code == 302

    def test_a_token_before_the_limit_starts_the_count_again(self, anon, store):
        user = staff_user(store)
        for _ in range(4):
            ask_token(anon, user.username, "wrong-guess")
        assert ask_token(anon, user.username, PASSWORD).status_code == 200
        for _ in range(4):
            assert ask_token(anon, user.username, "wrong-guess").status_code == 401
        assert ask_token(anon, user.username, PASSWORD).status_code == 200
        user.refresh_from_db()
        assert user.last_login is not None


class TestThrottles:
    @pytest.fixture
    def small_rates(self, settings):
        settings.OMNIS_THROTTLE_RATES = {
            "client": "3/min",
            "customer": "2/min",
            "staff": "2/min",
            "anon": "2/min",
            "login": "3/min",  # the token endpoint: whichever rate is smaller trips first
        }

    def test_anonymous_callers_per_address(self, small_rates, anon):
        # Open endpoints only: elsewhere an anonymous call is refused (401) before it is counted.
        assert ask_token(anon, "nobody-1", "guess").status_code == 401
        assert ask_token(anon, "nobody-2", "guess").status_code == 401
        response = ask_token(anon, "nobody-3", "guess")
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert response.json()["type"] == "throttled"
        other_address = anon.__class__(REMOTE_ADDR="10.9.8.7")
        assert ask_token(other_address, "nobody-4", "guess").status_code == 401

    def test_a_forwarded_for_header_does_not_pick_the_counter(self, small_rates, anon):
        for n in range(2):
            ask_token(anon, f"nobody-{n}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        response = ask_token(anon, "nobody-9", "guess", HTTP_X_FORWARDED_FOR="10.0.0.9")
        assert response.status_code == 429

    def test_each_api_client_has_its_own_count(self, small_rates):
        _, key_a = api_client_with_key("shop-a", "web")
        _, key_b = api_client_with_key("shop-b", "web")
        shop_a, shop_b = token_client(key_a), token_client(key_b)
        assert [shop_a.get("/api/v1/stores/").status_code for _ in range(4)] == [200] * 3 + [429]
        assert shop_b.get("/api/v1/stores/").status_code == 200

    def test_each_customer_has_its_own_count(self, small_rates, customer_api):
        codes = [customer_api.get("/api/v1/me/orders/").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        user = UserFactory()
        CustomerFactory(user=user, email=user.email)
        assert token_client(issue_user_token(user)).get("/api/v1/me/orders/").status_code == 200

    def test_token_requests_per_address(self, small_rates, anon, store):
        user = staff_user(store)
        codes = [ask_token(anon, user.username, PASSWORD).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[-1] == 429


class TestPasswordRules:
    @pytest.mark.parametrize(
        "password, message",
        [
            ("kurz1", "too short"),
            ("12345678901", "entirely numeric"),
            ("password123", "too common"),
        ],
    )
    def test_create_staff_refuses_weak_passwords(self, store, password, message):
        with pytest.raises(CommandError, match=message):
            call_command(
                "create_staff",
                "kasse1",
                "--store",
                store.code,
                "--role",
                StaffRole.STORE_STAFF,
                "--password",
                password,
            )
        assert not get_user_model().objects.filter(username="kasse1").exists()

    def test_create_staff_refuses_a_password_like_the_username(self, store):
        with pytest.raises(CommandError, match="too similar"):
            call_command(
                "create_staff",
                "marlene.schulz",
                "--store",
                store.code,
                "--role",
                StaffRole.STORE_STAFF,
                "--password",
                "marlene.schulz1",
            )

    def test_create_customer_login_refuses_weak_passwords(self):
        with pytest.raises(CommandError, match="password: .*too short"):
            call_command("create_customer_login", "lena@example.de", "--password", "abc")
        assert not get_user_model().objects.filter(username="lena@example.de").exists()

    def test_a_good_password_is_accepted(self, store):
        call_command(
            "create_customer_login", "lena@example.de", "--password", "Wolkenkratzer-7", stdout=None
        )
        assert (
            get_user_model()
            .objects.get(username="lena@example.de")
            .check_password("Wolkenkratzer-7")
        )


class TestTokenLifetime:
    def test_staff_tokens_last_12_hours_customer_tokens_30_days(self, staff, customer_api):
        staff_token, customer_token = token_for(staff.user), token_for(customer_api.user)
        assert staff_token.kind == TokenKind.STAFF
        assert customer_token.kind == TokenKind.CUSTOMER
        now = timezone.now()
        assert abs(staff_token.expires_at - (now + timedelta(hours=12))) < timedelta(minutes=1)
        assert abs(customer_token.expires_at - (now + timedelta(days=30))) < timedelta(minutes=1)

    def test_lifetimes_come_from_settings(self, settings, store):
        settings.OMNIS_STAFF_TOKEN_TTL = timedelta(minutes=5)
        user = staff_user(store)
        issue_user_token(user)
        left = token_for(user).expires_at - timezone.now()
        assert timedelta(minutes=4) < left <= timedelta(minutes=5)

    def test_an_expired_token_is_401(self, staff):
        assert staff.get("/api/v1/staff/orders/").status_code == 200
        UserToken.objects.filter(user=staff.user).update(expires_at=timezone.now())
        response = staff.get("/api/v1/staff/orders/")
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


class TestLogout:
    def test_logout_revokes_the_presented_token_only(self, store):
        user = staff_user(store)
        first, second = token_client(issue_user_token(user)), token_client(issue_user_token(user))
        response = first.post("/api/v1/auth/logout/")
        assert response.status_code == 204
        assert first.get("/api/v1/staff/orders/").status_code == 401
        assert first.post("/api/v1/auth/logout/").status_code == 401
        assert second.get("/api/v1/staff/orders/").status_code == 200

    def test_customer_logout(self, customer_api):
        assert customer_api.post("/api/v1/auth/logout/").status_code == 204
        assert customer_api.get("/api/v1/me/orders/").status_code == 401

    def test_an_api_client_key_is_not_logged_out(self, web):
        assert web.post("/api/v1/auth/logout/").status_code == 403
        assert web.get("/api/v1/stores/").status_code == 200

    def test_without_a_token_it_is_401(self, anon):
        assert anon.post("/api/v1/auth/logout/").status_code == 401


class TestNewPasswordRevokesTokens:
    def test_set_password_and_save(self, staff):
        user = staff.user
        user.set_password("Neues-Passwort-9")
        user.save()
        assert staff.get("/api/v1/staff/orders/").status_code == 401
        assert token_for(user).revoked_at is not None

    def test_create_staff_again(self, store, staff):
        call_command(
            "create_staff",
            staff.user.username,
            "--store",
            store.code,
            "--role",
            StaffRole.STORE_STAFF,
            "--password",
            "Neues-Passwort-9",
            stdout=None,
        )
        assert staff.get("/api/v1/staff/orders/").status_code == 401

    def test_create_customer_login_again(self):
        email = "lena@example.de"
        call_command("create_customer_login", email, "--password", "Wolkenkratzer-7", stdout=None)
        api = token_client(issue_user_token(get_user_model().objects.get(username=email)))
        assert api.get("/api/v1/me/orders/").status_code == 200
        call_command("create_customer_login", email, "--password", "Neues-Passwort-9", stdout=None)
        assert api.get("/api/v1/me/orders/").status_code == 401

    def test_admin_password_change_form(self, staff):
        admin = UserFactory(username="chefin", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(admin)
        response = client.post(
            f"/admin/auth/user/{staff.user.pk}/password/",
            {"password1": "Neues-Passwort-9", "password2": "Neues-Passwort-9"},
        )
        assert response.status_code == 302, response.content
        assert staff.get("/api/v1/staff/orders/").status_code == 401

    def test_own_password_change_view(self, staff):
        client = Client()
        client.force_login(staff.user)
        response = client.post(
            "/admin/password_change/",
            {
                "old_password": PASSWORD,
                "new_password1": "Neues-Passwort-9",
                "new_password2": "Neues-Passwort-9",
            },
        )
        assert response.status_code == 302, response.content
        assert staff.get("/api/v1/staff/orders/").status_code == 401

    def test_other_saves_and_logins_keep_the_tokens(self, staff, anon):
        user = staff.user
        user.first_name = "Marlene"
        user.save()
        assert ask_token(anon, user.username, PASSWORD).status_code == 200  # writes last_login
        assert staff.get("/api/v1/staff/orders/").status_code == 200

    def test_a_rehash_on_login_keeps_the_tokens(self, staff, anon, settings):
        # A newer hasher re-hashes the same password on the next login: not a new password.
        settings.PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ]
        assert ask_token(anon, staff.user.username, PASSWORD).status_code == 200
        staff.user.refresh_from_db()
        assert staff.user.password.startswith("pbkdf2_")
        assert staff.get("/api/v1/staff/orders/").status_code == 200


class TestLastUsed:
    def test_written_at_most_once_a_minute(self, staff):
        token = token_for(staff.user)
        first = token.last_used_at
        assert first is not None, "issuing counts as a use"
        with CaptureQueriesContext(connection) as queries:
            staff.get("/api/v1/stores/")
        writes = [q for q in queries if q["sql"].startswith("UPDATE") and "usertoken" in q["sql"]]
        assert writes == []
        token.refresh_from_db()
        assert token.last_used_at == first
        UserToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
        staff.get("/api/v1/stores/")
        token.refresh_from_db()
        assert token.last_used_at > first
