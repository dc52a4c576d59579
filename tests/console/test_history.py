"""A webhook's delivery history under its row: real deliveries, their payloads, resend."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.conftest import Console
from tests.delivery.receivers import Reply

APP_CREATED = "com.qlik.v1.app.created"


def test_history_shows_a_real_delivery_its_payload_and_resends_it(console: Console) -> None:
    path = "/history-resend"
    hook = console.webhook(
        "Delivered",
        url=console.receiver_url(path),
        headers={"X-Team": "blue"},
        encryptedHeaders={"X-Token": "t0p-secret"},
    )
    console.publish({"type": APP_CREATED, "data": {"id": "app-7", "name": "Sales"}})
    console.settled(hook["id"], 1)
    console.open()
    page = console.page

    toggle = console.row("Delivered").get_by_role("button", name="Show history")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    history = page.get_by_role("region", name="History: Delivered")
    deliveries = history.get_by_role("row").filter(has=page.get_by_role("button", name="Resend"))
    expect(deliveries).to_have_count(1)
    expect(deliveries).to_contain_text("Success")
    expect(deliveries).to_contain_text("App created")
    expect(deliveries).to_contain_text("200")

    history.get_by_role("button", name="Show details").click()
    details = history.locator("tr.details")
    expect(details).to_contain_text('"eventType": "com.qlik.v1.app.created"')
    expect(details).to_contain_text('"name": "Sales"')
    expect(details).to_contain_text("X-Team: blue")
    expect(details).to_contain_text("X-Token: **OMITTED**")
    expect(details).not_to_contain_text("t0p-secret")
    expect(details).to_contain_text("ok")

    history.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status")).to_have_text("Delivery resent.")
    expect(deliveries).to_have_count(2)
    assert len(console.receiver.received(path)) == 2

    toggle.click()
    expect(history).to_be_hidden()


def test_history_filters_by_status_and_pages(console: Console) -> None:
    path = "/history-pages"
    console.receiver.script(path, Reply(200), Reply(410))
    hook = console.webhook("Busy", url=console.receiver_url(path))
    console.publish(*({"type": APP_CREATED, "data": {"n": n}} for n in range(11)))
    console.settled(hook["id"], 11)
    console.open()
    page = console.page

    console.row("Busy").get_by_role("button", name="Show history").click()
    history = page.get_by_role("region", name="History: Busy")
    deliveries = history.locator("tbody > tr:not(.details)")
    expect(deliveries).to_have_count(10)
    history.get_by_role("button", name="Next").click()
    expect(deliveries).to_have_count(1)
    history.get_by_role("button", name="Previous").click()
    expect(deliveries).to_have_count(10)

    history.get_by_label("Delivery status").select_option(label="Success")
    expect(deliveries).to_have_count(1)
    expect(deliveries).to_contain_text("Success")
    history.get_by_label("Delivery status").select_option(label="Pending")
    expect(history).to_contain_text("No deliveries with this status in the last 7 days")


def test_a_webhook_without_deliveries_says_so(console: Console) -> None:
    console.webhook("Quiet")
    console.open()
    console.row("Quiet").get_by_role("button", name="Show history").click()
    region = console.page.get_by_role("region", name="History: Quiet")
    expect(region).to_contain_text("No deliveries in the last 7 days")
