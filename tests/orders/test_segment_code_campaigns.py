"""A segment as the audience of a discount-code campaign: each member who may get marketing gets
their own one-use code by their channel, once per campaign, and the tag follows it to the sale."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from common import sms
from common.actor import Actor
from common.errors import InvalidInput
from common.models import Channel
from customers.models import DiscountCode, Segment, TimelineEvent, TimelineKind
from customers.privacy.consents import update_consents
from orders.selectors.campaigns import campaign_funnel
from orders.services.campaigns import offer_codes_to_segment
from orders.services.orders import place_order
from stores.models import StaffRole
from tests.conftest import requires_postgres
from tests.factories import CustomerFactory, StoreFactory, staff_user
from tests.orders.factories_orders import committed, stocked_variant, web_actor
from tests.orders.test_reservations_concurrency import run_together

pytestmark = pytest.mark.django_db

MANAGER = Actor(channel=Channel.STORE)


def berlin_segment(store) -> Segment:
    return Segment.objects.create(
        name="Berlin", rules=[{"rule": "preferred_store", "store": store.code}]
    )


@pytest.fixture
def audience(store):
    hamburg = StoreFactory(code="HAM-01")
    anna = CustomerFactory(first_name="Anna", preferred_store=store, marketing_consent=True)
    ben = CustomerFactory(
        first_name="Ben",
        preferred_store=store,
        email=None,
        phone="+4915112340001",
        contact_channel="sms",
    )
    update_consents(
        actor=MANAGER, customer=ben, changes=[{"purpose": "marketing", "channel": "sms"}]
    )
    cara = CustomerFactory(first_name="Cara", preferred_store=store)  # no consent
    dora = CustomerFactory(first_name="Dora", preferred_store=hamburg, marketing_consent=True)
    return {"anna": anna, "ben": ben, "cara": cara, "dora": dora}


def offer(segment, **terms):
    with committed():
        return offer_codes_to_segment(
            actor=MANAGER,
            segment=segment,
            **(
                {
                    "campaign": "WINTER-QR",
                    "valid_until": timezone.now() + timedelta(days=14),
                    "percent": Decimal("15"),
                }
                | terms
            ),
        )


def test_each_consenting_member_gets_one_code_by_their_channel(store, audience, monkeypatch):
    # Noon: a marketing SMS is not held back by the quiet hours.
    noon = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    monkeypatch.setattr(timezone, "now", lambda: noon)
    segment = berlin_segment(store)

    assert offer(segment) == 2

    codes = {c.customer.first_name: c for c in DiscountCode.objects.select_related("customer")}
    assert set(codes) == {"Anna", "Ben"}
    assert {(c.campaign, c.segment_id, c.max_uses) for c in codes.values()} == {
        ("WINTER-QR", segment.pk, 1)
    }
    assert codes["Anna"].code != codes["Ben"].code
    [email] = mail.outbox
    assert email.to == [audience["anna"].email] and codes["Anna"].code in email.body
    [text] = [m["text"] for m in sms.outbox]
    assert codes["Ben"].code in text and len(text) <= 160
    issued = TimelineEvent.objects.filter(kind=TimelineKind.DISCOUNT_CODE_ISSUED)
    assert {e.customer.first_name for e in issued} == {"Anna", "Ben"}


def test_running_it_again_offers_only_new_members(store, audience):
    segment = berlin_segment(store)
    offer(segment)
    mail.outbox.clear()

    assert offer(segment) == 0
    assert DiscountCode.objects.count() == 2 and mail.outbox == []

    CustomerFactory(first_name="Emil", preferred_store=store, marketing_consent=True)
    assert offer(segment) == 1
    assert DiscountCode.objects.filter(customer__first_name="Emil").count() == 1
    # Another campaign to the same audience is a new offer.
    assert offer(segment, campaign="SPRING") == 3


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"percent": Decimal("150")}, "percent"),
        ({"percent": None, "amount": Decimal("-5")}, "amount"),
        ({"campaign": "  "}, "campaign"),
        ({"valid_until": timezone.now() - timedelta(days=1)}, "valid_until"),
    ],
)
def test_bad_terms_offer_nothing(store, audience, terms, field):
    with pytest.raises(InvalidInput) as error:
        offer(berlin_segment(store), **terms)
    assert field in error.value.errors
    assert not DiscountCode.objects.exists()
    assert mail.outbox == [] and sms.outbox == []


def test_the_offered_code_is_followed_to_the_sale(store, audience):
    offer(berlin_segment(store))
    code = DiscountCode.objects.get(customer=audience["anna"])
    variant = stocked_variant(store, 3)
    order = place_order(
        actor=web_actor(),
        customer=audience["anna"],
        fulfilment="pickup",
        pickup_store=store,
        lines=[(variant, 1)],
        discount_code=code.code,
    )
    assert order.discount > 0
    funnel = campaign_funnel("WINTER-QR")
    assert (funnel.codes_issued, funnel.redemptions) == (2, 1)


def test_command_offers_and_refuses_bad_input(store, audience, capsys):
    berlin_segment(store)
    call_command("offer_segment_code", "Berlin", "--campaign", "POSTER", "--amount", "10")
    assert "2 code(s) offered." in capsys.readouterr().out
    assert DiscountCode.objects.filter(campaign="POSTER", amount=Decimal("10.00")).count() == 2
    with pytest.raises(CommandError, match="No segment"):
        call_command("offer_segment_code", "Nowhere", "--campaign", "X", "--percent", "5")
    with pytest.raises(CommandError, match="percent"):
        call_command("offer_segment_code", "Berlin", "--campaign", "X", "--percent", "500")
    with pytest.raises(CommandError, match="not a number"):
        call_command("offer_segment_code", "Berlin", "--campaign", "X", "--percent", "ten")


def test_admin_action_asks_for_the_terms_then_offers(client, store, audience):
    segment = berlin_segment(store)
    manager = staff_user(store, role=StaffRole.MANAGER)
    client.force_login(manager)
    url = "/admin/customers/segment/"
    chosen = {"action": "offer_code", "_selected_action": [segment.pk]}

    form = client.post(url, chosen)
    assert form.status_code == 200 and b'name="campaign"' in form.content
    refused = client.post(
        url,
        chosen | {"apply": "1", "campaign": "X", "days": "14", "min_total": "0", "percent": "120"},
    )
    assert refused.status_code == 200 and not DiscountCode.objects.exists()

    done = client.post(
        url,
        chosen | {"apply": "1", "campaign": "ADMIN", "days": "7", "min_total": "0", "amount": "5"},
        follow=True,
    )
    assert "2 code(s) offered." in done.content.decode()
    assert DiscountCode.objects.filter(campaign="ADMIN").count() == 2


def test_store_staff_cannot_run_a_campaign(client, store, audience):
    segment = berlin_segment(store)
    user = staff_user(store)
    user.user_permissions.add(Permission.objects.get(codename="view_segment"))
    client.force_login(user)
    client.post(
        "/admin/customers/segment/",
        {
            "action": "offer_code",
            "_selected_action": [segment.pk],
            "apply": "1",
            "campaign": "X",
            "days": "7",
            "min_total": "0",
            "amount": "5",
        },
    )
    assert not DiscountCode.objects.exists()


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_give_nobody_two_codes(store):
    segment = berlin_segment(store)
    for n in range(10):
        CustomerFactory(first_name=f"M{n}", preferred_store=store, marketing_consent=True)

    def run():
        return offer_codes_to_segment(
            actor=MANAGER,
            segment=segment,
            campaign="RACE",
            valid_until=timezone.now() + timedelta(days=3),
            percent=Decimal("10"),
        )

    results = run_together(run, run, run)
    assert sum(results) == 10, results
    assert DiscountCode.objects.filter(campaign="RACE").count() == 10


def test_the_campaign_api_follows_the_tag_for_managers(store, audience):
    from rest_framework.test import APIClient

    offer(berlin_segment(store))
    manager, clerk = APIClient(), APIClient()
    manager.force_authenticate(staff_user(store, role=StaffRole.MANAGER))
    clerk.force_authenticate(staff_user(store))

    response = manager.get("/api/v1/staff/campaigns/WINTER-QR/")
    assert response.status_code == 200
    assert response.json()["codes_issued"] == 2
    assert response.json()["redemptions"] == 0
    assert manager.get("/api/v1/staff/campaigns/NONE/").json()["codes_issued"] == 0
    assert clerk.get("/api/v1/staff/campaigns/WINTER-QR/").status_code == 403
