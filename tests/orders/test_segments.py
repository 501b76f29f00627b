"""Segments: each rule on one small data set whose members are worked out by hand, AND of rules,
the CSV export, and the admin's check of the rule format."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.models import Segment
from customers.segment_rules import validate_rules
from customers.services import record_touchpoint
from orders.models.orders import OrderLine
from orders.selectors.segments import segment_members
from orders.services.reservations import cancel_reservation
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    StoreFactory,
    VariantFactory,
)
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(store):
    hamburg = StoreFactory(code="HAM-01", name="Hamburg")
    shirts = CategoryFactory(slug="shirts")
    shirt = ProductFactory(category=shirts)
    m = VariantFactory(product=shirt, attributes={"size": "M"})
    l_size = VariantFactory(product=shirt, attributes={"size": "L"})
    socks = VariantFactory(attributes={"size": "M"})  # another category

    def customer(name, **fields):
        return CustomerFactory(first_name=name, **fields)

    p = {
        "anna": customer("Anna", preferred_store=store, sizes={"shirts": "M"}),
        "ben": customer("Ben", preferred_store=hamburg),
        "cara": customer("Cara", preferred_store=store),
        "dora": customer("Dora"),
        "eva": customer("Eva", preferred_store=store),
        "fritz": customer("Fritz", preferred_store=store, sizes={"shirts": "L"}),
        "gina": customer("Gina"),
        "hans": customer("Hans"),
        "ida": customer("Ida"),
    }
    # Anna: in the store 10 days ago and online 20 days ago.
    bought(customer=p["anna"], store=store, lines=[(socks, 1, "5.00")], days_ago=10)
    bought(customer=p["anna"], lines=[(socks, 1, "5.00")], days_ago=20, channel=Channel.WEB)
    # Ben: in the store lately, online only long ago.
    bought(customer=p["ben"], store=hamburg, lines=[(socks, 1, "5.00")], days_ago=10)
    bought(customer=p["ben"], lines=[(socks, 1, "5.00")], days_ago=200, channel=Channel.WEB)
    # Cara reserved and called it off; Dora's hold is still active.
    cancel_reservation(actor=Actor(), reservation=reservation_for(store, customer=p["cara"]))
    reservation_for(store, customer=p["dora"])
    # Eva bought a shirt in M and kept it; Fritz bought M but says L; Gina sent her M back.
    bought(customer=p["eva"], store=store, lines=[(m, 1, "30.00")])
    bought(customer=p["fritz"], store=store, lines=[(m, 1, "30.00")])
    returned = bought(customer=p["gina"], store=store, lines=[(m, 1, "30.00")])
    OrderLine.objects.filter(order=returned).update(returned=1)
    # Hans looked at the shirt (in L) three days ago, Ida a month ago.
    for name, days in (("hans", 3), ("ida", 30)):
        record_touchpoint(
            actor=Actor(channel=Channel.WEB),
            customer=p[name],
            kind="product_view",
            sku=l_size.sku,
            at=timezone.now() - timedelta(days=days),
        )
    # A merged alias that would match everything about Anna never counts.
    alias = customer("Alias", preferred_store=store, sizes={"shirts": "M"})
    alias.merged_into = p["anna"]
    alias.save()
    p["m"] = m
    return p


def members(people, *rules) -> set[str]:
    segment = Segment.objects.create(name="s", rules=list(rules))
    found = {c.first_name for c in segment_members(segment)}
    segment.delete()
    return found


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"rule": "bought_in_channel", "channels": ["store", "web"], "days": 90}, {"Anna"}),
        ({"rule": "bought_in_channel", "channels": ["store", "web"], "days": 365}, {"Anna", "Ben"}),
        (
            {"rule": "bought_in_channel", "channels": ["store"], "days": 30},
            {"Anna", "Ben", "Eva", "Fritz", "Gina"},
        ),
        ({"rule": "reserved_not_collected", "days": 30}, {"Cara"}),
        ({"rule": "preferred_store", "store": "BER-01"}, {"Anna", "Cara", "Eva", "Fritz"}),
        ({"rule": "preferred_store", "store": "HAM-01"}, {"Ben"}),
        ({"rule": "size", "category": "shirts", "size": "M"}, {"Anna", "Eva"}),
        ({"rule": "size", "category": "shirts", "size": "L"}, {"Fritz"}),
    ],
)
def test_each_rule_finds_the_members_worked_out_by_hand(people, rule, expected):
    assert members(people, rule) == expected


def test_viewed_product_means_any_variant_of_it(people):
    rule = {"rule": "viewed_product", "sku": people["m"].sku, "days": 14}
    assert members(people, rule) == {"Hans"}
    assert members(people, rule | {"days": 60}) == {"Hans", "Ida"}


def test_rules_are_combined_with_and(people):
    assert members(
        people,
        {"rule": "preferred_store", "store": "BER-01"},
        {"rule": "size", "category": "shirts", "size": "M"},
    ) == {"Anna", "Eva"}
    assert members(
        people,
        {"rule": "preferred_store", "store": "BER-01"},
        {"rule": "bought_in_channel", "channels": ["web"], "days": 90},
    ) == {"Anna"}


def test_members_are_counted_in_one_query(people, django_assert_num_queries):
    segment = Segment.objects.create(
        name="Berlin shirts in M",
        rules=[
            {"rule": "preferred_store", "store": "BER-01"},
            {"rule": "size", "category": "shirts", "size": "M"},
            {"rule": "bought_in_channel", "channels": ["store"], "days": 30},
        ],
    )
    with django_assert_num_queries(1):
        assert segment_members(segment).count() == 2


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ([], "non-empty list"),
        ({"rule": "size"}, "non-empty list"),
        (["size"], "an object"),
        ([{"rule": "bought_everywhere"}], "'rule' is one of"),
        ([{"rule": "reserved_not_collected"}], "'days' is missing"),
        ([{"rule": "reserved_not_collected", "days": 0}], "'days' must be"),
        ([{"rule": "reserved_not_collected", "days": "30"}], "'days' must be"),
        ([{"rule": "bought_in_channel", "channels": ["shop"], "days": 9}], "'channels' must"),
        ([{"rule": "size", "category": "shirts__x", "size": "M"}], "'category' must"),
        ([{"rule": "preferred_store", "store": "BER-01", "city": "x"}], "unknown key(s) city"),
    ],
)
def test_bad_rules_are_named(rules, error):
    assert any(error in problem for problem in validate_rules(rules))


def test_the_admin_refuses_bad_rules_and_saves_good_ones(admin_client, db):
    url = "/admin/customers/segment/add/"
    bad = admin_client.post(url, {"name": "x", "rules": '[{"rule": "size", "size": "M"}]'})
    assert bad.status_code == 200 and "&#x27;category&#x27; is missing" in bad.text
    assert not Segment.objects.exists()
    good = admin_client.post(
        url, {"name": "Berlin", "rules": '[{"rule": "preferred_store", "store": "BER-01"}]'}
    )
    assert good.status_code == 302
    assert Segment.objects.get().created_by.is_superuser


def test_csv_export_for_managers(people, manager, staff):
    segment = Segment.objects.create(
        name="Berlin shirts in M",
        rules=[
            {"rule": "preferred_store", "store": "BER-01"},
            {"rule": "size", "category": "shirts", "size": "M"},
        ],
    )
    url = f"/api/v1/segments/{segment.pk}/members.csv"
    response = manager.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "id,first_name,last_name,email,phone,preferred_store,contact_channel"
    anna, eva = people["anna"], people["eva"]
    assert lines[1:] == [
        f"{c.pk},{c.first_name},{c.last_name},{c.email},{c.phone},BER-01,email"
        for c in sorted((anna, eva), key=lambda c: c.pk)
    ]
    assert manager.get(f"/api/v1/segments/{segment.pk}/").json()["members"] == 2
    assert staff.get(url).status_code == 403


def test_csv_export_admin_action(people, admin_client):
    segment = Segment.objects.create(
        name="Hamburg", rules=[{"rule": "preferred_store", "store": "HAM-01"}]
    )
    response = admin_client.post(
        "/admin/customers/segment/",
        {"action": "export_members", "_selected_action": [segment.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="hamburg-members.csv"'
    assert response.content.decode().splitlines()[1].startswith(f"{people['ben'].pk},Ben,")


def test_a_name_that_looks_like_a_formula_is_quoted(people, manager):
    people["ben"].first_name = "=HYPERLINK(1)"
    people["ben"].save()
    segment = Segment.objects.create(
        name="Hamburg", rules=[{"rule": "preferred_store", "store": "HAM-01"}]
    )
    body = manager.get(f"/api/v1/segments/{segment.pk}/members.csv").content.decode()
    assert ",'=HYPERLINK(1)," in body and ",+49" in body
