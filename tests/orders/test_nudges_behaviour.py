"""Viewed again, not bought: two looks at a product within two weeks and the last few left where
the customer shops give one message that week, never two."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from common.actor import Actor
from common.models import Channel, OutboxMessage
from customers.models import Nudge, NudgeReason, Segment, TimelineEvent
from customers.privacy.consents import update_consents
from customers.services import add_to_wishlist, record_touchpoint
from orders.services.nudges import nudge_segment, send_nudges
from tests.factories import CustomerFactory, ProductFactory, VariantFactory, WarehouseFactory
from tests.inventory.factories_stock import stocked
from tests.orders.factories_orders import committed, pickup_order

pytestmark = pytest.mark.django_db

WEB = Actor(channel=Channel.WEB)


def jacket(store, on_hand=1, sizes=("M", "L")):
    """One product in two sizes, `on_hand` of each at `store`."""
    product = ProductFactory(name="Regenjacke")
    variants = [
        VariantFactory(product=product, attributes={"size": size, "colour": "grün"})
        for size in sizes
    ]
    for variant in variants:
        stocked(variant, store, on_hand)
    return variants


def viewer(store=None, **fields):
    return CustomerFactory(**({"marketing_consent": True, "preferred_store": store} | fields))


def view(customer, variant, days_ago):
    record_touchpoint(
        actor=WEB,
        customer=customer,
        kind="product_view",
        sku=variant.sku,
        at=timezone.now() - timedelta(days=days_ago),
    )


def nudges(**kwargs) -> int:
    with committed():
        return send_nudges(**kwargs)


def test_viewed_twice_not_bought_fires_exactly_once(store):
    m, l_size = jacket(store, on_hand=1)
    anna = viewer(store)
    view(anna, m, days_ago=5)
    view(anna, l_size, days_ago=1)  # another size of the same product counts

    assert nudges() == 1
    assert nudges() == 0  # a second sweep the same week
    nudge = Nudge.objects.get(customer=anna)
    assert (nudge.variant, nudge.reason, nudge.store) == (l_size, NudgeReason.VIEWED_AGAIN, store)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [anna.email]
    assert message.subject == f"Only one left: {l_size.label} at {store.name}"
    assert "you looked at again" in message.body and store.name in message.body
    assert TimelineEvent.objects.filter(customer=anna, subject_type="nudge").count() == 1

    # Next week, still looked at and not bought: one more.
    assert nudges(now=timezone.now() + timedelta(days=7)) == 1
    assert Nudge.objects.filter(customer=anna).count() == 2


def test_one_view_or_views_too_far_apart_are_not_enough(store):
    m, _ = jacket(store)
    once, long_ago = viewer(store), viewer(store)
    view(once, m, days_ago=1)
    view(long_ago, m, days_ago=20)
    view(long_ago, m, days_ago=1)
    assert nudges() == 0
    assert mail.outbox == []


def test_no_nudge_once_she_bought_any_size_of_it(store):
    m, l_size = jacket(store, on_hand=2)
    anna = viewer(store)
    view(anna, m, days_ago=3)
    view(anna, m, days_ago=2)
    pickup_order(store, [(l_size, 1)], customer=anna)
    mail.outbox.clear()
    assert nudges(threshold=2) == 0
    assert mail.outbox == []


def test_without_a_store_the_warehouse_stock_counts_and_the_message_says_online(store):
    warehouse = WarehouseFactory()
    m, _ = jacket(store, on_hand=5)
    stocked(m, warehouse, 1)
    ben = viewer(None)
    view(ben, m, days_ago=2)
    view(ben, m, days_ago=1)

    assert nudges() == 1
    nudge = Nudge.objects.get(customer=ben)
    assert nudge.store is None and nudge.available == 1
    message = mail.outbox[0]
    assert message.subject == f"Only one left: {m.label} online"
    assert "in our online shop" in message.body and store.name not in message.body


def test_no_nudge_without_consent_or_contact(store):
    m, _ = jacket(store)
    for customer in (
        viewer(store, marketing_consent=False),
        viewer(store, contact_channel="none"),
        viewer(store, email=None),
    ):
        view(customer, m, days_ago=2)
        view(customer, m, days_ago=1)
    assert nudges() == 0
    assert Nudge.objects.count() == 0


def test_listed_and_viewed_twice_is_still_one_message(store):
    m, _ = jacket(store)
    anna = viewer(store)
    add_to_wishlist(actor=WEB, customer=anna, variant=m)
    view(anna, m, days_ago=2)
    view(anna, m, days_ago=1)
    assert nudges() == 1
    assert len(mail.outbox) == 1


def test_sent_at_the_configured_local_time_only(store):
    m, _ = jacket(store)
    anna = viewer(store)
    view(anna, m, days_ago=2)
    view(anna, m, days_ago=1)
    berlin = ZoneInfo(store.time_zone)
    morning = timezone.now().astimezone(berlin).replace(hour=9, minute=30)
    assert nudges(now=morning.replace(hour=14), at_local_time=time(9, 30)) == 0
    assert nudges(now=morning, at_local_time=time(9, 30)) == 1


def test_a_segment_gets_the_same_message_once(store):
    m, _ = jacket(store, on_hand=4)
    members = [viewer(store), viewer(store), viewer(store, marketing_consent=False)]
    viewer(None)  # not in the segment
    segment = Segment.objects.create(
        name="Berlin", rules=[{"rule": "preferred_store", "store": store.code}]
    )
    with committed():
        assert nudge_segment(actor=Actor(), segment=segment, variant=m) == 2
    with committed():
        assert nudge_segment(actor=Actor(), segment=segment, variant=m) == 0
    assert sorted(n.customer_id for n in Nudge.objects.all()) == sorted(c.pk for c in members[:2])
    assert Nudge.objects.filter(segment=segment, reason=NudgeReason.SEGMENT).count() == 2
    assert len(mail.outbox) == 2
    assert mail.outbox[0].subject == f"Still available: {m.label} at {store.name}"


def test_the_outbox_key_and_the_row_are_one_per_week(store):
    m, _ = jacket(store)
    anna = viewer(store)
    view(anna, m, days_ago=2)
    view(anna, m, days_ago=1)
    nudges()
    nudges()
    assert OutboxMessage.objects.filter(topic="orders.send_nudge").count() == 1


def test_monday_to_sunday_is_one_week():
    from orders.services.nudges import nudge_week

    berlin = ZoneInfo("Europe/Berlin")
    assert nudge_week(datetime(2026, 11, 30, 0, 1, tzinfo=berlin)) == "2026-W49"
    assert nudge_week(datetime(2026, 12, 6, 23, 59, tzinfo=berlin)) == "2026-W49"
    assert nudge_week(datetime(2026, 12, 7, 0, 0, tzinfo=berlin)) == "2026-W50"


def test_nudge_segment_command(store):
    from django.core.management import CommandError, call_command

    m, _ = jacket(store, on_hand=2)
    viewer(store)
    Segment.objects.create(name="Berlin", rules=[{"rule": "preferred_store", "store": store.code}])
    with committed():
        call_command("nudge_segment", "Berlin", m.sku)
    assert len(mail.outbox) == 1
    with pytest.raises(CommandError):
        call_command("nudge_segment", "Nowhere", m.sku)
    with pytest.raises(CommandError):
        call_command("nudge_segment", "Berlin", "NO-SUCH-SKU")


def test_by_sms_for_a_customer_who_chose_it(store, monkeypatch):
    from common import sms

    warehouse = WarehouseFactory()
    m, _ = jacket(store)
    stocked(m, warehouse, 1)
    noon = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    monkeypatch.setattr(timezone, "now", lambda: noon)
    ben = viewer(None, email=None, phone="+4915112345678", contact_channel="sms")
    update_consents(
        actor=WEB, customer=ben, changes=[{"purpose": "marketing", "channel": "sms", "given": True}]
    )
    view(ben, m, days_ago=2)
    view(ben, m, days_ago=1)
    assert nudges() == 1
    assert mail.outbox == []
    [text] = [message["text"] for message in sms.outbox]
    assert text.startswith("Omnis: only one left of") and "you looked at online" in text


def _noon_with_jacket(store, monkeypatch):
    warehouse = WarehouseFactory()
    m, _ = jacket(store)
    stocked(m, warehouse, 1)
    noon = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    monkeypatch.setattr(timezone, "now", lambda: noon)
    return m


def test_sms_preferred_but_consent_only_by_email_gets_the_nudge_by_email(store, monkeypatch):
    from common import sms

    m = _noon_with_jacket(store, monkeypatch)
    eva = viewer(None, phone="+4915112345679", contact_channel="sms")
    view(eva, m, days_ago=2)
    view(eva, m, days_ago=1)
    assert nudges() == 1
    assert sms.outbox == []
    assert [message.to for message in mail.outbox] == [[eva.email]]


def test_no_marketing_consent_for_any_usable_channel_means_no_nudge(store, monkeypatch):
    from common import sms

    m = _noon_with_jacket(store, monkeypatch)
    # Agreed to marketing e-mail once, but has no e-mail address now; nothing for SMS.
    tom = viewer(None, email=None, phone="+4915112345670", contact_channel="sms")
    tom.marketing_consent = True
    tom.save()
    view(tom, m, days_ago=2)
    view(tom, m, days_ago=1)
    assert nudges() == 0
    assert sms.outbox == [] and mail.outbox == []
    assert not Nudge.objects.exists()
