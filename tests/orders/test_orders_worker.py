"""A real Celery worker on Redis sends the ready-for-pickup e-mail with the pickup code."""

import time

import pytest

from common.auth import issue_user_token
from tests.conftest import IS_POSTGRES, requires_postgres, service_reachable, token_client
from tests.factories import CustomerFactory
from tests.orders.factories_orders import staff_actor, stocked_variant
from tests.worker import Worker, send_to_broker, sent_messages

BROKER_URL = "redis://127.0.0.1:6379/15"
WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    requires_postgres,
    pytest.mark.skipif(
        IS_POSTGRES and not service_reachable("127.0.0.1", 6379),
        reason="needs a Redis broker on 127.0.0.1:6379 for the Celery worker",
    ),
]


@pytest.fixture
def worker(tmp_path):
    """A worker subprocess on its own queue, so no other worker on the broker takes our tasks."""
    process = Worker(tmp_path, BROKER_URL).start()
    try:
        with send_to_broker(BROKER_URL, process.queue):
            yield process.process, process.mail_dir, process.log_path
    finally:
        process.stop()


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_the_ready_email_with_the_pickup_code(worker, web, store):
    process, mail_dir, log_path = worker
    variant = stocked_variant(store, 3)
    customer = CustomerFactory(email="worker.test@example.de")
    placed = web.post(
        "/api/v1/orders/",
        {
            "customer": customer.pk,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_reference": "psp_pay_worker",
        },
        format="json",
    )
    assert placed.status_code == 201, placed.json()
    number = placed.json()["number"]

    counter = token_client(issue_user_token(staff_actor(store).user))
    ready = counter.post(f"/api/v1/staff/orders/{number}/ready/")
    assert ready.status_code == 200, ready.json()
    code = ready.json()["pickup_code"]

    deadline = time.monotonic() + WAIT_SECONDS
    found = None
    while time.monotonic() < deadline and found is None:
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        for message in sent_messages(mail_dir):
            if code in str(message["subject"]):
                found = message
        time.sleep(0.5)
    assert found is not None, (
        f"no ready e-mail within {WAIT_SECONDS}s; worker log:\n"
        + log_path.read_text(errors="replace")[-3000:]
    )
    assert found["to"] == "worker.test@example.de"
    text = found.get_body(preferencelist=("plain",)).get_content()
    assert code in text and number in text
    attachments = [part.get_content_type() for part in found.iter_attachments()]
    assert "image/png" in attachments
