"""Carry on where they left off: recently viewed products, newest first, one entry per product."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.services import record_touchpoint
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


def view(customer, variant, minutes_ago):
    record_touchpoint(
        actor=Actor(channel=Channel.WEB),
        customer=customer,
        kind="product_view",
        sku=variant.sku,
        at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def catalogue():
    shoes, shirts = CategoryFactory(slug="shoes"), CategoryFactory(slug="shirts")
    boot = ProductFactory(category=shoes, name="Stiefel")
    shirt = ProductFactory(category=shirts, name="Hemd")
    return {
        "boot-39": VariantFactory(product=boot, attributes={"size": "39"}),
        "boot-40": VariantFactory(product=boot, attributes={"size": "40"}),
        "shirt-m": VariantFactory(product=shirt, attributes={"size": "M"}),
    }


def test_newest_first_one_entry_per_product(web, catalogue):
    anna = CustomerFactory()
    view(anna, catalogue["boot-39"], 50)
    view(anna, catalogue["shirt-m"], 40)
    view(anna, catalogue["boot-40"], 10)  # the boot again, in another size
    record_touchpoint(actor=Actor(channel=Channel.WEB), customer=anna, kind="touchpoint")
    view(CustomerFactory(), catalogue["shirt-m"], 1)  # someone else

    response = web.get(f"/api/v1/customers/{anna.pk}/recent/")

    assert response.status_code == 200
    rows = response.json()
    assert [(r["sku"], r["category"]) for r in rows] == [
        (catalogue["boot-40"].sku, "shoes"),
        (catalogue["shirt-m"].sku, "shirts"),
    ]
    assert rows[0]["name"] == "Stiefel" and rows[0]["at"] > rows[1]["at"]


def test_limit(web, catalogue):
    anna = CustomerFactory()
    for minutes, variant in enumerate(catalogue.values()):
        view(anna, variant, minutes)
    assert len(web.get(f"/api/v1/customers/{anna.pk}/recent/?limit=1").json()) == 1
    assert web.get(f"/api/v1/customers/{anna.pk}/recent/?limit=0").status_code == 400
    assert web.get(f"/api/v1/customers/{anna.pk}/recent/?limit=x").status_code == 400


def test_my_recent_views(customer_api, catalogue):
    view(customer_api.customer, catalogue["shirt-m"], 5)
    view(CustomerFactory(), catalogue["boot-39"], 1)
    rows = customer_api.get("/api/v1/me/recent/").json()
    assert [r["sku"] for r in rows] == [catalogue["shirt-m"].sku]
    assert (
        customer_api.get(f"/api/v1/customers/{customer_api.customer.pk}/recent/").status_code == 403
    )
