"""Endpoint health in the console: the table's health cell, coloured by grade, and the
chart above a webhook's history, in English and Japanese. Attempts are written into the
server's database at the times a test needs (tests/attempts.py), or made for real."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import Locator, expect

from tests.attempts import Sent, record
from tests.console.conftest import Console

APP_CREATED = "com.qlik.v1.app.created"
MINUTE = timedelta(minutes=1)
JAPANESE_SELECT = "{name} を選択"


def _attempts(console: Console, webhook: dict[str, Any], *sent: Sent) -> None:
    record(console.server, console.tenant.id, webhook, *sent)


def _four(console: Console) -> None:
    """Steady (every attempt answered, 120 ms), Flaky (9 of 10), Failing (none) and Quiet
    (no attempts at all)."""
    _attempts(
        console, console.webhook("Steady"), *(Sent(MINUTE * n, 200, 120.0) for n in range(1, 5))
    )
    flaky = console.webhook("Flaky")
    _attempts(
        console,
        flaky,
        *(Sent(MINUTE * n, 200, 300.0) for n in range(1, 10)),
        Sent(MINUTE * 10, 503, 2_000.0),
    )
    _attempts(console, console.webhook("Failing"), Sent(MINUTE * 3, None, 10_000.0, retry=True))
    console.webhook("Quiet")


def _health(console: Console, name: str, select: str = "Select {name}") -> Locator:
    """The health badge of the row whose selection box is labelled ``select``."""
    box = console.page.get_by_role("checkbox", name=select.format(name=name), exact=True)
    return console.page.get_by_role("row").filter(has=box).locator(".cell-health .health")


def test_the_health_cell_shows_the_success_rate_and_median_coloured_by_grade(
    console: Console,
) -> None:
    _four(console)
    console.open()

    expect(console.page.get_by_role("columnheader", name="Health")).to_be_visible()
    expect(
        console.page.get_by_role("columnheader", name="Health").get_by_role("button")
    ).to_have_count(0)
    cases = {
        "Steady": ("100% · 120 ms", "good"),
        "Flaky": ("90% · 300 ms", "warn"),
        "Failing": ("0% · 10,000 ms", "bad"),
        "Quiet": ("—", "none"),
    }
    for name, (text, grade) in cases.items():
        cell = _health(console, name)
        expect(cell).to_have_text(text)
        expect(cell).to_have_class(f"health health--{grade}")
    expect(_health(console, "Flaky")).to_have_attribute(
        "title", "Last 24 hours: 10 attempts, 90% succeeded, p50 300 ms, p95 2,000 ms"
    )
    expect(_health(console, "Quiet")).to_have_attribute("title", "Last 24 hours: no attempts")


def test_the_chart_above_the_history_stacks_failures_on_successes(console: Console) -> None:
    flaky = console.webhook("Flaky")
    _attempts(
        console,
        flaky,
        Sent(timedelta(minutes=2), 200, 40.0),
        Sent(timedelta(minutes=3), 200, 60.0),
        Sent(timedelta(minutes=4), 500, 80.0),
        Sent(timedelta(hours=3), 200, 50.0),
        Sent(timedelta(minutes=30), None, 10_000.0, retry=True),
    )
    console.open()
    page = console.page

    console.row("Flaky").get_by_role("button", name="Show history").click()
    history = page.get_by_role("region", name="History: Flaky")
    chart = history.locator("figure.chart")
    expect(chart).not_to_have_attribute("aria-busy", "true")
    expect(chart.get_by_role("heading", name="Attempts per hour")).to_be_visible()
    expect(chart.locator(".chart__figures")).to_have_text(
        "5 attempts · 60% succeeded · p50 60 ms · p95 10,000 ms · Waiting: 1 (oldest 30 min)"
    )
    drawing = chart.get_by_role("img")
    expect(drawing).to_have_attribute(
        "aria-label", "Last 24 hours: 5 attempts, 60% succeeded, p50 60 ms, p95 10,000 ms"
    )
    _expect_bars(chart, _series(console, flaky, "24h"))
    expect(chart.get_by_role("listitem")).to_have_text(["Success", "Fail"])

    chart.get_by_label("Window").select_option(label="Last hour")
    expect(chart.get_by_role("heading", name="Attempts per 5 minutes")).to_be_visible()
    expect(chart.locator(".chart__figures")).to_contain_text("4 attempts · 50% succeeded")
    _expect_bars(chart, _series(console, flaky, "1h"))
    chart.get_by_label("Window").select_option(label="Last 7 days")
    expect(chart.get_by_role("heading", name="Attempts per 6 hours")).to_be_visible()
    expect(chart.locator(".chart__figures")).to_contain_text("5 attempts")


def _series(console: Console, webhook: dict[str, Any], window: str) -> list[dict[str, Any]]:
    response = console.api.get(f"/api/v1/webhooks/{webhook['id']}/stats", params={"window": window})
    assert response.status_code == 200, response.text
    return list(response.json()["series"])


def _expect_bars(chart: Locator, series: list[dict[str, Any]]) -> None:
    """A bar per bucket of the API's series with successes, one per bucket with failures
    stacked on it, and each bucket's counts in its tooltip, in order."""
    expect(chart.locator("rect.chart__success")).to_have_count(
        sum(1 for bucket in series if bucket["successes"])
    )
    expect(chart.locator("rect.chart__failure")).to_have_count(
        sum(1 for bucket in series if bucket["failures"])
    )
    expect(chart.locator("rect.chart__hover title")).to_have_text(
        [
            re.compile(f": {bucket['successes']} succeeded, {bucket['failures']} failed")
            for bucket in series
        ]
    )


