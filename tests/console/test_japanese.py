"""The console in Japanese, with the reference page's terms; the choice is remembered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import Console
from tests.servers import RunningServer


def test_switching_to_japanese_translates_the_console_and_is_remembered(
    console: Console,
) -> None:
    console.webhook("注文")
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("button", name="新規作成")).to_be_visible()
    expect(page.get_by_role("button", name="削除", exact=True)).to_be_disabled()
    columns = ("名前", "URL", "イベント タイプ", "ステータス", "所有者", "作成日時", "更新日時")
    for column in columns:
        expect(page.get_by_role("columnheader", name=column)).to_be_visible()
    expect(page.get_by_label("名前 でフィルター")).to_be_visible()
    expect(page.get_by_label("完全一致")).to_be_visible()
    row = console.page.get_by_role("row").filter(has=page.get_by_label("注文 を選択"))
    expect(row).to_contain_text("作成済み")
    expect(row).to_contain_text("有効")

    row.get_by_role("button", name="オプション").click()
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem")).to_have_text(
        ["編集", "テスト イベントを送信", "Webhook の無効化", "配信の復旧", "削除"]
    )
    page.keyboard.press("Escape")
    row.get_by_role("button", name="履歴を表示").click()
    expect(page.get_by_text("過去 7 日間の配信はありません")).to_be_visible()

    page.reload()
    expect(page.get_by_role("button", name="新規作成")).to_be_visible()
    expect(page.get_by_label("言語")).to_have_value("ja")
    expect(page.get_by_role("button", name="サインアウト")).to_be_visible()


def test_the_create_dialog_in_japanese(console: Console) -> None:
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")
    page.get_by_role("button", name="新規作成").click()
    dialog = page.get_by_role("dialog", name="Webhook の作成")
    for label in ("名前", "説明", "URL", "シークレット"):
        expect(dialog.get_by_label(label, exact=True)).to_be_visible()
    expect(dialog.get_by_role("group", name="ヘッダー")).to_be_visible()
    events = dialog.get_by_role("group", name="イベント", exact=True)
    expect(events.get_by_role("group", name="アプリ").get_by_role("checkbox")).to_have_count(6)
    expect(events.get_by_role("group", name="ユーザー").get_by_label("削除済み")).to_be_visible()
    expect(dialog.get_by_role("button", name="作成", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="キャンセル").click()
    expect(dialog).to_be_hidden()


@pytest.fixture
def japanese_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    yield context.new_page()
    context.close()


def test_a_japanese_browser_gets_the_japanese_console(
    japanese_page: Page, hookline: RunningServer
) -> None:
    japanese_page.goto(f"{hookline.url}/console")
    expect(japanese_page.locator("html")).to_have_attribute("lang", "ja")
    expect(japanese_page.get_by_label("API キー")).to_be_focused()
    expect(japanese_page.get_by_role("button", name="サインイン")).to_be_visible()


def test_every_english_text_has_a_japanese_one(page: Page, hookline: RunningServer) -> None:
    page.goto(f"{hookline.url}/console")
    missing = page.evaluate(
        """async () => {
            const en = (await import("/console/assets/lang-en.js")).default;
            const ja = (await import("/console/assets/lang-ja.js")).default;
            // Japanese has no plural forms: its ".other" serves every count.
            const other = (key) => key.replace(/[.]one$/, ".other");
            const has = (key) => key in ja || other(key) in ja;
            return Object.keys(en).filter((key) => !has(key))
                .concat(Object.keys(ja).filter((key) => !(key in en)));
        }"""
    )
    assert missing == []
