"""A real Celery worker on Redis sends the ready-for-pickup e-mail with the pickup code."""

import email
import email.policy
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kombu.pools
import pytest
from django.db import connection

from common.auth import issue_user_token
from config.celery import app as celery_app
from tests.conftest import IS_POSTGRES, requires_postgres, service_reachable, token_client
from tests.factories import CustomerFactory
from tests.orders.factories_orders import staff_actor, stocked_variant

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


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def sent_messages(folder: Path) -> list[email.message.EmailMessage]:
    """The messages the file-based backend wrote (several per file, split by a dashed line)."""
    messages = []
    for path in folder.glob("*.log"):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def forget_broker_setup() -> None:
    """Celery caches queues, routes and connections on first use: start afresh from the conf."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)
    # kombu keeps producer pools per connection in a global registry; a pool left there would
    # hand out the connections closed above (even eager calls acquire a producer).
    kombu.pools.reset()


@pytest.fixture
def worker(tmp_path):
    """A worker subprocess on its own queue, so no other worker on the broker takes our tasks."""
    queue = f"orders-worker-test-{uuid.uuid4().hex[:8]}"
    mail_dir = tmp_path / "mails"
    mail_dir.mkdir()
    log_path = tmp_path / "worker.log"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CELERY_BROKER_URL": BROKER_URL,
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    celery = Path(sys.executable).parent / "celery"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(celery), "-A", "config", "worker", "--pool=solo", "-c", "1", "-Q", queue]
            + ["--loglevel=info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    previous = {
        key: celery_app.conf[key]
        for key in ("task_always_eager", "broker_url", "task_default_queue")
    }
    # This test process sends tasks to the broker for real instead of running them eagerly.
    celery_app.conf.update(task_always_eager=False, broker_url=BROKER_URL, task_default_queue=queue)
    forget_broker_setup()
    try:
        yield process, mail_dir, log_path
    finally:
        celery_app.conf.update(previous)
        forget_broker_setup()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
