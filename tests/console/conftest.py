"""The console in a real browser: Debian's Chromium driven by Playwright, against a real
hookline that delivers to the test receiver. The console is plain static files over the
same API on both databases, so its tests run on SQLite only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from tests.databases import Templates, fresh_database
from tests.delivery.receivers import FAST, HOST, Receiver
from tests.servers import Client, RunningServer, Tenant, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP_CREATED = "com.qlik.v1.app.created"

expect.set_options(timeout=10_000)


@contextmanager
def console_server(templates: Templates, directory: Path, ca_file: Path) -> Iterator[RunningServer]:
    """hookline on SQLite delivering to the receiver (see tests/delivery/conftest.py)."""
    with fresh_database("sqlite", templates, directory) as url:
        running = start_server(url, ca_bundle=str(ca_file), **FAST)
        yield running
        running.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium. Playwright's sync API runs an event loop in this thread while it
    is open, so nothing may call asyncio.run meanwhile: start the server (which migrates
    its database that way) first."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def hookline(
    templates: Templates, tmp_path_factory: pytest.TempPathFactory, ca_file: Path
) -> Iterator[RunningServer]:
    with console_server(templates, tmp_path_factory.mktemp("console"), ca_file) as running:
        yield running


@pytest.fixture(scope="package")
def browser(hookline: RunningServer) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab; the test fails if the page throws or breaks its CSP."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("console", lambda message: _csp_violation(message, problems))
    yield opened
    context.close()
    assert not problems


def _csp_violation(message: ConsoleMessage, problems: list[str]) -> None:
    if "Content Security Policy" in message.text:
        problems.append(message.text)


class Console:
    """A tenant of the running hookline, its API, and the console in a browser tab."""

    def __init__(self, page: Page, server: RunningServer, receiver: Receiver) -> None:
        self.page = page
        self.server = server
        self.receiver = receiver
        self.tenant: Tenant = server.new_tenant()
        self.key = self.tenant.key("tenant-admin")
        self.api: Client = server.client(self.key)

    def open(self) -> None:
        """Open the console and sign in with the tenant admin's key."""
        self.page.goto(f"{self.server.url}/console")
        self.page.get_by_label("API key").fill(self.key)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Create new")).to_be_visible()
        expect(self.page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")

    def receiver_url(self, path: str) -> str:
        return f"https://{HOST}:{self.receiver.port}{path}"

    def webhook(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {"url": "https://hooks.example.com/in", "eventTypes": [APP_CREATED], **fields}
        response = self.api.post("/api/v1/webhooks", json={"name": name, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def patch(self, webhook_id: str, *operations: dict[str, Any]) -> None:
        response = self.api.patch(f"/api/v1/webhooks/{webhook_id}", json=list(operations))
        assert response.status_code == 204, response.text

    def get(self, webhook_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/webhooks/{webhook_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def user(self, user_id: str) -> str:
        """Make a user of the tenant (by issuing it a key) and answer its id."""
        self.tenant.key("user", user_id)
        return user_id

    def publish(self, *events: dict[str, Any]) -> None:
        publisher = self.server.client(self.tenant.key("publisher"))
        response = publisher.post("/api/v1/events", json=list(events))
        assert response.status_code == 202, response.text

    def settled(self, webhook_id: str, count: int) -> list[dict[str, Any]]:
        """The webhook's deliveries, once `count` of them have their final outcome."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = self.api.get(
                f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100}
            )
            found = list(response.json()["data"])
            if len(found) >= count and all(_final(item) for item in found):
                return found
            time.sleep(0.05)
        raise AssertionError(f"deliveries of {webhook_id} never settled")

    # Locators, as a user finds things

    def row(self, name: str) -> Locator:
        select = self.page.get_by_role("checkbox", name=f"Select {name}", exact=True)
        return self.page.get_by_role("row").filter(has=select)

    def names(self) -> Locator:
        """The names in the table, in the order shown."""
        return self.page.locator("tr.webhook .name")

    def options(self, name: str) -> Locator:
        """Open a row's options menu, once the list is loaded (a reload, after a save say,
        draws the rows anew and closes an open menu), and answer the menu."""
        expect(self.page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")
        self.row(name).get_by_role("button", name="Options").click()
        menu = self.page.get_by_role("menu")
        expect(menu).to_be_visible()
        return menu

    def dialog(self, name: str) -> Locator:
        return self.page.get_by_role("dialog", name=name)


def _final(item: dict[str, Any]) -> bool:
    """A delivery with its outcome: no longer pending, no retry to come."""
    return item["status"] != "pending" and item["nextAttemptAt"] is None


@pytest.fixture
def console(page: Page, hookline: RunningServer, receiver: Receiver) -> Console:
    return Console(page, hookline, receiver)
