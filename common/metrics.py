"""GET /metrics: Prometheus text for the web process and the gauges a retailer watches.

django-prometheus counts requests, latency per view and database queries. The domain gauges are
read from the database at scrape time (a few indexed counts), so every web process reports the
same values.

Reachable from loopback and private networks (OMNIS_METRICS_NETWORKS) or with
`Authorization: Bearer <OMNIS_METRICS_TOKEN>`; a request relayed by the public proxy (it carries
X-Forwarded-For) counts as external, since the proxy itself sits on a private address.
"""

import hmac
import ipaddress
import logging
import os
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from common.models import OutboxMessage, WebhookDelivery

logger = logging.getLogger(__name__)

STOCK_CHECK_CACHE_KEY = "omnis:stock-check:last"


def record_stock_check(*, offenders: int, checked_at: float) -> None:
    """The nightly check's result, kept for the gauge (the check itself is too heavy to scrape)."""
    cache.set(STOCK_CHECK_CACHE_KEY, {"offenders": offenders, "at": checked_at}, timeout=None)


def _counts_by(model, field: str, values, name: str, documentation: str) -> GaugeMetricFamily:
    counts = dict.fromkeys(values, 0)
    rows = model.objects.filter(**{f"{field}__in": values}).values(field).annotate(n=Count("pk"))
    for row in rows.order_by():
        counts[row[field]] = row["n"]
    family = GaugeMetricFamily(name, documentation, labels=[field])
    for value, n in counts.items():
        family.add_metric([value], n)
    return family


class DomainCollector:
    """Gauges computed when Prometheus scrapes; a database outage yields omnis_domain_up 0."""

    def collect(self):
        up = GaugeMetricFamily(
            "omnis_domain_up", "1 when the domain gauges could be read from the database."
        )
        try:
            families = list(self._families())
        except DatabaseError:
            logger.exception("Domain metrics could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        # common sits below the apps that own these tables: import them only when scraped.
        from orders.models.orders import Order, OrderStatus
        from orders.models.reservations import Reservation, ReservationStatus

        now = timezone.now()

        yield _counts_by(
            OutboxMessage,
            "status",
            ("pending", "dead"),
            "omnis_outbox_messages",
            "Outbox messages waiting to be relayed (pending) or given up on (dead).",
        )
        yield _counts_by(
            WebhookDelivery,
            "state",
            ("pending", "dead"),
            "omnis_webhook_deliveries",
            "Webhook deliveries not yet delivered (pending) or failed for good (dead).",
        )

        yield GaugeMetricFamily(
            "omnis_holds_expiring_next_hour",
            "Active reservations whose hold ends within the next hour.",
            value=Reservation.objects.filter(
                status=ReservationStatus.ACTIVE,
                expires_at__gt=now,
                expires_at__lte=now + timedelta(hours=1),
            ).count(),
        )
        yield GaugeMetricFamily(
            "omnis_pickups_overdue",
            "Click & collect orders still ready for pickup after their pickup deadline.",
            value=Order.objects.filter(
                status=OrderStatus.READY_FOR_PICKUP, pickup_deadline__lt=now
            ).count(),
        )

        last = cache.get(STOCK_CHECK_CACHE_KEY)
        if last is not None:
            yield GaugeMetricFamily(
                "omnis_stock_check_offenders",
                "Stock items breaking the stock invariants at the last nightly check_stock.",
                value=last["offenders"],
            )
            yield GaugeMetricFamily(
                "omnis_stock_check_last_run_timestamp_seconds",
                "When the last nightly stock check ran (Unix time).",
                value=last["at"],
            )


_domain_registry = CollectorRegistry(auto_describe=False)
_domain_registry.register(DomainCollector())


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]):
    return tuple(ipaddress.ip_network(net, strict=False) for net in spec)


def _allowed(request) -> bool:
    token = settings.OMNIS_METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(
            header.removeprefix("Bearer ").encode(), token.encode()
        ):
            return True
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(settings.OMNIS_METRICS_NETWORKS)))


def metrics(request):
    if not _allowed(request):
        return JsonResponse(
            {"type": "permission_denied", "detail": "Metrics are for the internal network."},
            status=403,
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: add up what each wrote to the shared directory.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_domain_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
