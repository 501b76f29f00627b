"""Liveness (/healthz) and readiness (/readyz) for load balancers and on-call.

/healthz only says the process answers. /readyz asks the database, the cache, the Celery broker
and whether every migration is applied; the body names each check and whether it passed, never a
host, password or error text (those go to the log), and the status is 503 while one fails so a
load balancer takes this instance out until it recovers.
"""

import asyncio
import dataclasses
import datetime
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from kombu import Connection


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis or RabbitMQ alike, through kombu)."""

    timeout = datetime.timedelta(seconds=3)

    def run(self) -> None:
        url = settings.CELERY_BROKER_URL
        if not url:
            return  # no broker configured: tasks run in-process, nothing to reach
        try:
            with Connection(url, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:
            # kombu's errors may carry the URL with its password: keep them out of the message.
            raise ServiceUnavailable("broker unreachable") from exc


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration in the code is applied: new code must not serve an old schema."""

    def run(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:
            raise ServiceUnavailable("migration state unknown") from exc
        finally:
            connection.close()  # a short-lived probe thread: keep no connection behind
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migrations not applied")


READINESS_CHECKS = {
    "database": Database,
    "cache": Cache,
    "broker": Broker,
    "migrations": Migrations,
}


async def _run_checks():
    with ThreadPoolExecutor(max_workers=len(READINESS_CHECKS)) as executor:
        return await asyncio.gather(
            *(check().get_result(executor) for check in READINESS_CHECKS.values())
        )


def readyz(request):
    """django-health-check runs the checks concurrently, each with its own time limit."""
    results = async_to_sync(_run_checks)()
    body = {"status": "ok", "checks": {}}
    for name, result in zip(READINESS_CHECKS, results, strict=True):
        check = {"ok": result.error is None, "seconds": round(result.time_taken, 3)}
        if result.error is not None:
            body["status"] = "unavailable"
            # Our own checks word their message; a library's may quote a host: only its kind.
            own = isinstance(result.check, Broker | Migrations)
            check["error"] = result.error.message if own else result.error.message_type
        body["checks"][name] = check
    response = JsonResponse(body, status=200 if body["status"] == "ok" else 503)
    add_never_cache_headers(response)
    return response


def healthz(request):
    response = JsonResponse({"status": "ok"})
    add_never_cache_headers(response)
    return response
