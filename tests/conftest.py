import socket

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from rest_framework.test import APIClient

from common import outbox, sms, webhooks
from common.auth import issue_user_token
from common.models import Channel
from stores.selectors import forget_store_directory
from tests.factories import (
    CustomerFactory,
    StoreFactory,
    UserFactory,
    api_client_with_key,
    staff_user,
)

IS_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

requires_postgres = pytest.mark.skipif(
    not IS_POSTGRES,
    reason="needs PostgreSQL: set DATABASE_URL=postgres://… (SQLite serialises all writers)",
)


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters start at zero in every test."""
    cache.clear()
    yield
    cache.clear()


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _speak(monkeypatch, language: str):
    # Set on the settings themselves, not through override_settings: that would hide
    # SETTINGS_MODULE from code that reads it (seed_demo's refusal to run in production).
    monkeypatch.setattr(settings, "LANGUAGE_CODE", language)
    with translation.override(language):
        yield


@pytest.fixture(autouse=True)
def _english(request, monkeypatch):
    """The suite's assertions are written in English: each test runs as an English-speaking
    deployment (desk and admin without a language cookie, new customers, messages) unless it
    takes the `german` fixture, the retailer's real default (config/settings/base.py)."""
    if "german" in request.fixturenames:
        yield
    else:
        yield from _speak(monkeypatch, "en")


@pytest.fixture
def german(monkeypatch):
    """The deployment as the retailer runs it: German unless the user or customer asks for
    English."""
    yield from _speak(monkeypatch, "de")


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    """Like mail.outbox: each test starts with no SMS sent."""
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _fresh_webhook_subscribers():
    """Each test reads who subscribed, and the stores, afresh (a cache would outlive the
    rolled-back rows)."""
    webhooks.forget_subscribed_types()
    forget_store_directory()


@pytest.fixture(autouse=True)
def _outside_any_request():
    """A response a test never closes (a streamed body) leaves the outbox thinking it is still
    inside that request; the next test starts outside one, as the next request would."""
    yield
    outbox._local.deferred = None


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def web(db):
    """The webshop's server: an API client of channel web."""
    client, key = api_client_with_key("webshop", Channel.WEB)
    api = token_client(key)
    api.api_client = client
    return api


@pytest.fixture
def phone_desk(db):
    client, key = api_client_with_key("phone-desk", Channel.PHONE)
    api = token_client(key)
    api.api_client = client
    return api


@pytest.fixture
def store(db):
    return StoreFactory(code="BER-01", name="Berlin Mitte")


@pytest.fixture
def other_store(db):
    return StoreFactory(code="HAM-01", name="Hamburg", latitude="53.550341", longitude="10.000654")


@pytest.fixture
def staff(store):
    """A staff member of BER-01, logged in with a token."""
    user = staff_user(store)
    api = token_client(issue_user_token(user))
    api.user = user
    return api


@pytest.fixture
def customer_api(db):
    """A customer login with its own Customer record."""
    user = UserFactory()
    customer = CustomerFactory(user=user, email=user.email)
    api = token_client(issue_user_token(user))
    api.user = user
    api.customer = customer
    return api


@pytest.fixture
def agent(store):
    """A service agent (BER-01), logged in with a token: customers, merges, phone reservations."""
    user = staff_user(store, role="service_agent")
    api = token_client(issue_user_token(user))
    api.user = user
    return api


@pytest.fixture
def manager(store):
    """The manager of BER-01, logged in with a token: refunds, stock counts, unlocking."""
    user = staff_user(store, role="manager")
    api = token_client(issue_user_token(user))
    api.user = user
    return api
