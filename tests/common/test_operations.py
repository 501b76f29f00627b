"""Health, readiness, metrics and logs, in-process (the real processes: test_production_processes)."""

import json
import logging
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from common.metrics import record_stock_check
from common.models import OutboxMessage, OutboxStatus
from config import preflight
from orders.models import Reservation
from tests.orders.factories_orders import ready_order
from tests.orders.factories_reservations import reservation_for


def metric(body: bytes, name: str) -> float | None:
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


# --- liveness and readiness -------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_answers_without_touching_anything(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_check():
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("redis-server did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server installed")
@pytest.mark.django_db
def test_readyz_is_503_while_the_broker_is_down_and_200_when_it_is_back():
    port = free_port()
    broker = start_redis(port)
    try:
        with override_settings(CELERY_BROKER_URL=f"redis://:s3cret@127.0.0.1:{port}/0"):
            assert Client().get("/readyz").status_code == 200

            stop(broker)
            response = Client().get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["broker"] == {
                "ok": False,
                "seconds": body["checks"]["broker"]["seconds"],
                "error": "broker unreachable",
            }
            assert body["checks"]["database"]["ok"] is True
            assert "s3cret" not in response.content.decode()
            assert str(port) not in response.content.decode()

            broker = start_redis(port)
            assert Client().get("/readyz").status_code == 200
    finally:
        stop(broker)


@pytest.mark.django_db
def test_readyz_is_503_when_a_migration_is_not_applied(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [object()])
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"]["error"] == "1 migrations not applied"


@override_settings(
    SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["backoffice.example"], OMNIS_METRICS_TOKEN=""
)
@pytest.mark.django_db
def test_probes_answer_plain_http_with_any_host_while_the_api_redirects():
    client = Client(HTTP_HOST="10.0.3.7:8000")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert Client(HTTP_HOST="backoffice.example").get("/api/v1/stores/").status_code == 301


# --- metrics ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_show_requests_per_view_and_the_domain_gauges(store):
    Client().get("/api/v1/stores/")
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content
    assert b"django_http_requests_latency_seconds_by_view_method" in body
    assert metric(body, "omnis_domain_up") == 1
    assert metric(body, "omnis_pickups_overdue") == 0
    assert metric(body, "omnis_holds_expiring_next_hour") == 0
    assert metric(body, "omnis_stock_check_offenders") is None  # no nightly check yet


@pytest.mark.django_db
def test_the_domain_gauges_move(store):
    overdue = ready_order(store)
    overdue.pickup_deadline = timezone.now() - timedelta(minutes=5)
    overdue.save(update_fields=["pickup_deadline"])
    ready_order(store)  # still within its pickup window
    soon = reservation_for(store)
    Reservation.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(minutes=30))
    reservation_for(store, expires_at=timezone.now() + timedelta(days=2))
    record_stock_check(offenders=3, checked_at=1_700_000_000)

    body = Client().get("/metrics").content
    assert metric(body, "omnis_pickups_overdue") == 1
    assert metric(body, "omnis_holds_expiring_next_hour") == 1
    assert metric(body, "omnis_stock_check_offenders") == 3
    assert metric(body, "omnis_stock_check_last_run_timestamp_seconds") == 1_700_000_000


@pytest.mark.django_db
def test_the_nightly_stock_check_feeds_the_offenders_gauge():
    from inventory.tasks import check_stock_ledger

    check_stock_ledger()
    assert metric(Client().get("/metrics").content, "omnis_stock_check_offenders") == 0


@pytest.mark.django_db
def test_the_outbox_gauge_moves_with_pending_and_dead_messages():
    def gauge(status: str) -> float:
        return _labelled(Client().get("/metrics").content, "omnis_outbox_messages", status)

    assert (gauge("pending"), gauge("dead")) == (0, 0)
    now = timezone.now()
    first, _ = (
        OutboxMessage.objects.create(topic="t", status=OutboxStatus.PENDING, next_attempt_at=now)
        for _ in range(2)
    )
    OutboxMessage.objects.create(topic="t", status=OutboxStatus.DEAD, next_attempt_at=now)
    assert (gauge("pending"), gauge("dead")) == (2, 1)
    OutboxMessage.objects.filter(pk=first.pk).update(status=OutboxStatus.SENT)
    assert (gauge("pending"), gauge("dead")) == (1, 1)


