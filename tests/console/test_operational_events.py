"""hookline's operational events in the console's event-type picker, in English and
Japanese: a tenant admin subscribes a webhook to them like to any other type."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.conftest import Console

OPERATIONAL = {
    "hookline.webhook.disabled": ("Webhook disabled", "Webhook 無効化済み"),
    "hookline.delivery.exhausted": ("Delivery retries exhausted", "配信の再試行切れ"),
    "hookline.webhook.recovered": ("Webhook recovered", "Webhook 回復済み"),
}


def test_a_tenant_admin_subscribes_to_the_operational_events(console: Console) -> None:
    console.open()
    console.page.get_by_role("button", name="Create new").click()
    dialog = console.dialog("Create webhook")
    dialog.get_by_label("Name", exact=True).fill("On call")
    dialog.get_by_label("URL").fill("https://pager.example.com/in")
    group = dialog.get_by_role("group", name="Webhook", exact=True)
    expect(group.get_by_role("checkbox")).to_have_count(len(OPERATIONAL))
    for english, _ in OPERATIONAL.values():
        expect(group.get_by_label(english)).to_be_visible()
    group.get_by_label("Delivery retries exhausted").check()
    group.get_by_label("Webhook recovered").check()
    dialog.get_by_role("button", name="Create").click()

    expect(dialog).to_be_hidden()
    row = console.row("On call")
    expect(row).to_contain_text("Delivery retries exhausted")
    expect(row).to_contain_text("Webhook recovered")
    [created] = console.api.get("/api/v1/webhooks").json()["data"]
    assert created["eventTypes"] == ["hookline.delivery.exhausted", "hookline.webhook.recovered"]


def test_the_operational_events_in_japanese(console: Console) -> None:
    console.webhook("当番", eventTypes=["hookline.delivery.exhausted"])
    console.open()
    page = console.page
    page.get_by_label("Language").select_option("ja")
    expect(console.page.get_by_role("row").filter(has_text="当番")).to_contain_text(
        "配信の再試行切れ"
    )
    page.get_by_role("button", name="新規作成").click()
    dialog = page.get_by_role("dialog", name="Webhook の作成")
    group = dialog.get_by_role("group", name="Webhook", exact=True)
    expect(group.get_by_role("checkbox")).to_have_count(len(OPERATIONAL))
    for _, japanese in OPERATIONAL.values():
        expect(group.get_by_label(japanese)).to_be_visible()
    expect(group.get_by_label("配信の再試行切れ")).to_have_attribute(
        "value", "hookline.delivery.exhausted"
    )
