"""Faults the outbox must ride out with real services: the broker down, a worker killed in the
middle of a message, the mail server failing. Nothing is lost, nothing is sent twice, and the
caller never sees a 500 for work that was committed."""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from common import outbox
from common.auth import issue_user_token
from common.models import OutboxMessage, OutboxStatus
from common.tasks import sweep_outbox
from orders.models.orders import Order
from tests.conftest import IS_POSTGRES, requires_postgres, service_reachable, token_client
from tests.factories import CustomerFactory
from tests.orders.factories_orders import committed, pickup_order, staff_actor, stocked_variant
from tests.smtp_sink import SmtpSink, free_port
from tests.worker import Worker, send_to_broker

BROKER_URL = "redis://127.0.0.1:6379/14"
WAIT_SECONDS = 60


def needs_worker(test):
    """PostgreSQL (a worker process shares the database) and Redis as the broker."""
    for mark in (
        pytest.mark.postgres,
        pytest.mark.redis,
        requires_postgres,
        pytest.mark.skipif(
            IS_POSTGRES and not service_reachable("127.0.0.1", 6379),
            reason="needs a Redis broker on 127.0.0.1:6379 for the Celery worker",
        ),
    ):
        test = mark(test)
    return test


def place(web, store, email: str) -> str:
    variant = stocked_variant(store, 3)
    customer = CustomerFactory(email=email)
    response = web.post(
        "/api/v1/orders/",
        {
            "customer": customer.pk,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_status": "pay_at_pickup",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["number"]


def wait_for(condition, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if worker is not None:
            assert worker.alive(), worker.log()
        if result := condition():
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} within {WAIT_SECONDS}s" + (f"\n{worker.log()}" if worker else ""))


def later(minutes: int):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_unreachable_the_order_is_placed_and_its_message_waits(web, store):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with send_to_broker(closed, "nobody-listens"):
        started = time.monotonic()
        number = place(web, store, "broker.down@example.de")
        assert time.monotonic() - started < 10, "an unreachable broker must not hold the request"
    assert Order.objects.filter(number=number).exists()
    message = OutboxMessage.objects.get(topic="orders.send_order_confirmation")
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    assert mail.outbox == []


@needs_worker
@pytest.mark.django_db(transaction=True)
def test_when_the_broker_is_back_a_real_worker_delivers_each_message_once(web, store, tmp_path):
    with send_to_broker(f"redis://127.0.0.1:{free_port()}/0", "nobody-listens"):
        number = place(web, store, "later@example.de")
        counter = token_client(issue_user_token(staff_actor(store).user))
        ready = counter.post(f"/api/v1/staff/orders/{number}/ready/")
        assert ready.status_code == 200, ready.json()
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 2

    worker = Worker(tmp_path, BROKER_URL).start()
    try:
        with send_to_broker(BROKER_URL, worker.queue):
            sweep_outbox.delay()  # what beat sends every minute
            wait_for(lambda: len(worker.messages()) >= 2, "two e-mails", worker)
            sweep_outbox.delay()  # a second sweep finds nothing left to send
            wait_for(
                lambda: not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists(),
                "every row sent",
                worker,
            )
            time.sleep(2)
    finally:
        worker.stop()
    subjects = sorted(str(m["subject"]) for m in worker.messages())
    assert len(subjects) == 2, subjects
    assert all(number in s for s in subjects)


@needs_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_sends_the_message_once_after_restart(web, store, tmp_path):
    hang = tmp_path / "hang"
    hang.mkdir()
    (hang / "armed").touch()
    worker = Worker(
        tmp_path,
        BROKER_URL,
        EMAIL_BACKEND="tests.slow_mail.HangOnceBackend",
        OMNIS_TEST_HANG_DIR=str(hang),
    ).start()
    try:
        with send_to_broker(BROKER_URL, worker.queue):
            place(web, store, "killed@example.de")
            wait_for(lambda: (hang / "hanging").exists(), "the worker busy with the e-mail", worker)
            worker.kill()
            message = OutboxMessage.objects.get()
            assert message.status == OutboxStatus.PENDING, "the killed worker committed nothing"

            worker.start()
            sweep_outbox.delay()
            wait_for(lambda: worker.messages(), "the e-mail after the restart", worker)
            sweep_outbox.delay()
            time.sleep(3)
    finally:
        worker.stop()
    assert [m["to"] for m in worker.messages()] == ["killed@example.de"]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


class TestMailServer:
    @pytest.fixture
    def smtp(self, settings):
        port = free_port()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_TIMEOUT = 5
        return port

    def test_failing_then_recovering_the_mail_goes_out_once(self, smtp, store):
        order = pickup_order(store)  # the mail server is down
        message = OutboxMessage.objects.get(topic="orders.send_order_confirmation")
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        assert "Connection" in message.last_error

        with SmtpSink(smtp) as sink:
            assert outbox.sweep(now=later(1)) == {"sent": 1}
            assert outbox.sweep(now=later(60)) == {}
        assert len(sink.messages) == 1
        assert order.number.encode() in sink.messages[0]

    def test_past_the_retry_limit_it_is_dead_visible_and_can_be_sent_again(
        self, smtp, store, settings, admin_client
    ):
        settings.OMNIS_OUTBOX_MAX_ATTEMPTS = 3
        pickup_order(store)
        assert outbox.sweep(now=later(5)) == {"retry": 1}
        assert outbox.sweep(now=later(60)) == {"dead": 1}
        message = OutboxMessage.objects.get()
        assert message.status == OutboxStatus.DEAD and message.attempts == 3

        page = admin_client.get("/admin/common/outboxmessage/?status__exact=dead")
        assert b"orders.send_order_confirmation" in page.content

        with SmtpSink(smtp) as sink, committed():
            admin_client.post(
                "/admin/common/outboxmessage/",
                {"action": "retry", "_selected_action": [message.pk]},
            )
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENT
        assert len(sink.messages) == 1
