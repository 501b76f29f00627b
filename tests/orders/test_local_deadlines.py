"""Deadlines shown to customers and staff are in the store's time zone, not the server's."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from common.actor import Actor
from common.auth import issue_user_token
from orders.services.returns import (
    ReturnLineRequest,
    ReturnWindowClosed,
    create_return,
    return_deadline,
)
from orders.tasks.orders import send_pickup_reminder
from tests.conftest import token_client
from tests.factories import StoreFactory, VariantFactory, staff_user
from tests.orders.factories_orders import ready_order
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def new_york(db):
    # The server runs on Berlin time; evenings in New York are the next day there.
    return StoreFactory(code="NYC-01", time_zone="America/New_York", return_window_days=30)


@pytest.fixture
def late_order(new_york):
    # 1 April 22:30 in New York (2 April in Berlin and in UTC): the window ends on 1 May, 22:30.
    return bought(
        store=new_york,
        collected_at=datetime(2026, 4, 2, 2, 30, tzinfo=UTC),
        lines=[(VariantFactory(price=Decimal("30.00")), 1, "30.00")],
    )


class TestReturnWindow:
    def test_the_refusal_names_the_local_day(self, new_york, late_order):
        line = late_order.lines.get()
        with pytest.raises(ReturnWindowClosed) as exc:
            create_return(
                actor=Actor.system(),
                order=late_order,
                store=new_york,
                lines=[ReturnLineRequest(order_line=line.pk, quantity=1, reason="too_small")],
            )
        assert "01.05.2026 22:30" in str(exc.value)
        assert exc.value.extra["deadline"] == "2026-05-01T22:30:00-04:00"

    def test_the_api_gives_the_deadline_with_the_stores_offset(self, new_york, late_order):
        api = token_client(issue_user_token(staff_user(new_york)))
        response = api.get(
            f"/api/v1/staff/returns/returnable/?order={late_order.number}&store=NYC-01"
        )
        assert response.status_code == 200
        assert response.json()["return_deadline"] == "2026-05-01T22:30:00-04:00"

    def test_the_counter_page_shows_the_local_day(self, new_york, late_order):
        assert return_deadline(late_order, new_york).astimezone(NEW_YORK).day == 1
        client = Client()
        client.force_login(staff_user(new_york))
        page = client.get(f"/desk/returns/order/{late_order.number}/").content.decode()
        assert "NYC-01 until 1 May 2026" in page


class TestPickupDeadline:
    @pytest.fixture
    def ready(self, new_york, monkeypatch):
        new_york.pickup_window_days = 1
        new_york.save()
        thursday = datetime(2026, 5, 7, 15, 0, tzinfo=NEW_YORK)
        monkeypatch.setattr(timezone, "now", lambda: thursday)
        return ready_order(new_york)

    def test_the_e_mails_name_closing_time_in_the_store(self, ready):
        assert ready.pickup_deadline == datetime(2026, 5, 8, 20, 0, tzinfo=NEW_YORK)
        assert "8 May 2026, 20:00" in mail.outbox[-1].body
        assert "8 May 2026, 20:00" in mail.outbox[-1].alternatives[0][0]
        send_pickup_reminder(ready.pk)
        reminder = mail.outbox[-1]
        assert "8 May" in reminder.subject
        assert "8 May 2026, 20:00" in reminder.body

    def test_the_desk_shows_closing_time_in_the_store(self, ready):
        client = Client()
        client.force_login(staff_user(ready.pickup_store))
        page = client.get("/desk/pickups/").content.decode()
        assert "8 May 2026, 20:00" in page
