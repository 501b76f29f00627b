"""Journey 5, the weekend nudge: only one pair left in her size at her store."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.models import TimelineEvent
from customers.services import add_to_wishlist
from orders.services.nudges import send_low_stock_nudges
from tests.factories import CustomerFactory
from tests.orders.factories_orders import committed, pickup_order, stocked_variant

pytestmark = pytest.mark.django_db


def listing(store, *, on_hand=1, **customer):
    shoes = stocked_variant(store, on_hand, attributes={"size": "39", "colour": "schwarz"})
    defaults = {"marketing_consent": True, "preferred_store": store}
    anna = CustomerFactory(**(defaults | customer))
    add_to_wishlist(actor=Actor(channel=Channel.APP), customer=anna, variant=shoes)
    return anna, shoes


def nudges(**kwargs) -> int:
    with committed():
        return send_low_stock_nudges(**kwargs)


def test_last_pair_in_her_store_sends_one_message_a_week(store):
    anna, shoes = listing(store, on_hand=1)

    assert nudges() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [anna.email]
    assert message.subject.startswith("Only one left")
    assert shoes.sku in message.body and store.name in message.body
    event = TimelineEvent.objects.get(customer=anna, subject_type="nudge")
    assert event.store == store and event.sku == shoes.sku

    # The sweep runs again (a retry, a second beat): nothing new this week.
    assert nudges() == 0
    assert len(mail.outbox) == 1
    # Next week, still not bought and still the last pair: one more reminder.
    assert nudges(now=timezone.now() + timedelta(days=7)) == 1
    assert len(mail.outbox) == 2


@pytest.mark.parametrize("on_hand", [0, 3])
def test_no_message_when_gone_or_still_plenty(store, on_hand):
    listing(store, on_hand=on_hand)
    assert nudges() == 0
    assert mail.outbox == []


def test_the_threshold_is_configurable(store):
    listing(store, on_hand=3)
    assert nudges(threshold=3) == 1


def test_no_message_without_consent_or_without_a_store(store):
    listing(store, marketing_consent=False)
    listing(store, preferred_store=None)
    listing(store, contact_channel="none")
    assert nudges() == 0
    assert mail.outbox == []


def test_no_message_once_she_bought_it(store):
    anna, shoes = listing(store, on_hand=2)
    pickup_order(store, [(shoes, 1)], customer=anna)
    mail.outbox.clear()
    assert nudges() == 0
    assert mail.outbox == []


def test_management_command(store):
    listing(store)
    with committed():
        call_command("send_low_stock_nudges")
    assert len(mail.outbox) == 1
