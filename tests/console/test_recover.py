"""Recovering a webhook's deliveries from its row menu, in English and Japanese: the dialog
with the window and the choice, the API's errors in place, then the task's progress until
it is done, and the endpoint getting what it missed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from playwright.sync_api import expect

from tests.console.conftest import APP_CREATED, Console
from tests.delivery.receivers import Reply


def _outage(console: Console, name: str, count: int) -> tuple[dict[str, object], str]:
    """A webhook whose endpoint failed ``count`` events for good and is now back; the
    webhook and the receiver's path."""
    path = f"/{uuid.uuid4().hex[:12]}"
    console.receiver.script(path, Reply(500))
    webhook = console.webhook(name, url=console.receiver_url(path))
    for n in range(count):
        console.publish({"type": APP_CREATED, "data": {"n": n}})
    console.settled(str(webhook["id"]), count)
    console.receiver.script(path, Reply(200))
    # (enabled again if its failures disabled it)
    console.patch(str(webhook["id"]), {"op": "replace", "path": "/enabled", "value": True})
    return webhook, path


def _local(moment: datetime) -> str:
    """A time as <input type=datetime-local> takes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def test_recovering_failed_deliveries_shows_the_task_until_it_is_done(console: Console) -> None:
    webhook, path = _outage(console, "Outage", 3)
    before = console.receiver.count(path)
    console.open()

    console.options("Outage").get_by_role("menuitem", name="Recover").click()
    dialog = console.dialog("Recover deliveries")
    expect(dialog.get_by_label("From")).to_be_focused()
    expect(dialog.get_by_label("Failed")).to_be_checked()
    expect(dialog).to_contain_text("Events whose latest delivery failed after all its retries.")
    dialog.get_by_role("button", name="Recover", exact=True).click()

    progress = console.dialog("Recovering “Outage”")
    # The three events, hookline.delivery.exhausted (the first failure for good) and
    # hookline.webhook.disabled (three failures disabled the webhook).
    expect(progress.get_by_role("status")).to_have_text("Done: looked through 5 events.")
    expect(progress).to_contain_text("3 deliveries queued.")
    expect(progress.get_by_role("progressbar", name="Progress")).to_have_attribute("value", "5")
    console.receiver.wait_for(path, before + 3)
    recovered = [d for d in console.settled(str(webhook["id"]), 6) if d["taskId"]]
    assert sorted(d["status"] for d in recovered) == ["success"] * 3
    progress.get_by_role("button", name="Close").click()
    expect(progress).to_be_hidden()
    expect(console.row("Outage").get_by_role("button", name="Options")).to_be_focused()


def test_the_apis_errors_are_shown_at_their_fields(console: Console) -> None:
    console.webhook("Window")
    console.open()
    console.options("Window").get_by_role("menuitem", name="Recover").click()
    dialog = console.dialog("Recover deliveries")
    now = datetime.now()
    dialog.get_by_label("From").fill(_local(now - timedelta(days=30)))
    dialog.get_by_label("To").fill(_local(now + timedelta(days=1)))
    dialog.get_by_label("Missing").check()
    dialog.get_by_role("button", name="Recover", exact=True).click()

    since, until = dialog.get_by_label("From"), dialog.get_by_label("To")
    expect(since).to_have_attribute("aria-invalid", "true")
    expect(until).to_have_attribute("aria-invalid", "true")
    expect(dialog).to_contain_text("must not be before")
    expect(dialog).to_contain_text("must not be in the future")
    expect(since).to_be_focused()

    dialog.get_by_label("From").fill("")
    dialog.get_by_label("To").fill("")
    dialog.get_by_role("button", name="Recover", exact=True).click()
    expect(dialog).to_contain_text("is required")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_recovering_in_japanese(console: Console) -> None:
    _outage(console, "障害", 2)
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")
    expect(page.get_by_role("button", name="新規作成")).to_be_visible()

    row = page.get_by_role("row").filter(has=page.get_by_label("障害 を選択"))
    row.get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="配信の復旧").click()
    dialog = page.get_by_role("dialog", name="配信の復旧")
    expect(dialog.get_by_label("開始日時")).to_be_focused()
    expect(dialog.get_by_label("失敗")).to_be_checked()
    expect(dialog.get_by_label("未配信")).not_to_be_checked()
    expect(dialog.get_by_label("すべて")).not_to_be_checked()
    dialog.get_by_role("button", name="復旧", exact=True).click()

    progress = page.get_by_role("dialog", name="「障害」の復旧")
    # The two events and hookline.delivery.exhausted.
    expect(progress.get_by_role("status")).to_have_text("完了: 3 件のイベントを確認しました。")
    expect(progress).to_contain_text("2 件の配信をキューに追加しました。")
    progress.get_by_role("button", name="閉じる").click()
    expect(progress).to_be_hidden()
