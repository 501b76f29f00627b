"""Two nudge sweeps at the same moment on PostgreSQL: one Nudge row, one message."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from common.actor import Actor
from common.models import Channel, OutboxMessage
from customers.models import Nudge, TimelineEvent
from customers.services import record_touchpoint
from orders.services.nudges import send_nudges
from tests.conftest import requires_postgres
from tests.factories import CustomerFactory
from tests.orders.factories_orders import stocked_variant
from tests.orders.test_reservations_concurrency import run_together

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_sweeps_at_once_send_one_nudge(store):
    customers = []
    for _ in range(5):
        variant = stocked_variant(store, 1)
        customer = CustomerFactory(marketing_consent=True, preferred_store=store)
        for days_ago in (3, 1):
            record_touchpoint(
                actor=Actor(channel=Channel.WEB),
                customer=customer,
                kind="product_view",
                sku=variant.sku,
                at=timezone.now() - timedelta(days=days_ago),
            )
        customers.append(customer)

    results = run_together(send_nudges, send_nudges, send_nudges)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 5
    assert Nudge.objects.count() == 5
    assert OutboxMessage.objects.filter(topic="orders.send_nudge").count() == 5
    assert TimelineEvent.objects.filter(subject_type="nudge").count() == 5
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
