"""A QR poster in the Berlin store followed to the sale: poster → web visit → code → order."""

from decimal import Decimal

import pytest

from common.actor import Actor
from common.models import Channel
from customers.models import TimelineEvent
from customers.services import record_touchpoint
from orders.selectors.campaigns import campaign_funnel
from orders.services.orders import cancel_order, place_order
from tests.customers.factories_discounts import clerk, discount_code
from tests.factories import CustomerFactory
from tests.orders.factories_orders import stocked_variant, web_actor

pytestmark = pytest.mark.django_db

POSTER = "qr-berlin-spring"


def order_with(store, customer, variant, code, actor=None, quantity=1):
    return place_order(
        actor=actor or web_actor(),
        customer=customer,
        fulfilment="pickup",
        pickup_store=store,
        lines=[(variant, quantity)],
        payment_status="pay_at_pickup",
        discount_code=code.code,
    )


def test_the_funnel_counts_each_step_of_the_campaign(store):
    variant = stocked_variant(store, 20, price=Decimal("50.00"))
    anna, ben, cem = CustomerFactory(), CustomerFactory(), CustomerFactory()
    web = Actor(channel=Channel.WEB)
    for customer in (anna, anna, ben):
        record_touchpoint(actor=web, customer=customer, kind="touchpoint", campaign=POSTER)
    record_touchpoint(actor=web, customer=cem, kind="touchpoint", campaign="another")
    record_touchpoint(actor=web, customer=cem, kind="touchpoint")

    code_anna = discount_code(store, customer=anna, amount=Decimal("10.00"), campaign=POSTER)
    code_ben = discount_code(store, customer=ben, percent=Decimal("10"), campaign=POSTER)
    discount_code(store, customer=cem, percent=Decimal("10"), campaign=POSTER)  # never spent
    other = discount_code(store, customer=cem, percent=Decimal("50"), campaign="another")

    order_with(store, anna, variant, code_anna)  # online: 50 - 10 = 40
    order_with(store, ben, variant, code_ben, actor=clerk(store), quantity=2)  # store: 100 - 10
    order_with(store, cem, variant, other)  # another campaign

    funnel = campaign_funnel(POSTER)
    assert (funnel.touchpoints, funnel.customers_reached) == (3, 2)
    assert (funnel.codes_issued, funnel.redemptions) == (3, 2)
    assert funnel.discount_given == Decimal("20.00")
    assert funnel.revenue == Decimal("130.00")
    assert funnel.redemptions_by_channel == {"web": 1, "store": 1}


def test_a_cancelled_order_is_no_revenue(store):
    variant = stocked_variant(store, 5, price=Decimal("50.00"))
    customer = CustomerFactory()
    code = discount_code(store, customer=customer, amount=Decimal("10.00"), campaign=POSTER)
    order = order_with(store, customer, variant, code)
    cancel_order(actor=web_actor(), order=order)
    funnel = campaign_funnel(POSTER)
    assert (funnel.codes_issued, funnel.redemptions, funnel.revenue) == (1, 0, Decimal("0.00"))


def test_the_webshop_tags_a_visit_with_its_campaign(web, store):
    customer = CustomerFactory()
    response = web.post(
        f"/api/v1/customers/{customer.pk}/touchpoints/",
        {"kind": "touchpoint", "campaign": POSTER},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["campaign"] == POSTER
    assert TimelineEvent.objects.get(customer=customer, kind="touchpoint").campaign == POSTER
    assert campaign_funnel(POSTER).touchpoints == 1
