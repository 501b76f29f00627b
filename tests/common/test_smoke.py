import pytest

pytestmark = pytest.mark.django_db


def test_schema_is_served_and_documents_token_auth(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "TokenAuth" in schema["components"]["securitySchemes"]
    assert "/api/v1/customers/" in schema["paths"]


def test_swagger_ui_is_served_without_any_cdn(anon):
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "googleapis"):
        assert cdn not in page
    # The assets are served by the application itself.
    assert "/static/drf_spectacular_sidecar/" in page


def test_root_redirects_to_the_store_desk(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/desk/"


def test_every_write_documents_the_idempotency_key(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    posts = {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}
    undocumented = [
        path
        for path, op in posts.items()
        if not any(
            p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op.get("parameters", [])
        )
    ]
    # Logging in and out create nothing that a retry could duplicate.
    assert sorted(undocumented) == ["/api/v1/auth/logout/", "/api/v1/auth/token/"]
    assert len(posts) > 20
