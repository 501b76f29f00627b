"""The insights page in the desk: charts drawn on the server, numbers as CSV, per store."""

import csv
import io

import pytest
from django.test import Client

from orders.insights import rollups
from orders.insights.charts import CHART_NAMES
from stores.models import StaffRole
from tests.factories import staff_user
from tests.orders.factories_insights import DAY, retail_day

pytestmark = pytest.mark.django_db
URL = "/desk/insights/"


@pytest.fixture
def day():
    world = retail_day()
    rollups.refresh(DAY, DAY)
    return world


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_draws_every_chart_with_its_numbers(day):
    manager = staff_user(day.berlin, day.hamburg, day.warehouse, role=StaffRole.MANAGER)
    response = desk(manager).get(URL, {"period": "day", "from": DAY, "to": DAY})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script" not in page.split("<main>")[1]  # no chart script, no CDN
    for name in CHART_NAMES:
        assert f'data-chart="{name}"' in page
        assert f"/desk/insights/{name}.csv?" in page
        assert f'src="/desk/insights/chart/{name}.svg?' in page
    assert "The whole retailer" in page
    assert "web order → store pickup → phone reservation" in page
    assert 'href="/desk/insights/"' in page  # the menu links it for managers


def test_each_chart_is_an_svg_drawn_on_the_server(day):
    manager = staff_user(day.berlin, day.hamburg, day.warehouse, role=StaffRole.MANAGER)
    client = desk(manager)
    for name in CHART_NAMES:
        response = client.get(
            f"/desk/insights/chart/{name}.svg", {"period": "day", "from": DAY, "to": DAY}
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("image/svg+xml")
        drawing = response.content.decode()
        assert (
            drawing.startswith("<svg")
            and "<script" not in drawing
            and "http://kozea" not in drawing
        )
    journeys = client.get("/desk/insights/chart/journeys.svg", {"from": DAY, "to": DAY})
    assert "web order" in journeys.content.decode()
    assert client.get("/desk/insights/chart/nonsense.svg").status_code == 404


def test_csv_holds_the_charts_numbers(day):
    manager = staff_user(day.berlin, day.hamburg, day.warehouse, role=StaffRole.MANAGER)
    response = desk(manager).get(
        "/desk/insights/orders_by_channel.csv", {"period": "day", "from": DAY, "to": DAY}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "orders_by_channel-all-2026-03-10-2026-03-10.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [["Period", "Web", "App", "Phone", "Store"], ["2026-03-10", "3", "1", "0", "2"]]
    minutes = desk(manager).get(
        "/desk/insights/pickup_minutes.csv", {"period": "day", "from": DAY, "to": DAY}
    )
    assert list(csv.reader(io.StringIO(minutes.content.decode())))[1] == [
        "2026-03-10",
        "35",
        "135",
        "105",
        "105",
    ]


def test_a_store_manager_sees_their_store_and_not_another(day):
    client = desk(staff_user(day.berlin, role=StaffRole.MANAGER))
    page = client.get(URL, {"period": "day", "from": DAY, "to": DAY}).content.decode()
    assert "All your stores" in page and "HAM-01" not in page
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    "/desk/insights/orders_by_channel.csv",
                    {"period": "day", "from": DAY, "to": DAY},
                ).content.decode()
            )
        )
    )
    assert rows[1] == ["2026-03-10", "2", "0", "0", "1"]  # Berlin's orders only
    foreign = client.get(URL, {"store": "HAM-01"})
    assert foreign.status_code == 400
    assert "Not one of your stores." in foreign.content.decode()


def test_bad_filters_show_next_to_the_field(day):
    client = desk(staff_user(day.berlin, role=StaffRole.MANAGER))
    response = client.get(URL, {"from": "2026-03-11", "to": "2026-03-10"})
    assert response.status_code == 400
    assert "Must not be after" in response.content.decode()
    assert client.get("/desk/insights/nonsense.csv").status_code == 404
    assert client.get("/desk/insights/returns.csv", {"period": "year"}).status_code == 400


def test_store_staff_may_not_open_it(day):
    assert desk(staff_user(day.berlin)).get(URL).status_code == 403


def test_german(day):
    manager = staff_user(day.berlin, role=StaffRole.MANAGER)
    page = desk(manager).get(URL, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'src="/desk/insights/chart/orders_by_channel.svg' in page
