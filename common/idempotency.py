"""Idempotency-Key for every POST: the first response is stored and replayed on retries.

The key row is inserted in the same transaction as the work it guards, so a concurrent retry with
the same key waits on the unique index and then replays the committed response; a crash rolls both
back together. A deadlock or serialization failure reruns that transaction (common.retry).
"""

import functools
import hashlib
import json

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.actor import ClientPrincipal
from common.exceptions import error_body
from common.models import IdempotencyKey
from common.retry import Busy, is_retryable, run_retrying

HEADER = "Idempotency-Key"


def _principal(request) -> str:
    user = request.user
    if isinstance(user, ClientPrincipal):
        return f"client:{user.api_client.pk}"
    return f"user:{user.pk}"


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = request.body.decode(errors="replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        return Response(
            error_body(
                422,
                "This Idempotency-Key was already used with a different request.",
                {"Idempotency-Key": ["Already used with a different body or path."]},
                code="idempotency_key_reused",
            ),
            status=422,
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method):
    """Decorate an APIView's post(): replays the first response for a repeated Idempotency-Key."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            return Response(
                error_body(400, "Invalid input.", {HEADER: ["At most 255 characters."]}), status=400
            )
        principal = _principal(request)
        fingerprint = _fingerprint(request)
        existing = IdempotencyKey.objects.filter(principal=principal, key=key).first()
        if existing is not None and existing.response_status is not None:
            return _replay(existing, fingerprint)

        def guarded_work():
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    principal=principal,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    fingerprint=fingerprint,
                )
                try:
                    response = view_method(self, request, *args, **kwargs)
                except DatabaseError as exc:
                    if is_retryable(exc):
                        raise  # the whole transaction, key row included, runs again
                    response = self.handle_exception(exc)
                except Exception as exc:  # noqa: BLE001 - turned into the stored error response
                    response = self.handle_exception(exc)
                if response.status_code >= 500:
                    # Nothing is remembered for a server fault: the retry runs again.
                    transaction.set_rollback(True)
                    return response
                record.response_status = response.status_code
                record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
                record.save(update_fields=["response_status", "response_body"])
                return response

        try:
            # This transaction is the outermost one, so deadlocks are retried here (the service's
            # own retry cannot run inside it).
            return run_retrying(guarded_work, what=f"{request.method} {request.path}")
        except Busy as exc:
            return self.handle_exception(exc)  # 503, not remembered: the client may retry
        except IntegrityError:
            # A concurrent request with the same key committed first.
            record = IdempotencyKey.objects.filter(principal=principal, key=key).first()
            if record is None or record.response_status is None:
                raise
            return _replay(record, fingerprint)

    wrapper.idempotent = True  # the OpenAPI schema documents the header for such views
    return wrapper


def purge_expired_keys(now=None) -> int:
    cutoff = (now or timezone.now()) - settings.OMNIS_IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