def test_a_webhook_without_attempts_says_so_instead_of_a_chart(console: Console) -> None:
    console.webhook("Quiet")
    console.open()

    console.row("Quiet").get_by_role("button", name="Show history").click()
    chart = console.page.get_by_role("region", name="History: Quiet").locator("figure.chart")

    expect(chart.locator(".chart__empty")).to_have_text("Last 24 hours: no attempts")
    expect(chart.locator(".chart__figures")).to_have_text("Waiting: none")
    expect(chart.locator("svg")).to_have_count(0)


def test_a_resend_shows_in_the_chart_at_once(console: Console) -> None:
    """Real deliveries to the test receiver: one, then its resend."""
    hook = console.webhook("Delivered", url=console.receiver_url("/health-resend"))
    console.publish({"type": APP_CREATED, "data": {"id": "app-1"}})
    console.settled(hook["id"], 1)
    console.open()
    page = console.page
    expect(_health(console, "Delivered")).to_have_text(re.compile(r"^100% · \d[\d,]* ms$"))

    console.row("Delivered").get_by_role("button", name="Show history").click()
    history = page.get_by_role("region", name="History: Delivered")
    figures = history.locator(".chart__figures")
    expect(figures).to_contain_text("1 attempt · 100% succeeded")
    history.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status")).to_have_text("Delivery resent.")
    expect(figures).to_contain_text("2 attempts · 100% succeeded")


def test_health_in_japanese(console: Console) -> None:
    _four(console)
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")

    expect(page.get_by_role("columnheader", name="正常性")).to_be_visible()
    flaky = _health(console, "Flaky", JAPANESE_SELECT)
    expect(flaky).to_have_text("90% · 300 ms")
    expect(flaky).to_have_attribute(
        "title", "過去 24 時間: 試行 10 回、成功率 90%、p50 300 ms、p95 2,000 ms"
    )
    quiet = _health(console, "Quiet", JAPANESE_SELECT)
    expect(quiet).to_have_attribute("title", "過去 24 時間: 試行はありません")

    failing = page.get_by_role("row").filter(has=page.get_by_label("Failing を選択"))
    failing.get_by_role("button", name="履歴を表示").click()
    chart = page.get_by_role("region", name="履歴: Failing").locator("figure.chart")
    expect(chart.get_by_role("heading", name="試行数 (1 時間ごと)")).to_be_visible()
    expect(chart.locator(".chart__figures")).to_have_text(
        "試行 1 回 · 成功率 0% · p50 10,000 ms · p95 10,000 ms · "
        "配信待ち: 1 件 (最も古いもの: 3 分前)"
    )
    expect(chart.get_by_role("listitem")).to_have_text(["成功", "失敗"])
    window = chart.get_by_label("期間")
    expect(window.locator("option")).to_have_text(["過去 1 時間", "過去 24 時間", "過去 7 日間"])
    window.select_option(label="過去 7 日間")
    expect(chart.get_by_role("heading", name="試行数 (6 時間ごと)")).to_be_visible()
