"""A webhook's rate limit and delivery order in the create dialog and the edit panel, in
English and Japanese (hookline.pacing)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.conftest import Console


def test_creating_with_a_rate_limit_and_fifo_order(console: Console) -> None:
    console.open()
    page = console.page
    page.get_by_role("button", name="Create new").click()
    dialog = console.dialog("Create webhook")
    dialog.get_by_label("Name", exact=True).fill("Paced")
    dialog.get_by_label("URL", exact=True).fill("https://hooks.example.com/paced")
    dialog.get_by_label("App created").check()
    dialog.get_by_label("Rate limit").fill("20")
    dialog.get_by_label("Delivery order").select_option(
        label="One at a time, in publish order (FIFO)"
    )
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_hidden()

    [made] = console.api.get("/api/v1/webhooks").json()["data"]
    assert (made["rateLimit"], made["ordering"]) == (20, "fifo")


def test_the_edit_panel_changes_and_clears_them_and_shows_the_apis_error(
    console: Console,
) -> None:
    hook = console.webhook("Limited", rateLimit=5)
    console.open()
    console.options("Limited").get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    rate = panel.get_by_label("Rate limit")
    expect(rate).to_have_value("5")
    expect(panel.get_by_label("Delivery order")).to_have_value("none")

    rate.fill("0")
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".field__error:visible")).to_contain_text("1")
    expect(rate).to_have_attribute("aria-invalid", "true")

    rate.fill("")
    panel.get_by_label("Delivery order").select_option("fifo")
    panel.get_by_role("button", name="Save").click()
    expect(panel).to_be_hidden()
    shown = console.get(hook["id"])
    assert (shown["rateLimit"], shown["ordering"]) == (None, "fifo")


def test_the_fields_in_japanese(console: Console) -> None:
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")
    page.get_by_role("button", name="新規作成").click()
    dialog = page.get_by_role("dialog", name="Webhook の作成")
    expect(dialog.get_by_label("レート制限")).to_be_visible()
    order = dialog.get_by_label("配信順序")
    expect(order.locator("option")).to_have_text(
        ["期限が来た順に複数同時", "発行順に 1 件ずつ (FIFO)"]
    )
    expect(dialog).to_contain_text("制限を超えた配信はキューで待機します")
    dialog.get_by_role("button", name="キャンセル").click()
