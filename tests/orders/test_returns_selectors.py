"""A return's detail as every step answers it: the same as the detail list's queryset loads it,
in one statement per table."""

from decimal import Decimal

import pytest

from orders.api.returns import ReturnOutput
from orders.selectors.returns import return_detail, return_with_details, return_with_store
from stores.models import StaffRole
from tests.factories import VariantFactory
from tests.orders.factories_returns import bought, staff_api

pytestmark = pytest.mark.django_db


def test_a_refunded_returns_detail_is_what_the_list_queryset_shows_in_four_queries(
    web, store, django_assert_num_queries
):
    shirt, socks = VariantFactory(price=Decimal("30.00")), VariantFactory(price=Decimal("5.00"))
    order = bought(store=store, lines=[(shirt, 2, "30.00"), (socks, 1, "5.00")])
    created = web.post(
        "/api/v1/returns/",
        {
            "order": order.number,
            "store": store.code,
            "lines": [
                {"order_line": line.pk, "quantity": line.quantity, "reason": "too_small"}
                for line in order.lines.order_by("pk")
            ],
        },
        format="json",
    ).json()
    staff = staff_api(store, role=StaffRole.MANAGER)
    url = f"/api/v1/staff/returns/{created['id']}"
    lines = [{"return_line": line["id"], "condition": "resellable"} for line in created["lines"]]
    assert staff.post(f"{url}/receive/", {"lines": lines}, format="json").status_code == 200
    assert staff.post(f"{url}/refund/", {"method": "original"}, format="json").status_code == 200

    with django_assert_num_queries(4):
        detail = return_detail(created["id"])
        shown = ReturnOutput(detail).data

    assert shown == ReturnOutput(return_with_details().get(pk=created["id"])).data
    assert len(shown["lines"]) == 2 and len(shown["refunds"]) == 1 and len(shown["history"]) == 3
    assert return_detail(created["id"] + 1000) is None
    assert return_with_store(created["id"]).store.code == store.code
    assert return_with_store(created["id"] + 1000) is None
