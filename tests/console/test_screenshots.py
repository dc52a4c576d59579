"""Screenshots of the console's main screens for docs/console.md. Not part of a normal run:
`HOOKLINE_SCREENSHOTS=1 .venv/bin/pytest tests/console/test_screenshots.py` refreshes them."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.attempts import Sent, record_many
from tests.console.conftest import Console
from tests.delivery.receivers import Reply

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.skipif(
    not os.environ.get("HOOKLINE_SCREENSHOTS"), reason="HOOKLINE_SCREENSHOTS=1 takes them"
)


def _shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled")


def _sample(console: Console) -> None:
    """A tenant as one might look after a while: a few webhooks, one disabled by its
    endpoint, one with a delivery history."""
    aiko, sam = console.user("aiko.tanaka"), console.user("sam.lee")
    console.receiver.script("/crm", Reply(410))
    crm = console.webhook(
        "CRM bridge", url=console.receiver_url("/crm"), ownerId=sam, description="Legacy CRM"
    )
    console.publish({"type": "com.qlik.v1.app.created", "data": {"id": "app-1"}})
    console.settled(crm["id"], 1)
    console.webhook(
        "Audit log",
        url="https://audit.example.com/ingest",
        eventTypes=["com.qlik.v1.user.created", "com.qlik.v1.user.deleted"],
        ownerId=aiko,
        description="Security team's SIEM",
        secret="the-audit-log-secret-of-32-characters",
    )
    warehouse = console.webhook(
        "Data warehouse sync",
        url="https://etl.example.com/qlik/events",
        eventTypes=["com.qlik.v1.app.data.updated", "com.qlik.v1.app.reload.finished"],
        ownerId=sam,
    )
    orders = console.webhook(
        "Deploy notifications",
        url=console.receiver_url("/deploys"),
        eventTypes=["com.qlik.v1.app.published", "com.qlik.v1.app.exported"],
        headers={"X-Team": "platform"},
        encryptedHeaders={"Authorization": "Bearer abc"},
        ownerId=aiko,
        description="Posts to the #deploys channel",
    )
    console.receiver.script("/deploys", Reply(200, headers=JSON, body=b'{"received":true}'))
    for number in range(3):
        data = {"id": f"app-{number}", "name": f"Sales {number}"}
        console.publish({"type": "com.qlik.v1.app.published", "data": data, "ownerId": aiko})
        console.settled(orders["id"], number + 1)
    _day_of(console, orders, "com.qlik.v1.app.published", failing=0.002)
    outage = (timedelta(hours=9), timedelta(hours=8))
    _day_of(console, warehouse, "com.qlik.v1.app.reload.finished", outage=outage, slow=2.5)


def _day_of(
    console: Console,
    webhook: dict[str, Any],
    event_type: str,
    *,
    outage: tuple[timedelta, timedelta] | None = None,
    failing: float = 0.005,
    slow: float = 1.0,
) -> None:
    """A day of attempts before now, a few a quarter-hour, busier in the working hours,
    failing (503, slower) through ``outage`` (from, to: how long ago)."""
    rng = random.Random(webhook["name"])
    attempts = []
    for quarter in range(1, 96):
        ago = timedelta(minutes=15 * quarter)
        down = outage is not None and outage[1] <= ago <= outage[0]
        for _ in range(rng.randint(3, 9) if 24 <= quarter <= 60 else rng.randint(1, 4)):
            at = ago + timedelta(seconds=rng.uniform(0, 899))
            fails = down or rng.random() < failing
            duration = rng.lognormvariate(4.6, 0.35) * slow * (20 if fails else 1)
            attempts.append(Sent(at, 503 if fails else 200, round(min(duration, 10_000), 1)))
    record_many(console.server, console.tenant.id, webhook, attempts, event_type)


def _health_shown(page: Page) -> None:
    expect(page.locator(".cell-health .health")).to_have_count(4)
    expect(page.locator(".health--loading")).to_have_count(0)


def test_take_screenshots(console: Console) -> None:
    page = console.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.server.url)
    page.goto(f"{console.server.url}/console")
    _shoot(page, "sign-in")

    _sample(console)
    console.open()
    expect(console.names()).to_have_count(4)
    _health_shown(page)
    _shoot(page, "webhooks")

    page.get_by_role("button", name="Create new").click()
    dialog = console.dialog("Create webhook")
    dialog.get_by_label("Name", exact=True).fill("Reload alerts")
    dialog.get_by_label("URL").fill("http://alerts.internal/reload")
    dialog.get_by_role("button", name="Add header").click()
    dialog.get_by_label("Header name").fill("X-Source")
    dialog.get_by_label("Header value").fill("hookline")
    dialog.get_by_label("App reloaded").check()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("URL").blur()
    _shoot(page, "create")
    page.keyboard.press("Escape")
    _operational_events(console, "Create new", "Create webhook", "operational-events")
    _pacing(console, "Create new", "Create webhook", ("Rate limit", "Delivery order"), "pacing")

    console.options("Audit log").get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    expect(panel).to_be_visible()
    _shoot(page, "edit")
    _rotate(console)
    page.keyboard.press("Escape")
    _send_tests(console)

    page.set_viewport_size({"width": 1280, "height": 1000})
    console.row("Data warehouse sync").get_by_role("button", name="Show history").click()
    chart = page.get_by_role("region", name="History: Data warehouse sync").locator("figure")
    expect(chart.locator("rect.chart__failure").first).to_be_visible()
    _shoot(page, "health")
    page.get_by_role("button", name="Show history", expanded=True).click()

    page.set_viewport_size({"width": 1280, "height": 1500})
    console.row("Deploy notifications").get_by_role("button", name="Show history").click()
    history = page.get_by_role("region", name="History: Deploy notifications")
    history.get_by_role("button", name="Show details").first.click()
    _shoot(page, "history")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Show history", expanded=True).click()
    _recover(console)
    page.get_by_label("Language").select_option("ja")
    expect(page.get_by_role("button", name="新規作成")).to_be_visible()
    page.get_by_label("言語").blur()
    _health_shown(page)
    _shoot(page, "webhooks-ja")

    page.set_viewport_size({"width": 1280, "height": 1000})
    warehouse = page.get_by_role("row").filter(has=page.get_by_label("Data warehouse sync を選択"))
    warehouse.get_by_role("button", name="履歴を表示").click()
    chart = page.locator("figure.chart")
    expect(chart.get_by_role("heading", name="試行数 (1 時間ごと)")).to_be_visible()
    expect(chart.locator("rect.chart__failure").first).to_be_visible()
    _shoot(page, "health-ja")
    page.get_by_role("button", name="履歴を表示", expanded=True).click()
    page.set_viewport_size({"width": 1280, "height": 800})
    _rotate_in_japanese(console)
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    _operational_events(console, "新規作成", "Webhook の作成", "operational-events-ja")
    _pacing(console, "新規作成", "Webhook の作成", ("レート制限", "配信順序"), "pacing-ja")
    _send_test_in_japanese(console)
    _recover_in_japanese(console)


def _operational_events(console: Console, create: str, title: str, name: str) -> None:
    """The create dialog scrolled to hookline's own event types, two of them chosen."""
    page = console.page
    page.get_by_role("button", name=create).click()
    group = page.get_by_role("dialog", name=title).get_by_role("group", name="Webhook")
    boxes = group.get_by_role("checkbox")
    boxes.nth(1).check()
    boxes.nth(2).check()
    group.scroll_into_view_if_needed()
    boxes.nth(2).blur()
    expect(page.locator(".toast--visible")).to_have_count(0)  # an earlier step's notice
    _shoot(page, name)
    page.keyboard.press("Escape")


