"""Browser tests: pytest-playwright drives the system's Chromium (Debian's /usr/bin/chromium, never
a downloaded one) against Django's live server. Without Chromium the tests skip with that reason.

    log_in(page, live_server.url, "berlin")  # tests/browser/desk.py
    page.goto(live_server.url + "/desk/phone/")
    page.fill("#phone", "030 1234567")
"""

import os
import shutil

import pytest
from playwright.sync_api import Page, expect

# Playwright's sync API keeps an asyncio loop running in the test thread from the first browser
# on; Django would then refuse the tests' own ORM calls (SynchronousOnlyOperation) although none of
# them runs inside that loop. The live server answers in its own threads, without a loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    wanted = os.environ.get("OMNIS_CHROMIUM")
    if wanted:
        return shutil.which(wanted)
    return next(filter(None, (shutil.which(name) for name in CHROMIUM_CANDIDATES)), None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    return {
        **browser_type_launch_args,
        "executable_path": path,
        "args": ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 900},
        "locale": "de-DE",
        "timezone_id": "Europe/Berlin",
    }


@pytest.fixture
def page(page: Page) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return page
