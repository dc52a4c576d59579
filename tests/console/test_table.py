"""The webhook table: sorting by every column, filtering, paging and selection."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Console

APP_CREATED = "com.qlik.v1.app.created"
APP_PUBLISHED = "com.qlik.v1.app.published"
USER_DELETED = "com.qlik.v1.user.deleted"


def _three(console: Console) -> str:
    """bravo, Charlie and alpha, created in that order; then bravo updated, then Charlie
    disabled. Answers the year they were created."""
    bravo = console.webhook(
        "bravo",
        url="https://b.example.com/in",
        eventTypes=[APP_CREATED],
        ownerId=console.user("olivia"),
    )
    charlie = console.webhook(
        "Charlie",
        url="https://a.example.com/in",
        eventTypes=[APP_PUBLISHED],
        ownerId=console.user("mia"),
    )
    console.webhook(
        "alpha",
        url="https://c.example.com/in",
        eventTypes=[USER_DELETED],
        ownerId=console.user("noah"),
    )
    console.patch(bravo["id"], {"op": "replace", "path": "/description", "value": "edited"})
    console.patch(charlie["id"], {"op": "replace", "path": "/enabled", "value": False})
    return str(bravo["createdAt"])[:4]


@pytest.mark.parametrize(
    ("column", "ascending", "descending"),
    [
        ("Name", ["alpha", "bravo", "Charlie"], ["Charlie", "bravo", "alpha"]),
        ("URL", ["Charlie", "bravo", "alpha"], ["alpha", "bravo", "Charlie"]),
        ("Event types", ["bravo", "Charlie", "alpha"], ["alpha", "Charlie", "bravo"]),
        # enabled first; ties keep the API's order (newest first)
        ("Status", ["alpha", "bravo", "Charlie"], ["Charlie", "alpha", "bravo"]),
        ("Owner", ["Charlie", "alpha", "bravo"], ["bravo", "alpha", "Charlie"]),
        ("Created", ["bravo", "Charlie", "alpha"], ["alpha", "Charlie", "bravo"]),
        ("Updated", ["alpha", "bravo", "Charlie"], ["Charlie", "bravo", "alpha"]),
    ],
)
def test_clicking_a_header_sorts_by_its_column_both_ways(
    console: Console, column: str, ascending: list[str], descending: list[str]
) -> None:
    _three(console)
    console.open()
    header = console.page.get_by_role("columnheader", name=column)
    expect(console.names()).to_have_text(["alpha", "Charlie", "bravo"])  # newest first

    header.get_by_role("button").click()
    expect(console.names()).to_have_text(ascending)
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(header).to_contain_text("▲")

    header.get_by_role("button").click()
    expect(console.names()).to_have_text(descending)
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(header).to_contain_text("▼")
    expect(console.page.locator("th[aria-sort]")).to_have_count(1)


def test_name_and_url_filters_match_partly_or_exactly(console: Console) -> None:
    console.webhook("Orders", url="https://orders.example.com/in")
    console.webhook("Orders EU", url="https://eu.orders.example.com/in")
    console.webhook("Billing", url="https://billing.example.com/orders-copy")
    console.open()
    page = console.page

    page.get_by_label("Filter Name").fill("ORDERS")
    expect(console.names()).to_have_text(["Orders EU", "Orders"])
    page.get_by_label("Exact match").check()
    expect(console.names()).to_have_text(["Orders"])
    page.get_by_label("Filter Name").fill("")
    page.get_by_label("Exact match").uncheck()

    page.get_by_label("Filter URL").fill("orders")
    expect(console.names()).to_have_text(["Billing", "Orders EU", "Orders"])
    page.get_by_label("Filter URL").fill("https://orders.example.com/in")
    page.get_by_label("Exact match").check()
    expect(console.names()).to_have_text(["Orders"])

    page.get_by_label("Filter URL").fill("nothing-like-this")
    expect(page.get_by_text("No webhooks match the filters.")).to_be_visible()


def test_event_type_status_owner_and_date_filters(console: Console) -> None:
    year = _three(console)
    console.open()
    page = console.page

    page.get_by_label("Filter Event types").fill("publ")
    expect(console.names()).to_have_text(["Charlie"])
    page.get_by_label("Filter Event types").fill(USER_DELETED)
    expect(console.names()).to_have_text(["alpha"])
    page.get_by_label("Filter Event types").fill("")

    page.get_by_label("Filter Status").fill("disab")
    expect(console.names()).to_have_text(["Charlie"])
    page.get_by_label("Filter Status").fill("")

    page.get_by_label("Filter Owner").fill("o")
    expect(console.names()).to_have_text(["alpha", "bravo"])
    page.get_by_label("Exact match").check()
    page.get_by_label("Filter Owner").fill("mia")
    expect(console.names()).to_have_text(["Charlie"])
    page.get_by_label("Filter Owner").fill("")
    page.get_by_label("Exact match").uncheck()

    page.get_by_label("Filter Created").fill(year)
    expect(console.names()).to_have_count(3)
    page.get_by_label("Filter Updated").fill("1999")
    expect(console.names()).to_have_count(0)


def test_pages_follow_the_apis_links(console: Console) -> None:
    for number in range(12):
        console.webhook(f"hook {number:02}")
    console.open()
    page = console.page
    page.get_by_label("Rows per page").select_option("10")
    expect(console.names()).to_have_count(10)
    expect(console.names().first).to_have_text("hook 11")
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()

    page.get_by_role("button", name="Next").click()
    expect(console.names()).to_have_text(["hook 01", "hook 00"])
    expect(page.get_by_role("button", name="Next")).to_be_disabled()

    page.get_by_role("button", name="Previous").click()
    expect(console.names()).to_have_count(10)
    expect(console.names().first).to_have_text("hook 11")


def test_rows_are_selected_one_by_one_or_all_at_once(console: Console) -> None:
    console.webhook("one")
    console.webhook("two")
    console.open()
    page = console.page
    delete = page.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_be_disabled()

    page.get_by_label("Select one").check()
    expect(delete).to_be_enabled()
    expect(page.get_by_text("1 selected")).to_be_visible()
    page.get_by_label("Select all").check()
    expect(page.get_by_label("Select two")).to_be_checked()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_label("Select all").uncheck()
    expect(page.get_by_label("Select one")).not_to_be_checked()
    expect(delete).to_be_disabled()
