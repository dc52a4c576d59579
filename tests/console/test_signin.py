"""Signing in and out with an API key, and what the console's responses promise."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Console
from tests.servers import RunningServer

STORED_KEY = "() => sessionStorage.getItem('hookline.apiKey')"


def test_signing_in_shows_the_tenants_webhooks_and_signing_out_forgets_the_key(
    console: Console,
) -> None:
    console.webhook("Orders")
    console.open()
    expect(console.row("Orders")).to_be_visible()
    assert console.page.evaluate(STORED_KEY) == console.key
    assert console.key not in console.page.evaluate("() => JSON.stringify(localStorage)")

    console.page.reload()
    expect(console.row("Orders")).to_be_visible()

    console.page.get_by_role("button", name="Sign out").click()
    expect(console.page.get_by_label("API key")).to_be_visible()
    assert console.page.evaluate(STORED_KEY) is None


def test_a_bad_key_shows_the_apis_error(page: Page, hookline: RunningServer) -> None:
    page.goto(f"{hookline.url}/console")
    page.get_by_label("API key").fill("hlk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("the API key is unknown or revoked")
    expect(page.get_by_role("button", name="Create new")).to_have_count(0)


def test_a_key_revoked_meanwhile_ends_the_session(console: Console) -> None:
    console.open()
    console.page.evaluate("() => sessionStorage.setItem('hookline.apiKey', 'hlk_revoked')")
    console.page.get_by_role("button", name="Name").click()
    expect(console.page.get_by_role("alert")).to_contain_text("Your session ended")
    expect(console.page.get_by_label("API key")).to_be_visible()


def test_console_responses_carry_a_strict_content_security_policy(
    hookline: RunningServer,
) -> None:
    for path in ("/console", "/console/assets/app.js", "/console/assets/style.css"):
        response = httpx.get(f"{hookline.url}{path}")
        assert response.status_code == 200
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
    page = httpx.get(f"{hookline.url}/console").text
    assert "<script>" not in page
    assert "style=" not in page
