"""Sending a test event from the row menu and from the edit panel, in English and Japanese:
the event type to send, and the outcome shown in place (status, HTTP status, duration)."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, expect

from tests.console.conftest import Console
from tests.delivery.receivers import Reply

APP_CREATED = "com.qlik.v1.app.created"
APP_PUBLISHED = "com.qlik.v1.app.published"
DURATION = re.compile(r"HTTP 200 · \d+\s?ms")


def _test_dialog(console: Console, name: str, item: str = "Send test event") -> Locator:
    console.options(name).get_by_role("menuitem", name=item).click()
    dialog = console.page.get_by_role("dialog").last
    expect(dialog).to_be_visible()
    return dialog


def test_the_row_menu_sends_the_chosen_type_and_shows_the_outcome(console: Console) -> None:
    path = "/console-test-send"
    console.webhook(
        "Tested", url=console.receiver_url(path), eventTypes=[APP_CREATED, APP_PUBLISHED]
    )
    console.open()

    dialog = _test_dialog(console, "Tested")
    expect(dialog).to_have_accessible_name("Send test event")
    event_type = dialog.get_by_label("Event type")
    expect(event_type).to_be_focused()
    expect(event_type.locator("option")).to_have_text(["App created", "App published"])
    event_type.select_option(label="App published")
    dialog.get_by_role("button", name="Send test event").click()

    outcome = dialog.locator(".test-send__outcome")
    expect(outcome).to_contain_text("Success")
    expect(outcome).to_contain_text(DURATION)
    [got] = console.receiver.received(path)
    body = json.loads(got.body)
    assert (body["eventType"], body["source"]) == (APP_PUBLISHED, "hookline/test")

    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(console.row("Tested").get_by_role("button", name="Options")).to_be_focused()


def test_a_failing_endpoint_shows_the_failure_and_why(console: Console) -> None:
    path = "/console-test-fails"
    console.receiver.script(path, Reply(503))
    console.webhook("Failing", url=console.receiver_url(path))
    console.open()

    dialog = _test_dialog(console, "Failing")
    dialog.get_by_role("button", name="Send test event").click()

    outcome = dialog.locator(".test-send__outcome")
    expect(outcome).to_contain_text("Fail")
    expect(outcome).to_contain_text("HTTP 503")
    expect(outcome).to_contain_text("a test event is sent once, never retried")
    dialog.get_by_role("button", name="Send test event").click()  # again: a new outcome
    expect(outcome).to_contain_text("HTTP 503")
    assert len(console.receiver.received(path)) == 2


def test_the_apis_refusal_shows_in_place(console: Console) -> None:
    response = console.api.post(
        "/api/v1/webhooks", json={"name": "No types", "url": "https://hooks.example.com/in"}
    )
    assert response.status_code == 201, response.text
    console.open()

    dialog = _test_dialog(console, "No types")
    dialog.get_by_role("button", name="Send test event").click()

    expect(dialog.locator(".test-send__outcome")).to_contain_text("subscribes to no event type")


def test_the_edit_panel_sends_a_test_without_saving(console: Console) -> None:
    path = "/console-test-panel"
    hook = console.webhook("Panel", url=console.receiver_url(path))
    console.open()
    console.options("Panel").get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    panel.get_by_label("Name", exact=True).fill("Renamed, not saved")

    section = panel.get_by_role("region", name="Send test event")
    expect(section.get_by_label("Event type")).to_have_value(APP_CREATED)
    section.get_by_role("button", name="Send test event").click()

    expect(section.locator(".test-send__outcome")).to_contain_text("Success")
    expect(section.locator(".test-send__outcome")).to_contain_text(DURATION)
    expect(panel).to_be_visible()
    assert len(console.receiver.received(path)) == 1
    assert console.get(hook["id"]) == hook  # nothing saved
    panel.get_by_role("button", name="Cancel").click()


def test_the_history_marks_test_deliveries(console: Console) -> None:
    path = "/console-test-history"
    hook = console.webhook("Marked", url=console.receiver_url(path))
    sent = console.api.post(f"/api/v1/webhooks/{hook['id']}/actions/test")
    assert sent.status_code == 201, sent.text
    console.open()

    console.row("Marked").get_by_role("button", name="Show history").click()
    history = console.page.get_by_role("region", name="History: Marked")
    row = history.get_by_role("row").filter(has=console.page.get_by_role("button", name="Resend"))
    expect(row).to_have_count(1)
    expect(row.locator(".trigger")).to_have_text("Test")


def test_sending_a_test_in_japanese(console: Console) -> None:
    path = "/console-test-ja"
    console.webhook("テスト先", url=console.receiver_url(path))
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")
    expect(page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")
    row = page.get_by_role("row").filter(has=page.get_by_label("テスト先 を選択"))

    row.get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="テスト イベントを送信").click()
    dialog = page.get_by_role("dialog", name="テスト イベントの送信")
    expect(dialog.get_by_label("イベント タイプ").locator("option")).to_have_text(
        ["アプリ: 作成済み"]
    )
    expect(dialog).to_contain_text("送信は 1 回だけで再試行されず")
    dialog.get_by_role("button", name="テスト イベントを送信").click()
    expect(dialog.locator(".test-send__outcome")).to_contain_text("成功")
    expect(dialog.locator(".test-send__outcome")).to_contain_text("HTTP 200")
    dialog.get_by_role("button", name="閉じる").click()

    row.get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="編集").click()
    panel = page.get_by_role("dialog", name="Webhook の編集")
    section = panel.get_by_role("region", name="テスト イベントの送信")
    expect(section).to_contain_text("保存済みの URL")
    section.get_by_role("button", name="テスト イベントを送信").click()
    expect(section.locator(".test-send__outcome")).to_contain_text("成功")
    assert len(console.receiver.received(path)) == 2
    panel.get_by_role("button", name="キャンセル").click()

    row.get_by_role("button", name="履歴を表示").click()
    history = page.get_by_role("region", name="履歴: テスト先")
    expect(history.locator(".trigger")).to_have_text(["テスト", "テスト"])
