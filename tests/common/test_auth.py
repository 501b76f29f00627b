import pytest

from common.auth import revoke_api_client
from tests.conftest import token_client
from tests.factories import UserFactory, api_client_with_key, staff_user

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, type_: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == type_
    assert body["detail"]
    assert "errors" in body
    return body


class TestAuthentication:
    def test_no_token_is_401_in_the_contract_format(self, anon):
        response = anon.get("/api/v1/stores/")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Token"

    def test_unknown_token_is_401(self):
        assert_error(token_client("not-a-key").get("/api/v1/stores/"), 401, "not_authenticated")

    def test_revoked_api_key_is_401(self):
        client, key = api_client_with_key("shop", "web")
        api = token_client(key)
        assert api.get("/api/v1/stores/").status_code == 200
        revoke_api_client(client)
        body = assert_error(api.get("/api/v1/stores/"), 401, "not_authenticated")
        assert "revoked" in body["detail"]

    def test_api_client_key_is_stored_hashed(self):
        client, key = api_client_with_key("shop", "web")
        client.refresh_from_db()
        assert key not in (client.key_hash, client.key_prefix)
        assert client.key_prefix == key[:8]


class TestTokenEndpoint:
    def test_staff_login_gets_a_working_token(self, anon, store):
        staff_user(store, username="berlin")
        response = anon.post(
            "/api/v1/auth/token/",
            {"username": "berlin", "password": "secret-pass-123"},
            format="json",
        )
        assert response.status_code == 200
        assert token_client(response.json()["token"]).get("/api/v1/stores/").status_code == 200

    def test_wrong_password_is_401(self, anon):
        UserFactory(username="berlin")
        response = anon.post(
            "/api/v1/auth/token/", {"username": "berlin", "password": "nope"}, format="json"
        )
        assert_error(response, 401, "not_authenticated")
        assert response.json()["code"] == "invalid_credentials"

    def test_missing_fields_are_400_with_field_errors(self, anon):
        body = assert_error(
            anon.post("/api/v1/auth/token/", {}, format="json"), 400, "validation_error"
        )
        assert set(body["errors"]) == {"username", "password"}


class TestStoreScope:
    def test_staff_reaches_own_store(self, staff, store):
        assert staff.get(f"/api/v1/staff/stores/{store.code}/").status_code == 200

    def test_staff_token_reaching_another_store_is_403(self, staff, other_store):
        assert_error(
            staff.get(f"/api/v1/staff/stores/{other_store.code}/"), 403, "permission_denied"
        )

    def test_channel_client_is_not_staff(self, web, store):
        assert_error(web.get(f"/api/v1/staff/stores/{store.code}/"), 403, "permission_denied")

    def test_customer_login_cannot_read_other_customers(self, customer_api):
        assert_error(
            customer_api.get("/api/v1/customers/?phone=0301234567"), 403, "permission_denied"
        )
