from datetime import timedelta

import pytest
from django.utils import timezone

from common.idempotency import purge_expired_keys
from common.models import IdempotencyKey
from customers.models import Customer

pytestmark = pytest.mark.django_db


def post(api, body, key):
    return api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_the_first_response_and_creates_nothing(web):
    first = post(web, {"email": "a@example.de", "first_name": "Anna"}, "k-1")
    again = post(web, {"email": "a@example.de", "first_name": "Anna"}, "k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_same_key_with_another_body_is_422(web):
    post(web, {"email": "a@example.de"}, "k-2")
    response = post(web, {"email": "b@example.de"}, "k-2")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Customer.objects.count() == 1


def test_error_responses_are_replayed_too(web):
    first = post(web, {"phone": "no phone"}, "k-3")
    again = post(web, {"phone": "no phone"}, "k-3")
    assert first.status_code == again.status_code == 400
    assert first.json() == again.json()


def test_keys_are_per_client(web, phone_desk):
    post(web, {"email": "a@example.de"}, "shared")
    response = post(phone_desk, {"email": "b@example.de"}, "shared")
    assert response.status_code == 201
    assert Customer.objects.count() == 2


def test_expired_keys_are_purged_after_24_hours(web):
    post(web, {"email": "a@example.de"}, "old")
    post(web, {"email": "b@example.de"}, "new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_expired_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