def _pacing(console: Console, create: str, title: str, labels: tuple[str, str], name: str) -> None:
    """The create dialog scrolled to the rate limit and delivery order, both set."""
    page = console.page
    page.get_by_role("button", name=create).click()
    dialog = page.get_by_role("dialog", name=title)
    rate, order = (dialog.get_by_label(label) for label in labels)
    rate.fill("20")
    order.select_option("fifo")
    order.scroll_into_view_if_needed()
    order.blur()
    _shoot(page, name)
    page.keyboard.press("Escape")


def _rotate(console: Console) -> None:
    """The rotation dialog over the edit panel, then the generated secret it shows once."""
    page = console.page
    console.dialog("Edit webhook").get_by_role("button", name="Rotate secret").click()
    dialog = console.dialog("Rotate secret")
    expect(dialog.get_by_label("Grace period")).to_have_value("86400")
    _shoot(page, "rotate")
    dialog.get_by_role("button", name="Rotate", exact=True).click()
    shown = console.dialog("New secret")
    shown.get_by_role("button", name="Copy").click()
    expect(shown).to_contain_text("Copied to the clipboard.")
    _shoot(page, "rotate-secret")
    shown.get_by_role("button", name="Done").click()
    expect(console.dialog("Edit webhook").locator(".rotation__state")).to_be_visible()


