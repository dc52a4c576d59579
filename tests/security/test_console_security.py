"""The console against hostile data: markup in every stored or delivered value renders as
text in the list, the edit panel and the delivery history, and no script of it runs; every
response carries the security headers; no other page can frame the console.

The browser and its server live for this module only (tests/console shares them by
package): Playwright's sync API holds an event loop in this thread while it is open, and the
other suites here need asyncio.run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, Response, expect

from hookline.api.console import CONSOLE
from tests.console.conftest import Console, chromium, console, console_server, page
from tests.databases import Templates
from tests.delivery.receivers import Reply
from tests.servers import RunningServer

__all__ = ["console", "page"]  # the console suite's fixtures, on this module's browser

APP_CREATED = "com.qlik.v1.app.created"
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
SVG = "<svg onload=alert(3)>"
# Neither space nor backslash may be in a webhook URL; markup can still be.
URL_MARKUP = "<img/src=x/onerror=alert(4)>"
HOSTILE_ELEMENTS = "img[src=x], svg[onload], tbody script, td script, pre script"


@pytest.fixture(scope="module")
def hookline(
    templates: Templates, tmp_path_factory: pytest.TempPathFactory, ca_file: Path
) -> Iterator[RunningServer]:
    with console_server(templates, tmp_path_factory.mktemp("hostile"), ca_file) as running:
        yield running


@pytest.fixture(scope="module")
def browser(hookline: RunningServer) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _watch_alerts(page: Page) -> list[str]:
    alerts: list[str] = []

    def record(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return alerts


def test_hostile_values_render_as_text_in_list_panel_and_history(console: Console) -> None:
    path = f"/hostile/{URL_MARKUP}"
    console.receiver.script(path, Reply(200, {"X-Evil": SVG}, f"{SCRIPT}{IMAGE}".encode()))
    hook = console.webhook(
        IMAGE,
        description=SCRIPT,
        url=console.receiver_url(path),
        headers={"X-Html": SVG},
        encryptedHeaders={"X-Secret": IMAGE},
    )
    console.publish({"type": APP_CREATED, "data": {"id": "app-1", "name": IMAGE, "x": SCRIPT}})
    console.settled(hook["id"], 1)
    alerts = _watch_alerts(console.page)
    console.open()
    page = console.page

    row = console.row(IMAGE)
    expect(console.names()).to_have_text([IMAGE])
    expect(row).to_contain_text(URL_MARKUP)

    row.get_by_role("button", name="Show history").click()
    history = page.get_by_role("region", name=f"History: {IMAGE}")
    show = history.get_by_role("button", name="Show details")
    expect(show).to_have_count(1)
    show.click()
    expect(history.locator("tr.details")).to_be_visible()
    expect(history).to_contain_text(f'"name": "{IMAGE}"')
    expect(history).to_contain_text(f"X-Html: {SVG}")
    expect(history).to_contain_text("X-Secret: **OMITTED**")
    expect(history).to_contain_text(f"X-Evil: {SVG}")
    expect(history).to_contain_text(f"{SCRIPT}{IMAGE}")

    console.options(IMAGE).get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    expect(panel.get_by_label("Name", exact=True)).to_have_value(IMAGE)
    expect(panel.get_by_label("Description")).to_have_value(SCRIPT)
    expect(panel.get_by_label("URL")).to_have_value(console.receiver_url(path))

    expect(page.locator(HOSTILE_ELEMENTS)).to_have_count(0)
    assert alerts == []


def test_a_hostile_name_renders_as_text_when_its_secret_is_rotated(console: Console) -> None:
    console.webhook(SCRIPT, secret="s" * 40)
    alerts = _watch_alerts(console.page)
    console.open()
    page = console.page

    console.options(SCRIPT).get_by_role("menuitem", name="Edit").click()
    console.dialog("Edit webhook").get_by_role("button", name="Rotate secret").click()
    console.dialog("Rotate secret").get_by_role("button", name="Rotate", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text(f"Secret of “{SCRIPT}” rotated.")
    expect(console.dialog("New secret")).to_be_visible()

    expect(page.locator(HOSTILE_ELEMENTS)).to_have_count(0)
    assert alerts == []


def _check_security_headers(response: Response, problems: list[str]) -> None:
    headers = response.headers
    expected = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
    }
    wrong = {
        name: headers.get(name) for name, value in expected.items() if headers.get(name) != value
    }
    if "/console" in response.url and "frame-ancestors 'none'" not in headers.get(
        "content-security-policy", ""
    ):
        wrong["content-security-policy"] = headers.get("content-security-policy")
    if wrong:
        problems.append(f"{response.url}: {wrong}")


def test_every_response_the_console_loads_carries_the_security_headers(
    console: Console,
) -> None:
    problems: list[str] = []
    seen: list[str] = []

    def check(response: Response) -> None:
        if response.url.startswith(console.server.url):
            seen.append(response.url)
            _check_security_headers(response, problems)

    console.page.on("response", check)
    console.webhook("Headers")
    console.open()
    console.row("Headers").get_by_role("button", name="Show history").click()
    expect(console.page.get_by_role("region", name="History: Headers")).to_be_visible()

    assert any(url.endswith("/console") for url in seen)
    assert any("/console/assets/" in url for url in seen)
    assert any("/api/v1/" in url for url in seen)
    assert problems == []


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/",
        "/console/assets/missing.js",
        *(f"/console/assets/{file.name}" for file in CONSOLE.iterdir()),
    ],
)
def test_every_console_file_carries_the_security_headers(
    hookline: RunningServer, path: str
) -> None:
    response = hookline.client(None).get(path, follow_redirects=False)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    if path.startswith("/console"):
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy


def test_another_page_cannot_frame_the_console(browser: Browser, hookline: RunningServer) -> None:
    context = browser.new_context()
    try:
        framer = context.new_page()
        framer.set_content(f'<iframe src="{hookline.url}/console"></iframe>', wait_until="load")

        frame = framer.frames[-1]
        assert frame is not framer.main_frame
        assert frame.url == "chrome-error://chromewebdata/"  # Chromium refused to frame it
        assert frame.locator("input").count() == 0  # the sign-in form never loaded
    finally:
        context.close()
