"""`make prod` on PostgreSQL and Redis: gunicorn answers, the worker sends, beat sweeps, Ctrl-C ends all.

Bounded: every wait has a deadline, and whatever the outcome every process started here is killed
(found by a marker in its environment, since honcho gives each process its own session).
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from common.auth import issue_user_token
from orders.models import Reservation
from orders.models.reservations import ReservationStatus
from tests.conftest import IS_POSTGRES, requires_postgres, service_reachable
from tests.factories import CustomerFactory
from tests.orders.factories_orders import pickup_order, staff_actor
from tests.orders.factories_reservations import reservation_for
from tests.worker import database_url, sent_messages

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"
START_SECONDS = 45
WAIT_SECONDS = 25

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    requires_postgres,
    pytest.mark.skipif(
        IS_POSTGRES and not service_reachable("127.0.0.1", 6379),
        reason="needs Redis on 127.0.0.1:6379 for the broker and the cache",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def marked_pids(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def call(method: str, url: str, **headers) -> tuple[int, bytes]:
    """One request, redirects not followed (plain HTTP to the API answers with one)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, parts.path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get(url: str, **headers) -> tuple[int, bytes]:
    return call("GET", url, **headers)


def post(url: str, **headers) -> tuple[int, bytes]:
    return call("POST", url, **headers)


def wait_for(condition, seconds: float, process, log_path: Path, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (result := condition()) is not None:
            return result
        assert process.poll() is None, f"make prod ended early:\n{tail(log_path)}"
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds}s; log:\n{tail(log_path)}")


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]


@pytest.fixture
def make_prod(tmp_path):
    marker = f"OMNIS_PROCESS_TEST={uuid.uuid4().hex}"
    port = free_port()
    mail_dir = tmp_path / "mails"
    mail_dir.mkdir()
    log_path = tmp_path / "prod.log"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTEST_ARGS")
    } | {
        marker.split("=")[0]: marker.split("=")[1],
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "prod-test-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORT": str(port),
        "BIND_ADDRESS": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "CONN_MAX_AGE": "0",
        "STATIC_ROOT": str(tmp_path / "static"),
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "beat" / "schedule"),
        "OMNIS_RESERVATION_SWEEP_SECONDS": "2",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "prod"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, f"http://127.0.0.1:{port}", mail_dir, log_path, marker
    finally:
        for pid in [process.pid, *marked_pids(marker)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_make_prod_serves_the_api_the_worker_sends_and_beat_sweeps(make_prod, store):
    process, base, mail_dir, log_path, marker = make_prod
    https = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy adds
    order = pickup_order(store, customer=CustomerFactory(email="prod.test@example.de"))
    staff_token = issue_user_token(staff_actor(store).user)
    hold = reservation_for(store)
    Reservation.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    def answers():
        try:
            return True if get(f"{base}/healthz")[0] == 200 else None
        except OSError:
            return None

    wait_for(
        answers,
        START_SECONDS,
        process,
        log_path,
        "gunicorn did not answer /healthz",
    )
    status, body = get(f"{base}/readyz")
    assert status == 200, body
    assert all(check["ok"] for check in json.loads(body)["checks"].values())

    # The web process: the API over the proxy's HTTPS; plain HTTP is redirected, probes are not.
    assert get(f"{base}/api/v1/stores/")[0] == 301
    status, body = post(
        f"{base}/api/v1/staff/orders/{order.number}/ready/",
        Authorization=f"Token {staff_token}",
        **https,
    )
    assert status == 200, body
    code = json.loads(body)["pickup_code"]

    # The worker: the ready e-mail with the pickup code.
    message = wait_for(
        lambda: next((m for m in sent_messages(mail_dir) if code in str(m["subject"])), None),
        WAIT_SECONDS,
        process,
        log_path,
        "the worker sent no ready e-mail",
    )
    assert message["to"] == "prod.test@example.de"
    # The outbox row behind that e-mail is sent: nothing pending on /metrics.
    wait_for(
        lambda: (
            True
            if b'omnis_outbox_messages{status="pending"} 0.0' in get(f"{base}/metrics")[1]
            else None
        ),
        WAIT_SECONDS,
        process,
        log_path,
        "the outbox still has pending messages",
    )

    # Beat: the reservation sweep (every 2 s here) released the expired hold.
    wait_for(
        lambda: (
            True
            if Reservation.objects.get(pk=hold.pk).status == ReservationStatus.RELEASED
            else None
        ),
        WAIT_SECONDS,
        process,
        log_path,
        "beat's sweep did not release the expired hold",
    )

    status, body = get(f"{base}/metrics")
    assert status == 200
    assert b"omnis_pickups_overdue 0.0" in body
    assert b"django_http_requests_latency_seconds_by_view_method" in body
    assert b'django_db_execute_total{alias="default",vendor="postgresql"}' in body

    # One combined log, JSON lines from the web process with the request id.
    lines = [line for line in tail(log_path, 200_000).splitlines() if '"omnis.requests"' in line]
    access = [json.loads(line[line.index("{") :]) for line in lines]
    ready = next(a for a in access if a["path"].endswith("/ready/"))
    assert ready["status"] == 200 and ready["request_id"] and ready["user_id"]

    # Ctrl-C: honcho stops all three.
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=40)
    deadline = time.monotonic() + 10
    while marked_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert marked_pids(marker) == [], tail(log_path)
