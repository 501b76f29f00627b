"""Discount codes and their redemptions in the admin: shown, never edited; withdrawing a code is
an action that names its permission."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import DiscountCode
from orders.models import DiscountRedemption
from orders.services.orders import place_order
from tests.customers.factories_discounts import discount_code
from tests.factories import CustomerFactory, UserFactory, staff_user
from tests.orders.factories_orders import stocked_variant, web_actor

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def spent_code(store) -> DiscountCode:
    customer = CustomerFactory()
    code = discount_code(store, customer=customer, max_uses=2, amount=Decimal("5.00"))
    place_order(
        actor=web_actor(),
        customer=customer,
        fulfilment="pickup",
        pickup_store=store,
        lines=[(stocked_variant(store, 3), 1)],
        discount_code=code.code,
    )
    return code


def test_codes_and_redemptions_are_shown_read_only(store):
    code = spent_code(store)
    redemption = DiscountRedemption.objects.get()
    client = login(UserFactory(is_superuser=True, is_staff=True))
    for name, obj in (("customers_discountcode", code), ("orders_discountredemption", redemption)):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:{name}_change", args=[obj.pk]))
        assert page.status_code == 200 and b'name="_save"' not in page.content
        assert client.get(reverse(f"admin:{name}_add")).status_code == 403
        response = client.post(reverse(f"admin:{name}_change", args=[obj.pk]), {"uses": 0})
        assert response.status_code == 403
    code.refresh_from_db()
    assert code.uses == 1


def test_withdrawing_a_code_ends_its_validity_and_needs_the_permission(store):
    code = discount_code(store)
    changelist = reverse("admin:customers_discountcode_changelist")
    action = {"action": "withdraw", "_selected_action": [code.pk]}

    viewer = staff_user(store)
    viewer.groups.clear()
    viewer.user_permissions.add(Permission.objects.get(codename="view_discountcode"))
    login(viewer).post(changelist, action, follow=True)
    code.refresh_from_db()
    assert code.valid_until > timezone.now()

    login(staff_user(store)).post(changelist, action, follow=True)
    code.refresh_from_db()
    assert code.valid_until <= timezone.now()