def _rotate_in_japanese(console: Console) -> None:
    """The edit panel of a rotating webhook, and the rotation dialog, in Japanese."""
    page = console.page
    expect(page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")
    select = page.get_by_role("checkbox", name="Audit log を選択", exact=True)
    page.get_by_role("row").filter(has=select).get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="編集").click()
    panel = page.get_by_role("dialog", name="Webhook の編集")
    expect(panel.locator(".rotation__state")).to_be_visible()
    panel.get_by_role("button", name="シークレットをローテーション").focus()
    _shoot(page, "rotating-ja")
    panel.get_by_role("button", name="シークレットをローテーション").click()
    expect(page.get_by_role("dialog", name="シークレットのローテーション")).to_be_visible()
    _shoot(page, "rotate-ja")


def _send_tests(console: Console) -> None:
    """A test sent from the row menu that succeeds, and one from the edit panel of the
    disabled webhook, whose endpoint is gone."""
    page = console.page
    console.options("Deploy notifications").get_by_role("menuitem", name="Send test event").click()
    dialog = console.dialog("Send test event")
    dialog.get_by_label("Event type").select_option(label="App published")
    dialog.get_by_role("button", name="Send test event").click()
    expect(dialog.locator(".test-send__outcome")).to_contain_text("HTTP 200")
    _shoot(page, "test-send")
    dialog.get_by_role("button", name="Close").click()

    page.set_viewport_size({"width": 1280, "height": 1100})
    console.options("CRM bridge").get_by_role("menuitem", name="Edit").click()
    section = console.dialog("Edit webhook").get_by_role("region", name="Send test event")
    section.get_by_role("button", name="Send test event").click()
    expect(section.locator(".test-send__outcome")).to_contain_text("HTTP 410")
    section.scroll_into_view_if_needed()
    _shoot(page, "test-send-panel")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1280, "height": 800})


def _send_test_in_japanese(console: Console) -> None:
    """The test dialog in Japanese, after a send."""
    page = console.page
    expect(page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")
    select = page.get_by_role("checkbox", name="Deploy notifications を選択", exact=True)
    page.get_by_role("row").filter(has=select).get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="テスト イベントを送信").click()
    dialog = page.get_by_role("dialog", name="テスト イベントの送信")
    dialog.get_by_role("button", name="テスト イベントを送信").click()
    expect(dialog.locator(".test-send__outcome")).to_contain_text("HTTP 200")
    _shoot(page, "test-send-ja")
    dialog.get_by_role("button", name="閉じる").click()


def _recover(console: Console) -> None:
    """The recover dialog (everything of the last day), then the task it started, done."""
    page = console.page
    expect(page.locator(".toast--visible")).to_have_count(0)  # the rotation's, gone
    console.options("Deploy notifications").get_by_role("menuitem", name="Recover").click()
    dialog = console.dialog("Recover deliveries")
    dialog.get_by_label("All").check()
    _shoot(page, "recover")
    dialog.get_by_role("button", name="Recover", exact=True).click()
    progress = console.dialog("Recovering “Deploy notifications”")
    expect(progress.get_by_role("status")).to_contain_text("Done")
    progress.get_by_role("button", name="Close").focus()
    _shoot(page, "recover-done")
    progress.get_by_role("button", name="Close").click()


def _recover_in_japanese(console: Console) -> None:
    """The recover dialog and its progress, in Japanese."""
    page = console.page
    expect(page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")
    select = page.get_by_role("checkbox", name="Deploy notifications を選択", exact=True)
    page.get_by_role("row").filter(has=select).get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="配信の復旧").click()
    dialog = page.get_by_role("dialog", name="配信の復旧")
    dialog.get_by_label("すべて").check()
    _shoot(page, "recover-ja")
    dialog.get_by_role("button", name="復旧", exact=True).click()
    progress = page.get_by_role("dialog", name="「Deploy notifications」の復旧")
    expect(progress.get_by_role("status")).to_contain_text("完了")
    progress.get_by_role("button", name="閉じる").focus()
    _shoot(page, "recover-done-ja")
