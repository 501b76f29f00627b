"""Deadlocks and serialization failures are retried in one place: the outermost transaction.

PostgreSQL breaks a lock cycle (40P01 deadlock_detected) or a conflicting snapshot (40001
serialization_failure) by aborting one of the transactions; running that transaction again from
its start is the cure. Only the outermost transaction can be run again: inside an atomic block
the database has already aborted the caller's whole transaction, so `retry_when_busy` there only
lets the error travel up, and the outermost level retries.

Every stock, order, reservation and customer service that opens a transaction is decorated, so
the API, the desk, the admin, management commands and Celery tasks all get the retry without
knowing about it. `common.idempotency` opens the transaction around the service for a POST with
an Idempotency-Key; it runs that transaction through `run_retrying` itself. After the last attempt
the caller gets `Busy` (code busy_try_again, 503 with Retry-After), never a raw database error.
"""

import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import DatabaseError, connection

from common.errors import ApplicationError

log = logging.getLogger(__name__)

# deadlock_detected, serialization_failure
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})

# How often a transaction was run again (by SQLSTATE) and gave up ("busy"), since the process
# started: the soak benchmark reports them.
absorbed: Counter[str] = Counter()
_absorbed_lock = threading.Lock()

P = ParamSpec("P")
R = TypeVar("R")


class Busy(ApplicationError):
    """The database kept refusing the work for lock conflicts; nothing was written."""

    code = "busy_try_again"
    status = 503
    retry_after = 1  # seconds, sent as Retry-After


def _sqlstate(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        state = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if state in RETRYABLE_SQLSTATES:
            return state
        seen = seen.__cause__
    return None


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure, as raised by Django's wrapper around the driver."""
    return _sqlstate(exc) is not None


def _count(what: str) -> None:
    with _absorbed_lock:
        absorbed[what] += 1


def _pause(attempt: int) -> None:
    # Exponential with full jitter, so the aborted callers do not collide again in step.
    ceiling = min(settings.OMNIS_BUSY_RETRY_BASE_DELAY * 2**attempt, 0.5)
    time.sleep(random.uniform(0, ceiling))


def run_retrying(work: Callable[[], R], *, what: str = "") -> R:
    """Run `work` (which opens the outermost transaction) again after a deadlock or
    serialization failure, up to OMNIS_BUSY_RETRIES attempts in all; then raise Busy.

    Inside an atomic block `work` runs once: the enclosing transaction is aborted as a whole and
    only its owner can run it again.
    """
    if connection.in_atomic_block:
        return work()
    attempts = max(1, settings.OMNIS_BUSY_RETRIES)
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DatabaseError as exc:
            if not is_retryable(exc):
                raise
            if attempt == attempts:
                _count("busy")
                log.warning("%s still refused after %d attempts: %s", what, attempts, exc)
                raise Busy(
                    "Too many people are changing the same records right now; nothing was "
                    "saved. Please try again.",
                    extra={"attempts": attempts},
                ) from exc
            _count(_sqlstate(exc) or "")
            log.info("%s: %s; attempt %d of %d", what, exc.__class__.__name__, attempt, attempts)
            _pause(attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_when_busy(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a service: run again after a deadlock or serialization failure when it is the
    outermost transaction (see the module docstring). Put it above @transaction.atomic."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_retrying(lambda: func(*args, **kwargs), what=func.__qualname__)

    return wrapper
