"""The insights page on the demo retailer in a real browser: every chart is drawn (each SVG loads
and has a size), the numbers are there. OMNIS_SAVE_SCREENSHOTS=1 keeps the picture as
docs/screenshots/insights.png."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from orders.insights.charts import CHART_NAMES
from tests.browser import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_the_demo_retailers_insights_in_a_browser(live_server, tmp_path, settings):
    settings.SETTINGS_MODULE = "config.settings.test"
    call_command("seed_demo", products=30, customers=40, verbosity=0)
    login = Client()
    login.force_login(get_user_model().objects.get(username="manager"))
    session = login.cookies["sessionid"].value

    with Browser(width=1320, height=2400) as b:
        b.set_cookie("sessionid", session, live_server.url)
        first = timezone.localdate() - timedelta(days=13)
        b.goto(f"{live_server.url}/desk/insights/?period=day&from={first}")
        b.wait_for("document.querySelectorAll('.chart img').length > 0")
        b.wait_for(
            "Array.from(document.querySelectorAll('.chart img'))"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        assert b.eval("document.querySelectorAll('.chart img').length") == len(CHART_NAMES)
        text = b.text()
        assert "Orders by channel" in text and "The whole retailer" in text
        # The demo's orders are on the page's numbers, not only in the pictures.
        assert b.eval(
            "Array.from(document.querySelectorAll('#chart-orders_by_channel td'))"
            ".some(td => /^[1-9]/.test(td.textContent))"
        )
        target = DOCS if os.environ.get("OMNIS_SAVE_SCREENSHOTS") else tmp_path
        target.mkdir(parents=True, exist_ok=True)
        assert b.screenshot(target / "insights.png").stat().st_size > 10_000