def _labelled(body: bytes, name: str, value: str) -> float:
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and f'"{value}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {value} not reported")


@override_settings(OMNIS_METRICS_TOKEN="metrics-t0ken")
@pytest.mark.django_db
def test_metrics_are_for_the_internal_network_or_a_token():
    public = Client(REMOTE_ADDR="203.0.113.9")
    assert public.get("/metrics").status_code == 403
    assert public.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert public.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-t0ken").status_code == 200
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    # Relayed by the public proxy (which itself has a private address): external.
    relayed = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert relayed.get("/metrics").status_code == 403


# --- logs -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_request_logs_one_access_line_and_its_id_reaches_error_bodies(web, caplog):
    caplog.set_level(logging.INFO)
    response = web.get("/api/v1/orders/NOPE-1/", HTTP_X_REQUEST_ID="edge-0123456789")
    assert response.status_code == 404
    assert response.json()["request_id"] == "edge-0123456789"
    assert response["X-Request-ID"] == "edge-0123456789"
    access = [r for r in caplog.records if r.name == "omnis.requests"]
    assert len(access) == 1
    line = access[0]
    assert (line.method, line.path, line.status) == ("GET", "/api/v1/orders/NOPE-1/", 404)
    assert line.client_id == web.api_client.pk
    assert line.duration_ms >= 0
    # Django's own "Not Found" warning comes after the middleware, with the same id.
    from common.requestlog import RequestIdFilter

    other = [r for r in caplog.records if r.name == "django.request"]
    assert other and all(
        RequestIdFilter().filter(r) and r.request_id == "edge-0123456789" for r in other
    )


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_new_one(web):
    first = web.get("/api/v1/orders/NOPE-1/")
    second = web.get("/api/v1/orders/NOPE-1/", HTTP_X_REQUEST_ID="bad id with spaces")
    assert first["X-Request-ID"] and second["X-Request-ID"] != "bad id with spaces"
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
def test_json_log_lines_carry_the_request_fields(web):
    from django.conf import settings

    from config.settings.base import logging_config

    config = logging_config("json")
    formatter_config = dict(config["formatters"]["json"])
    factory = formatter_config.pop("()")
    from django.utils.module_loading import import_string

    formatter = import_string(factory)(**formatter_config)
    record = logging.LogRecord("omnis.requests", logging.INFO, __file__, 1, "GET / 200", (), None)
    record.request_id, record.method, record.status = "abc", "GET", 200
    line = json.loads(formatter.format(record))
    assert line["level"] == "INFO" and line["logger"] == "omnis.requests"
    assert (line["request_id"], line["method"], line["status"]) == ("abc", "GET", 200)
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "text"  # development


@override_settings(DEBUG_PROPAGATE_EXCEPTIONS=False)
@pytest.mark.django_db
def test_a_server_error_on_the_api_is_json_with_the_request_id(web, monkeypatch):
    from orders.api import orders as api

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(api.OrderDetailView, "get", boom)
    web.raise_request_exception = False
    response = web.get("/api/v1/orders/W-1/", HTTP_X_REQUEST_ID="edge-500-0123456")
    assert response.status_code == 500
    assert response.json()["request_id"] == "edge-500-0123456"
    assert response.json()["type"] == "server_error"


# --- make prod refuses without its variables ------------------------------------------------


def test_preflight_names_every_missing_variable(capsys, monkeypatch):
    for name in preflight.REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://db/omnis")
    assert preflight.main() == 1
    err = capsys.readouterr().err
    assert "DATABASE_URL" not in err
    for name in ("CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
        assert name in err


def test_make_prod_refuses_to_start_without_its_variables():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    result = subprocess.run(
        ["make", "--no-print-directory", "prod"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "CELERY_BROKER_URL" in result.stderr
    assert "Starting gunicorn" not in result.stdout + result.stderr
