"""Steps every browser test takes at the desk."""

import re

from django.test import Client
from playwright.sync_api import Page, expect


def log_in(page: Page, base_url: str, username: str, password: str = "omnis-demo") -> None:
    """The desk's own way in: open the desk, get the login form, land on the morning board."""
    page.goto(f"{base_url}/desk/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/desk/(\?.*)?$"))
    expect(page.locator("#board")).to_be_visible()


def signed_in(page: Page, base_url: str, user) -> None:
    """A factory-made login without a known password: the browser gets its session cookie."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )


def success_message(page: Page) -> str:
    message = page.locator(".messages .success")
    expect(message).to_be_visible()
    return message.inner_text()
