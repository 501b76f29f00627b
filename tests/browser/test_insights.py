"""The insights page on the demo retailer in a real browser: every chart is drawn (each SVG loads
and has a size), the numbers are there. OMNIS_SAVE_SCREENSHOTS=1 keeps the picture as
docs/screenshots/insights.png."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from orders.insights.charts import CHART_NAMES
from tests.browser.desk import signed_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_the_demo_retailers_insights_in_a_browser(live_server, page, tmp_path):
    call_command("seed_demo", products=30, customers=40, verbosity=0)
    signed_in(page, live_server.url, get_user_model().objects.get(username="manager"))
    page.set_viewport_size({"width": 1320, "height": 2400})

    first = timezone.localdate() - timedelta(days=13)
    page.goto(f"{live_server.url}/desk/insights/?period=day&from={first}")
    expect(page.locator(".chart img")).to_have_count(len(CHART_NAMES))
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.chart img'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # The demo's orders are on the page's numbers, not only in the pictures.
    cells = page.locator("#chart-orders_by_channel td").all_text_contents()
    assert any(re.match(r"[1-9]", text) for text in cells)
    target = DOCS if os.environ.get("OMNIS_SAVE_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=target / "insights.png")
    assert (target / "insights.png").stat().st_size > 10_000
