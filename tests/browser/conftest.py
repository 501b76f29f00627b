"""Browser tests: pytest-playwright drives the system's Chromium (Debian's /usr/bin/chromium, never
a downloaded one) against Django's live server. Without Chromium the tests skip with that reason.

    log_in(page, live_server.url, "berlin")  # tests/browser/desk.py
    page.goto(live_server.url + "/desk/phone/")
    page.fill("#phone", "030 1234567")
"""

import os
import shutil

import pytest
from playwright.sync_api import Page, expect, sync_playwright

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

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


@pytest.fixture(scope="package")
def browser_context_args():
    # pytest-playwright's own asks the session's Playwright (for --device): not used here.
    return {
        "viewport": {"width": 1280, "height": 900},
        "locale": "de-DE",
        "timezone_id": "Europe/Berlin",
    }


@pytest.fixture
def page(page: Page) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return page


# Playwright's sync API keeps an asyncio loop running in the test thread while it is started;
# Django would then refuse the tests' own ORM calls (SynchronousOnlyOperation) although none of
# them runs inside that loop (the live server answers in its own threads). So Playwright lives for
# this package only (pytest-playwright starts it for the whole session), and Django's check is off
# just as long: later tests, and the processes they start, keep it.


@pytest.fixture(scope="package")
def playwright():
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    pw = sync_playwright().start()
    yield pw
    pw.stop()
    if before is None:
        os.environ.pop(ASYNC_UNSAFE, None)
    else:
        os.environ[ASYNC_UNSAFE] = before


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()
