"""The morning board: per store, with counts, in the store's day, in a fixed number of queries;
htmx reloads only its fragment."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from inventory.models import Transfer, TransferLine, TransferStatus
from orders.models import Order
from orders.selectors.board import morning_board
from orders.services.returns import ReturnLineRequest, create_return, receive_return
from tests.factories import WarehouseFactory, staff_user
from tests.orders.factories_orders import pickup_order, ready_order, stocked_variant
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def a_return(store, *, received: bool):
    variant = stocked_variant(store, 0)
    purchase = bought(store=store, lines=[(variant, 1, "30.00")])
    return_request = create_return(
        actor=Actor(channel=Channel.WEB),
        order=purchase,
        store=store,
        lines=[
            ReturnLineRequest(order_line=purchase.lines.get().pk, quantity=1, reason="too_small")
        ],
    )
    if received:
        receive_return(
            actor=Actor(user=staff_user(store), channel=Channel.STORE),
            return_request=return_request,
            conditions={line.pk: "resellable" for line in return_request.lines.all()},
        )
    return return_request


def in_transit_to(store):
    transfer = Transfer.objects.create(
        from_store=WarehouseFactory(), to_store=store, status=TransferStatus.IN_TRANSIT
    )
    TransferLine.objects.create(transfer=transfer, variant=stocked_variant(store, 0), quantity=2)
    return transfer


def fill(store, *, extra: int = 0):
    """One of everything the board shows (and `extra` more of each list) at `store`."""
    now = timezone.now()
    rows = {
        "to_pick": [pickup_order(store) for _ in range(1 + extra)],
        "ready": ready_order(store),
        "due_today": ready_order(store),
        "overdue": [ready_order(store) for _ in range(1 + extra)],
        "hold": reservation_for(store, expires_at=now + timedelta(days=3)),
        "hold_today": reservation_for(store, expires_at=now + timedelta(minutes=5)),
        "announced": a_return(store, received=False),
        "to_refund": [a_return(store, received=True) for _ in range(1 + extra)],
        "transfer": [in_transit_to(store) for _ in range(1 + extra)],
    }
    waiting = pickup_order(store)
    requested = Transfer.objects.create(from_store=WarehouseFactory(), to_store=store)
    Order.objects.filter(pk=waiting.pk).update(transfer=requested)
    rows["waiting_for_transfer"] = waiting
    Order.objects.filter(pk=rows["ready"].pk).update(pickup_deadline=now + timedelta(days=3))
    Order.objects.filter(pk=rows["due_today"].pk).update(pickup_deadline=now + timedelta(minutes=5))
    Order.objects.filter(pk__in=[o.pk for o in rows["overdue"]]).update(
        pickup_deadline=now - timedelta(days=2, minutes=5)
    )
    return rows


def test_the_board_sorts_the_stores_work_and_counts_it(store):
    rows = fill(store)
    board = morning_board(store)
    assert board.counts == {
        "to_pick": 1,
        "ready": 3,
        "due_today": 1,
        "overdue": 1,
        "holds_active": 2,
        "holds_ending_today": 1,
        "returns_announced": 1,
        "returns_to_refund": 1,
        "transfers_due": 1,
    }
    assert board.to_pick == rows["to_pick"]
    assert rows["waiting_for_transfer"] not in board.to_pick
    assert board.due_today == [rows["due_today"]]
    assert board.overdue == rows["overdue"] and board.overdue[0].days_overdue in (2, 3)
    assert board.holds_ending_today == [rows["hold_today"]]
    assert board.returns_announced == [rows["announced"]]
    assert board.returns_to_refund == rows["to_refund"]
    assert board.transfers_due == rows["transfer"]


def test_the_day_is_the_stores_day(store):
    """At 23:30 in Berlin (21:30 UTC in summer) a deadline at 00:30 Berlin the next day is not due today."""
    order = ready_order(store)
    now = datetime(2026, 5, 4, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    Order.objects.filter(pk=order.pk).update(pickup_deadline=now + timedelta(hours=1))
    board = morning_board(store, now=now)
    assert board.today.isoformat() == "2026-05-04"
    assert board.due_today == [] and board.ready[0].pk == order.pk


def test_the_page_shows_only_my_store_in_a_fixed_number_of_queries(
    store, other_store, django_assert_max_num_queries
):
    mine = fill(store)
    theirs = ready_order(other_store)
    client = desk(staff_user(store))
    with django_assert_max_num_queries(20) as few:
        page = client.get("/desk/").content.decode()
    fill(store, extra=4)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/desk/")
    assert mine["to_pick"][0].number in page and mine["overdue"][0].number in page
    assert mine["announced"].number in page and mine["to_refund"][0].number in page
    assert theirs.number not in page
    assert f"/desk/customers/{mine['to_pick'][0].customer_id}/" in page
    assert 'id="board-counts"' in page and "htmx.min.js" in page


def test_staff_of_two_stores_switch_between_boards(store, other_store):
    theirs = ready_order(other_store)
    client = desk(staff_user(store, other_store))
    first = client.get("/desk/").content.decode()
    assert 'id="store-switcher"' in first and theirs.number not in first
    assert theirs.number in client.get("/desk/", {"store": other_store.code}).content.decode()
    # A store the member does not work in falls back to their first one.
    assert client.get("/desk/", {"store": "NOPE"}).status_code == 200


def test_htmx_gets_the_board_fragment_alone(store):
    order = ready_order(store)
    client = desk(staff_user(store))
    response = client.get("/desk/", {"store": store.code}, headers={"HX-Request": "true"})
    fragment = response.content.decode()
    assert response.status_code == 200
    assert fragment.lstrip().startswith('<div id="board"') and order.number in fragment
    assert "<html" not in fragment and "<header" not in fragment
    assert 'hx-trigger="every 60s"' in fragment


def test_htmx_is_served_from_our_static_files(store):
    page = desk(staff_user(store)).get("/desk/").content.decode()
    assert '<script src="/static/desk/htmx.min.js"' in page
    assert "//unpkg" not in page and "cdn" not in page.lower()


def test_a_board_reload_after_logout_sends_the_whole_page_to_the_login(store):
    response = Client().get("/desk/", {"store": store.code}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/admin/login/?next=/desk/")
