"""The published schema (/api/schema/) is the contract a webshop client is generated from: every
response must match it. bench/api_fuzz.py checks the whole API against a live server on
PostgreSQL (in CI); these tests keep the contract in `make test`."""

import pytest
import schemathesis
import yaml
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode

from common.models import Channel
from config.wsgi import application
from tests.factories import CustomerFactory, api_client_with_key

ERROR_BODY = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def published():
    return yaml.safe_load(Client().get("/api/schema/").content)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method.upper(), operation


def test_the_schema_is_valid_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))


def test_every_operation_documents_its_errors_with_the_one_error_body(published):
    for path, method, operation in operations(published):
        responses = operation["responses"]
        label = f"{method} {path}"
        for status in ("400", "401", "403", "429", "503"):
            assert status in responses, f"{label} does not document {status}"
        if "{" in path:
            assert "404" in responses, f"{label} does not document 404"
        if method in ("POST", "PATCH", "DELETE"):
            assert "409" in responses, f"{label} does not document 409"
        for status, response in responses.items():
            if status >= "400":
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": ERROR_BODY}, f"{label} {status}"
                assert content["examples"], f"{label} {status} has no example"


def test_request_bodies_are_documented_as_json_only(published):
    # Form bodies follow HTML rules (an empty field is a missing one): no part of the contract.
    for path, _method, operation in operations(published):
        if "requestBody" in operation:
            assert set(operation["requestBody"]["content"]) == {"application/json"}, path


def test_the_returnable_lines_document_the_unknown_order(published):
    responses = published["paths"]["/api/v1/staff/returns/returnable/"]["get"]["responses"]
    assert responses["404"]["description"] == "No order with this number."


def test_the_customer_look_up_is_documented_as_the_page_it_answers(published):
    ok = published["paths"]["/api/v1/customers/"]["get"]["responses"]["200"]
    page = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(published["components"]["schemas"][page]["properties"]) == {
        "count",
        "next",
        "previous",
        "results",
    }
    names = {p["name"] for p in published["paths"]["/api/v1/customers/"]["get"]["parameters"]}
    assert {"page", "page_size"} <= names


@pytest.mark.parametrize(
    "component, field",
    [
        ("TimelineEventOutput", "store"),
        ("WishlistItemOutput", "store"),
        ("ServiceNoteOutput", "store"),
        ("ReservationOutput", "order"),
        ("ReturnOutput", "replacement_order"),
        ("OrderOutput", "pickup_store"),
    ],
)
def test_relations_that_may_be_empty_are_documented_nullable(published, component, field):
    assert published["components"]["schemas"][component]["properties"][field].get("nullable")


def test_the_token_scheme_is_documented(published):
    scheme = published["components"]["securitySchemes"]["TokenAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}


@pytest.mark.django_db
def test_an_api_address_no_route_matches_answers_the_error_body(web):
    response = web.get("/api/v1/customers/not-a-number/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["type"] == "not_found"


@pytest.mark.django_db
def test_a_body_django_cannot_parse_answers_the_error_body(web):
    response = web.generic("POST", "/api/v1/customers/", b"x", content_type="multipart/form-data")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["type"] == "validation_error"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, errors",
    [
        ("page_size=null", {"page_size": ["A whole number."]}),
        ("page=", {"page": ["A whole number."]}),
        ("page=last", {"page": ["A whole number."]}),
        ("page=F&page=", {"page": ["Give it once."]}),
        ("page_size=5&page_size=7", {"page_size": ["Give it once."]}),
    ],
)
def test_page_and_page_size_are_whole_numbers_given_once(web, query, errors):
    response = web.get(f"/api/v1/stores/?{query}")

    assert response.status_code == 400
    assert response.json()["errors"] == errors


@pytest.mark.django_db
def test_pages_still_answer_as_before(web):
    assert web.get("/api/v1/stores/?page=1&page_size=5").status_code == 200
    assert web.get("/api/v1/stores/?page_size=0").status_code == 200  # the default size
    assert web.get("/api/v1/stores/?page=7").status_code == 404  # past the end


# A handful of the webshop's operations, through schemathesis (the CI run covers all of them).
FUZZED = [
    ("GET", "/api/v1/customers/"),
    ("GET", "/api/v1/customers/{id}/"),
    ("GET", "/api/v1/customers/{id}/timeline/"),
    ("GET", "/api/v1/customers/{id}/notes/"),
    ("GET", "/api/v1/customers/{id}/wishlist/"),
    ("POST", "/api/v1/customers/{id}/touchpoints/"),
]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def contract(published):
    schema = schemathesis.openapi.from_dict(published)
    schema.app = application  # calls go straight to the WSGI application, as from_wsgi does
    return schema


@pytest.fixture
def connection_kept():
    """The WSGI application is called directly: keep the test's connection (and its transaction)
    open across requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("connection_kept")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("method, path", FUZZED)
def test_webshop_operations_answer_as_the_schema_says(contract, method, path, mode):
    _, key = api_client_with_key("webshop", Channel.WEB)
    customer = CustomerFactory()
    headers = {"Authorization": f"Token {key}"}
    operation = contract[path][method]
    # Positive cases ask about a customer who exists, so the 200 bodies are checked too.
    ids = {"id": customer.pk} if "{id}" in path and mode == GenerationMode.POSITIVE else None

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=ids))
    @settings(max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    answers_as_documented()
