"""Creating, editing, enabling, disabling and deleting webhooks in the console; names shown
as text; dialogs and menus by keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, expect

from tests.console.conftest import Console
from tests.delivery.receivers import Reply

SECRET = "0123456789abcdef0123456789abcdef"


def test_create_new_makes_an_enabled_webhook_from_the_dialog(console: Console) -> None:
    console.open()
    page = console.page
    page.get_by_role("button", name="Create new").click()
    dialog = console.dialog("Create webhook")
    dialog.get_by_label("Name", exact=True).fill("Deploys")
    dialog.get_by_label("Description").fill("Tell the deploy bot")
    dialog.get_by_label("URL").fill("https://deploys.example.com/in")
    dialog.get_by_label("Secret", exact=True).fill(SECRET)
    dialog.get_by_role("button", name="Add header").click()
    dialog.get_by_label("Header name").fill("X-Team")
    dialog.get_by_label("Header value").fill("blue")
    dialog.get_by_role("group", name="App").get_by_label("App published").check()
    dialog.get_by_role("group", name="User").get_by_label("User deleted").check()
    dialog.get_by_role("button", name="Create").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text("Webhook “Deploys” created.")
    row = console.row("Deploys")
    expect(row).to_contain_text("https://deploys.example.com/in")
    expect(row).to_contain_text("App published")
    expect(row).to_contain_text("User deleted")
    expect(row).to_contain_text("Enabled")
    [created] = console.api.get("/api/v1/webhooks").json()["data"]
    assert created["origin"] == "management-console"
    assert created["description"] == "Tell the deploy bot"
    assert created["headers"] == {"X-Team": "blue"}
    assert created["secretKeyAdded"] is True
    assert created["enabled"] is True
    assert created["eventTypes"] == ["com.qlik.v1.app.published", "com.qlik.v1.user.deleted"]


def test_the_apis_validation_errors_show_next_to_their_fields(console: Console) -> None:
    console.open()
    console.page.get_by_role("button", name="Create new").click()
    dialog = console.dialog("Create webhook")
    dialog.get_by_label("Name", exact=True).fill("Bad")
    dialog.get_by_label("URL").fill("http://10.0.0.1/in")
    dialog.get_by_role("button", name="Add header").click()
    dialog.get_by_label("Header name").fill("Host")
    dialog.get_by_label("Header value").fill("elsewhere")
    dialog.get_by_role("button", name="Create").click()

    url = dialog.get_by_label("URL")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(url).to_have_accessible_description(re.compile("url must use https"))
    expect(url).to_be_focused()
    headers = dialog.get_by_role("group", name="Headers")
    expect(headers).to_contain_text("Host is set by hookline")
    events = dialog.get_by_role("group", name="Events")
    expect(events).to_contain_text("eventTypes must name at least one event type")
    expect(dialog.get_by_label("Name", exact=True)).not_to_have_attribute("aria-invalid", "true")

    url.fill("https://fixed.example.com/in")
    dialog.get_by_role("button", name="Remove header").click()
    dialog.get_by_label("App created").check()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    expect(console.row("Bad")).to_be_visible()


def test_an_error_that_names_no_field_shows_at_the_top_of_the_dialog(console: Console) -> None:
    hook = console.webhook("Sealed", encryptedHeaders={"X-Token": "t0p"})
    console.open()
    console.options("Sealed").get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    expect(panel).to_contain_text("Encrypted headers (managed through the API): X-Token")
    panel.get_by_label("URL").fill("https://moved.example.com/in")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_role("alert")).to_contain_text(
        "encryptedHeaders must be re-entered or removed when the url changes"
    )
    assert console.get(hook["id"])["url"] == "https://hooks.example.com/in"


def test_the_options_menu_disables_and_enables_a_webhook(console: Console) -> None:
    hook = console.webhook("Toggle me")
    console.open()
    console.options("Toggle me").get_by_role("menuitem", name="Disable webhook").click()
    expect(console.row("Toggle me")).to_contain_text("Disabled")
    assert console.get(hook["id"])["enabled"] is False

    console.options("Toggle me").get_by_role("menuitem", name="Enable webhook").click()
    expect(console.row("Toggle me")).to_contain_text("Enabled")
    assert console.get(hook["id"])["enabled"] is True


def test_a_webhook_disabled_by_hookline_shows_why(console: Console) -> None:
    console.receiver.script("/gone", Reply(410))
    hook = console.webhook("Gone", url=console.receiver_url("/gone"))
    console.publish({"type": "com.qlik.v1.app.created", "data": {"id": "app-1"}})
    console.settled(hook["id"], 1)
    reason = console.get(hook["id"])["disabledReason"]
    assert reason
    console.open()
    expect(console.row("Gone")).to_contain_text("Disabled")
    expect(console.row("Gone")).to_contain_text(reason)


def test_edit_saves_changes_and_keeps_the_secret_unless_removed(console: Console) -> None:
    hook = console.webhook("Before", secret=SECRET, headers={"X-Old": "1"})
    console.open()
    console.options("Before").get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    expect(panel.get_by_label("Name", exact=True)).to_have_value("Before")
    expect(panel).to_contain_text("A secret is set. Leave the field empty to keep it.")
    expect(panel.get_by_label("Secret", exact=True)).to_have_value("")
    panel.get_by_label("Name", exact=True).fill("After")
    panel.get_by_label("Header value").fill("2")
    panel.get_by_label("App created").uncheck()
    panel.get_by_label("App exported").check()
    panel.get_by_role("button", name="Save").click()

    expect(panel).to_be_hidden()
    expect(console.row("After")).to_contain_text("App exported")
    saved = console.get(hook["id"])
    assert saved["name"] == "After"
    assert saved["headers"] == {"X-Old": "2"}
    assert saved["eventTypes"] == ["com.qlik.v1.app.exported"]
    assert saved["secretKeyAdded"] is True

    console.options("After").get_by_role("menuitem", name="Edit").click()
    panel.get_by_label("Remove secret").check()
    expect(panel.get_by_label("Secret", exact=True)).to_be_disabled()
    panel.get_by_role("button", name="Save").click()
    expect(panel).to_be_hidden()
    assert console.get(hook["id"])["secretKeyAdded"] is False

    console.options("After").get_by_role("menuitem", name="Edit").click()
    expect(panel).to_contain_text("No secret is set.")
    panel.get_by_label("Secret", exact=True).fill("another-secret-of-32-characters!")
    panel.get_by_role("button", name="Save").click()
    expect(panel).to_be_hidden()
    assert console.get(hook["id"])["secretKeyAdded"] is True


def test_delete_asks_first_naming_what_it_deletes(console: Console) -> None:
    keep = console.webhook("Keep")
    console.webhook("Drop one")
    console.webhook("Drop two")
    console.open()
    page = console.page
    page.get_by_label("Select Drop one").check()
    page.get_by_label("Select Drop two").check()
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm = console.dialog("Delete webhooks")
    expect(confirm).to_contain_text("Delete these 2 webhooks?")
    expect(confirm.get_by_role("listitem")).to_have_text(["Drop two", "Drop one"])
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(console.names()).to_have_count(3)

    page.get_by_role("button", name="Delete", exact=True).click()
    confirm.get_by_role("button", name="Delete").click()
    expect(confirm).to_be_hidden()
    expect(console.names()).to_have_text(["Keep"])
    expect(page.get_by_role("status")).to_have_text("2 webhooks deleted.")
    [left] = console.api.get("/api/v1/webhooks").json()["data"]
    assert left["id"] == keep["id"]

    console.options("Keep").get_by_role("menuitem", name="Delete").click()
    expect(confirm).to_contain_text("Delete this webhook?")
    confirm.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No webhooks yet.")).to_be_visible()


def test_markup_in_names_and_values_is_shown_as_text(console: Console) -> None:
    script = "<script>alert(1)</script>"
    image = "<img src=x onerror=alert(2)>"
    console.webhook(script, description=image, headers={"X-Html": "<b>bold</b>"})
    console.webhook(image, description=script)
    alerts: list[str] = []

    def record(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    console.page.on("dialog", record)
    console.open()
    page = console.page

    expect(console.names()).to_have_text([image, script])
    expect(console.row(script)).to_contain_text(image)
    page.get_by_label(f"Select {script}").check()
    page.get_by_label(f"Select {image}").check()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(console.dialog("Delete webhooks").get_by_role("listitem")).to_have_text([image, script])
    page.keyboard.press("Escape")
    console.options(script).get_by_role("menuitem", name="Edit").click()
    panel = console.dialog("Edit webhook")
    expect(panel.get_by_label("Name", exact=True)).to_have_value(script)
    expect(panel.get_by_label("Header value")).to_have_value("<b>bold</b>")

    expect(page.locator("img[src=x], b, tbody script")).to_have_count(0)
    assert alerts == []


def test_escape_closes_dialogs_and_menus_and_focus_returns(console: Console) -> None:
    console.webhook("Keys")
    console.open()
    page = console.page
    create = page.get_by_role("button", name="Create new")
    create.click()
    dialog = console.dialog("Create webhook")
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Create")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(create).to_be_focused()

    options = console.row("Keys").get_by_role("button", name="Options")
    options.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu")
    expect(options).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("menuitem", name="Edit")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Send test event")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Disable webhook")).to_be_focused()
    page.keyboard.press("End")
    expect(menu.get_by_role("menuitem", name="Delete")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Edit")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(options).to_be_focused()
    expect(options).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    panel = console.dialog("Edit webhook")
    expect(panel.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(options).to_be_focused()


def test_a_user_key_creates_its_own_user_level_webhook(console: Console) -> None:
    user_key = console.tenant.key("user", "dana")
    page = console.page
    page.goto(f"{console.server.url}/console")
    page.get_by_label("API key").fill(user_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Create new").click()
    dialog = console.dialog("Create webhook")
    expect(dialog.get_by_label("App deleted")).to_have_count(0)  # a tenant-level type
    dialog.get_by_label("Name", exact=True).fill("Mine")
    dialog.get_by_label("URL").fill("https://mine.example.com/in")
    dialog.get_by_label("App created").check()
    dialog.get_by_role("button", name="Create").click()

    expect(dialog).to_be_hidden()
    expect(console.row("Mine")).to_contain_text("dana")
    [created] = console.server.client(user_key).get("/api/v1/webhooks").json()["data"]
    assert (created["level"], created["ownerId"]) == ("user", "dana")
