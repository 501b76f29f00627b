"""Journey 4: someone who keeps buying shirts in M gets M pre-selected online."""

import pytest

from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.orders.factories_orders import pickup_order

pytestmark = pytest.mark.django_db


def shirt(store, size: str, on_hand: int = 5):
    shirts = CategoryFactory(slug="shirts", name="Hemden")
    variant = VariantFactory(product=ProductFactory(category=shirts), attributes={"size": size})
    stocked(variant, store, on_hand)
    return variant


def test_size_bought_most_is_offered(web, store):
    customer = CustomerFactory()
    m, l_size = shirt(store, "M"), shirt(store, "L")
    pickup_order(store, [(m, 2)], customer=customer)
    pickup_order(store, [(m, 1), (l_size, 1)], customer=customer)
    response = web.get(f"/api/v1/customers/{customer.pk}/sizes/")
    assert response.status_code == 200
    assert response.json() == {"shirts": {"size": "M", "source": "purchases", "units": 4}}


def test_the_size_given_in_the_profile_wins(customer_api, store):
    customer = customer_api.customer
    customer.sizes = {"shirts": "L"}
    customer.save()
    pickup_order(store, [(shirt(store, "M"), 3)], customer=customer)
    assert customer_api.get("/api/v1/me/sizes/").json() == {
        "shirts": {"size": "L", "source": "profile", "units": 3}
    }


def test_cancelled_orders_do_not_count(web, store):
    from common.actor import Actor
    from orders.services.orders import cancel_order

    customer = CustomerFactory()
    order = pickup_order(store, [(shirt(store, "XL"), 1)], customer=customer)
    cancel_order(actor=Actor(), order=order)
    assert web.get(f"/api/v1/customers/{customer.pk}/sizes/").json() == {}


def test_sizes_are_not_for_other_customers(customer_api):
    other = CustomerFactory()
    assert customer_api.get(f"/api/v1/customers/{other.pk}/sizes/").status_code == 403


def looked_at(customer, *, sku="", size=None, category="shirts"):
    from common.actor import Actor
    from common.models import Channel
    from customers.services import record_touchpoint

    if sku:
        record_touchpoint(
            actor=Actor(channel=Channel.WEB), customer=customer, kind="product_view", sku=sku
        )
    else:
        record_touchpoint(
            actor=Actor(channel=Channel.WEB),
            customer=customer,
            kind="size_filter",
            data={"category": category, "size": size},
        )


def test_sizes_looked_at_count_when_nothing_was_bought(web, store):
    customer = CustomerFactory()
    looked_at(customer, size="L")
    looked_at(customer, size="L")
    looked_at(customer, sku=shirt(store, "M").sku)
    looked_at(customer, size="42", category="shoes")
    assert web.get(f"/api/v1/customers/{customer.pk}/sizes/").json() == {
        "shirts": {"size": "L", "source": "views", "units": 0},
        "shoes": {"size": "42", "source": "views", "units": 0},
    }


def test_profile_then_purchases_then_views(web, store):
    customer = CustomerFactory(sizes={"shoes": "41"})
    pickup_order(store, [(shirt(store, "M"), 1)], customer=customer)
    for _ in range(3):
        looked_at(customer, size="XL")  # bought M: purchases beat what was looked at
        looked_at(customer, size="43", category="shoes")  # the profile beats both
        looked_at(customer, size="S", category="trousers")
    assert web.get(f"/api/v1/customers/{customer.pk}/sizes/").json() == {
        "shirts": {"size": "M", "source": "purchases", "units": 1},
        "shoes": {"size": "41", "source": "profile", "units": 0},
        "trousers": {"size": "S", "source": "views", "units": 0},
    }


def test_a_size_filter_needs_category_and_size(web):
    customer = CustomerFactory()
    response = web.post(
        f"/api/v1/customers/{customer.pk}/touchpoints/",
        {"kind": "size_filter", "data": {"category": "shirts"}},
        format="json",
    )
    assert response.status_code == 400
    assert "size" in str(response.json())
