"""The desk's customer page: everything about one customer in a fixed number of queries, and the
form every staff member uses to write a service note."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.models import ServiceNote, TimelineEvent, TimelineKind
from customers.services import add_service_note, add_to_wishlist, record_touchpoint
from orders.selectors.customer_page import TIMELINE_PAGE_SIZE
from stores.models import StaffRole
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    VariantFactory,
    staff_user,
)
from tests.orders.factories_orders import pickup_order, ready_order, stocked_variant
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def anna(db):
    return CustomerFactory(
        first_name="Anna",
        last_name="Becker",
        phone="+49301234567",
        email="anna@example.com",
        contact_channel="sms",
        marketing_consent=True,
        sizes={"shirts": "M"},
    )


def history(customer, store, *, times: int = 1):
    for _ in range(times):
        ready_order(store, customer=customer)
        pickup_order(store, customer=customer)
        reservation_for(store, customer=customer)
        record_touchpoint(
            actor=Actor(channel=Channel.WEB),
            customer=customer,
            kind=TimelineKind.PRODUCT_VIEW,
            sku=VariantFactory().sku,
        )
        add_service_note(
            actor=Actor(channel=Channel.PHONE), customer=customer, text="Prefers morning calls"
        )
    jeans = ProductFactory(category=CategoryFactory(slug="jeans"))
    variant = stocked_variant(store, 0, product=jeans, attributes={"size": "32"})
    bought(customer=customer, store=store, lines=[(variant, 1, "59.00")])
    add_to_wishlist(actor=Actor(channel=Channel.WEB), customer=customer, variant=variant)


def test_the_page_shows_the_customer_in_a_fixed_number_of_queries(
    store, anna, django_assert_max_num_queries
):
    history(anna, store)
    client = desk(staff_user(store))
    with django_assert_max_num_queries(30) as few:
        page = client.get(f"/desk/customers/{anna.pk}/").content.decode()
    history(anna, store, times=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"/desk/customers/{anna.pk}/")
    assert response.status_code == 200
    assert "Anna Becker" in page and "+49301234567" in page
    assert 'id="contact-channel">SMS' in page and 'id="marketing-consent">yes' in page
    assert "Prefers morning calls" in page
    assert "<strong>M</strong>" in page and "told us (profile)" in page  # shirts, from the profile
    assert "<strong>32</strong>" in page and "bought: 1 item kept" in page  # jeans, bought
    assert "/desk/lists/?q=%2B49301234567" in page and "1 item" in page
    assert 'id="store-credit"><strong>€0.00' in page


def test_timeline_rows_link_their_order_return_or_hold_and_use_local_time(store, anna):
    order = ready_order(store, customer=anna)
    hold = reservation_for(store, customer=anna)
    TimelineEvent.objects.filter(customer=anna).update(
        at=timezone.datetime(2026, 1, 5, 8, 0, tzinfo=timezone.get_fixed_timezone(0))
    )
    page = desk(staff_user(store)).get(f"/desk/customers/{anna.pk}/").content.decode()
    assert f'href="/desk/returns/order/{order.number}/"' in page
    assert f'href="/desk/reservations/#reservation-{hold.pk}"' in page
    assert "5 Jan 2026, 09:00" in page  # 08:00 UTC in Berlin, winter time
    assert "5 Jan 2026, 08:00" not in page


def test_the_timeline_is_paginated_web_views_included(store, anna):
    for n in range(TIMELINE_PAGE_SIZE + 3):
        VariantFactory(sku=f"VIEW-{n:03d}")
        record_touchpoint(
            actor=Actor(channel=Channel.WEB),
            customer=anna,
            kind=TimelineKind.PRODUCT_VIEW,
            sku=f"VIEW-{n:03d}",
            at=timezone.now() - timedelta(minutes=n),
        )
    client = desk(staff_user(store))
    first = client.get(f"/desk/customers/{anna.pk}/").content.decode()
    assert "VIEW-000" in first and f"VIEW-{TIMELINE_PAGE_SIZE + 2:03d}" not in first
    assert "?page=2#timeline" in first
    second = client.get(f"/desk/customers/{anna.pk}/", {"page": 2}).content.decode()
    assert f"VIEW-{TIMELINE_PAGE_SIZE + 2:03d}" in second
    # A page number that is no page shows the last or first page, never an error.
    for bad in ("999", "abc", "-1", "9" * 20):
        assert client.get(f"/desk/customers/{anna.pk}/", {"page": bad}).status_code == 200


def test_open_orders_holds_and_returns_are_listed(store, anna):
    order = ready_order(store, customer=anna)
    hold = reservation_for(store, customer=anna)
    page = desk(staff_user(store)).get(f"/desk/customers/{anna.pk}/").content.decode()
    assert f'id="order-{order.number}"' in page and f'id="hold-{hold.pk}"' in page


def test_store_staff_write_a_note_and_see_it(store, anna):
    client = desk(staff_user(store))
    response = client.post(
        f"/desk/customers/{anna.pk}/notes/", {"text": "Wants the blue one in M"}, follow=True
    )
    assert response.status_code == 200
    assert "Wants the blue one in M" in response.content.decode()
    note = ServiceNote.objects.get(customer=anna)
    assert note.channel == Channel.STORE and note.store == store
    assert TimelineEvent.objects.filter(customer=anna, kind=TimelineKind.NOTE).count() == 1


def test_service_agents_write_from_the_phone_desk(store, anna):
    client = desk(staff_user(store, role=StaffRole.SERVICE_AGENT))
    client.post(f"/desk/customers/{anna.pk}/notes/", {"text": "Called about the refund"})
    note = ServiceNote.objects.get(customer=anna)
    assert note.channel == Channel.PHONE and note.store is None


def test_staff_of_another_store_see_the_customer_too(other_store, anna):
    assert desk(staff_user(other_store)).get(f"/desk/customers/{anna.pk}/").status_code == 200


def test_an_unknown_customer_is_a_404(store):
    assert desk(staff_user(store)).get("/desk/customers/999999/").status_code == 404


def test_a_merged_alias_opens_the_surviving_customer(store, anna):
    alias = CustomerFactory(phone=None, email="old@example.com")
    alias.merged_into = anna
    alias.save()
    response = desk(staff_user(store)).get(f"/desk/customers/{alias.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/desk/customers/{anna.pk}/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "A note needs some text."),
        ("   ", "A note needs some text."),
        ("x" * 5000, "At most 4000 characters"),
    ],
)
def test_a_bad_note_is_a_message_next_to_the_field(store, anna, text, message):
    response = desk(staff_user(store)).post(f"/desk/customers/{anna.pk}/notes/", {"text": text})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'class="errorlist"' in page
    assert not ServiceNote.objects.filter(customer=anna).exists()


def test_a_nul_character_is_refused_never_a_500(store, anna):
    response = desk(staff_user(store)).post(
        f"/desk/customers/{anna.pk}/notes/", {"text": "note\x00"}
    )
    assert response.status_code == 400
    assert not ServiceNote.objects.filter(customer=anna).exists()


def test_customers_are_linked_from_the_desk_pages(store, anna):
    order = ready_order(store, customer=anna)
    reservation_for(store, customer=anna)
    client = desk(staff_user(store))
    link = f'href="/desk/customers/{anna.pk}/"'
    assert link in client.get("/desk/pickups/").content.decode()
    assert link in client.get("/desk/reservations/").content.decode()
    assert link in client.get("/desk/").content.decode()
    assert link in client.get(f"/desk/returns/order/{order.number}/").content.decode()
    assert link in client.get("/desk/lists/", {"q": "030 1234567"}).content.decode()
