"""Rotating a webhook's secret from the edit panel, in English and Japanese: the dialog, the
API's errors in place, the generated secret shown once with a copy button, and the time
until which the previous secret signs too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.console.conftest import Console

SECRET = "a-secret-of-at-least-32-characters!!"
NEW_SECRET = "the-new-secret-of-32-characters!!!"


def _edit(console: Console, name: str) -> None:
    console.options(name).get_by_role("menuitem", name="Edit").click()
    expect(console.dialog("Edit webhook")).to_be_visible()


def test_rotating_with_a_generated_secret_shows_it_once_and_copies_it(console: Console) -> None:
    hook = console.webhook("Rotating", secret=SECRET)
    console.page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=console.server.url
    )
    console.open()
    _edit(console, "Rotating")
    panel = console.dialog("Edit webhook")
    expect(panel.locator(".rotation__state")).to_be_hidden()

    rotate = panel.get_by_role("button", name="Rotate secret")
    rotate.click()
    dialog = console.dialog("Rotate secret")
    expect(dialog.get_by_label("New secret")).to_be_focused()
    expect(dialog.get_by_label("Grace period")).to_have_value("86400")
    expect(dialog).to_contain_text("Qlik-Signature holds the new secret's signature only.")
    dialog.get_by_role("button", name="Rotate", exact=True).click()

    shown = console.dialog("New secret")
    secret_field = shown.get_by_label("New secret")
    expect(secret_field).to_be_focused()
    generated = secret_field.input_value()
    assert len(generated) == 48
    expect(shown).to_contain_text("it is not shown again")
    expect(shown).to_contain_text("The previous secret also signs deliveries until")
    expect(shown.get_by_role("button", name="Cancel")).to_have_count(0)
    shown.get_by_role("button", name="Copy").click()
    expect(shown).to_contain_text("Copied to the clipboard.")
    assert console.page.evaluate("navigator.clipboard.readText()") == generated
    shown.get_by_role("button", name="Done").click()

    expect(shown).to_be_hidden()
    expect(rotate).to_be_focused()
    state = panel.locator(".rotation__state")
    expect(state).to_contain_text("The previous secret also signs deliveries until")
    until = console.get(hook["id"])["secretRotatingUntil"]
    in_a_day = datetime.fromisoformat(until.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(hours=23) < in_a_day <= timedelta(days=1, seconds=1)
    assert generated not in console.page.content()  # gone with its dialog

    panel.get_by_role("button", name="Cancel").click()
    expect(panel).to_be_hidden()
    expect(console.page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")


def test_a_given_secret_without_grace_replaces_it_and_shows_no_secret(console: Console) -> None:
    hook = console.webhook("No grace", secret=SECRET)
    console.open()
    _edit(console, "No grace")
    panel = console.dialog("Edit webhook")
    panel.get_by_role("button", name="Rotate secret").click()
    dialog = console.dialog("Rotate secret")
    dialog.get_by_label("New secret").fill(NEW_SECRET)
    dialog.get_by_label("Grace period").select_option(label="None: replace the secret now")
    dialog.get_by_role("button", name="Rotate", exact=True).click()

    expect(dialog).to_be_hidden()
    expect(console.dialog("New secret")).to_have_count(0)
    expect(console.page.get_by_role("status").first).to_contain_text(
        "Secret of “No grace” rotated."
    )
    expect(panel.locator(".rotation__state")).to_be_hidden()
    assert console.get(hook["id"])["secretRotatingUntil"] is None


def test_a_webhook_without_a_secret_gets_one_and_the_panel_says_so(console: Console) -> None:
    console.webhook("Unsigned")
    console.open()
    _edit(console, "Unsigned")
    panel = console.dialog("Edit webhook")
    expect(panel).to_contain_text("No secret is set.")
    panel.get_by_role("button", name="Rotate secret").click()
    dialog = console.dialog("Rotate secret")
    dialog.get_by_label("New secret").fill(NEW_SECRET)
    dialog.get_by_role("button", name="Rotate", exact=True).click()

    expect(dialog).to_be_hidden()
    expect(panel).to_contain_text("A secret is set. Leave the field empty to keep it.")
    expect(panel.locator(".rotation__state")).to_be_hidden()  # nothing old to keep


def test_the_apis_error_shows_under_the_secret(console: Console) -> None:
    hook = console.webhook("Short", secret=SECRET)
    console.open()
    _edit(console, "Short")
    console.dialog("Edit webhook").get_by_role("button", name="Rotate secret").click()
    dialog = console.dialog("Rotate secret")
    dialog.get_by_label("New secret").fill("too-short")
    dialog.get_by_role("button", name="Rotate", exact=True).click()

    field = dialog.get_by_label("New secret")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    expect(dialog).to_contain_text("secret must be 32 to 64 characters long")
    expect(dialog.get_by_role("alert")).to_be_hidden()  # placed, so nothing at the top
    assert console.get(hook["id"]) == hook

    page = console.page
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(console.dialog("Edit webhook")).to_be_visible()  # Escape closes the top one only
    expect(
        console.dialog("Edit webhook").get_by_role("button", name="Rotate secret")
    ).to_be_focused()


def test_the_panel_shows_a_running_rotation(console: Console) -> None:
    hook = console.webhook("Already rotating", secret=SECRET)
    response = console.api.post(
        f"/api/v1/webhooks/{hook['id']}/actions/rotate-secret",
        json={"secret": NEW_SECRET, "graceSeconds": 3600},
    )
    assert response.status_code == 200, response.text
    console.open()
    _edit(console, "Already rotating")

    expect(console.dialog("Edit webhook").locator(".rotation__state")).to_contain_text(
        "The previous secret also signs deliveries until"
    )


def test_rotating_in_japanese(console: Console) -> None:
    console.webhook("ローテーション", secret=SECRET)
    page = console.page
    console.open()
    page.get_by_label("Language").select_option("ja")
    expect(page.get_by_role("button", name="新規作成")).to_be_visible()
    expect(page.locator("table.webhooks")).not_to_have_attribute("aria-busy", "true")
    select = page.get_by_role("checkbox", name="ローテーション を選択", exact=True)
    page.get_by_role("row").filter(has=select).get_by_role("button", name="オプション").click()
    page.get_by_role("menuitem", name="編集").click()
    panel = page.get_by_role("dialog", name="Webhook の編集")

    panel.get_by_role("button", name="シークレットをローテーション").click()
    dialog = page.get_by_role("dialog", name="シークレットのローテーション")
    expect(dialog).to_contain_text("猶予期間中は以前のシークレットでも署名されるため")
    expect(dialog.get_by_label("新しいシークレット")).to_be_visible()
    grace = dialog.get_by_label("猶予期間")
    expect(grace.locator("option:checked")).to_have_text("1 日間")
    expect(grace.locator("option")).to_have_text(
        ["なし (すぐに置き換える)", "1 時間", "6 時間", "1 日間", "3 日間", "7 日間"]
    )
    dialog.get_by_role("button", name="ローテーション", exact=True).click()

    shown = page.get_by_role("dialog", name="新しいシークレット")
    expect(shown).to_contain_text("再度表示されることはありません")
    expect(shown.get_by_role("button", name="コピー")).to_be_visible()
    shown.get_by_role("button", name="完了").click()
    expect(panel.locator(".rotation__state")).to_contain_text(
        "までは以前のシークレットでも配信に署名します。"
    )
