"""Cursor pagination of GET /api/v1/webhooks: following links.next / links.prev as given."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.helpers import WEBHOOKS, assert_error, create
from tests.servers import Client, RunningServer, Tenant

# Creation order; neither names nor URL paths are created in their sort order, and their
# letter case differs, so a case-sensitive sort would put them in another order.
NAMES = ["delta", "Alpha", "golf", "charlie", "Echo", "bravo", "Foxtrot"]
PATHS = ["Kilo", "mike", "Juliet", "lima", "Oscar", "november", "Papa"]
# Disabled webhooks between them, which the walks filter out (enabled=true).
DISABLED = {2: ("Bravissimo", "Lemon"), 5: ("eagle", "nectar")}
# Webhooks updated after all were created, in this order (the others keep updatedAt = createdAt).
UPDATE_ORDER = [4, 0, 6]
PAGE = 3


@dataclass
class Walkable:
    admin: Client
    webhooks: list[dict[str, Any]]  # the enabled ones, as they stand


@pytest.fixture(scope="module")
def walkable(server: RunningServer) -> Walkable:
    admin = server.new_tenant().client()
    made = []
    for index, (name, path) in enumerate(zip(NAMES, PATHS, strict=True)):
        made.append(create(admin, name=name, url=f"https://hooks.example.com/{path}"))
        if index in DISABLED:
            other, other_path = DISABLED[index]
            create(admin, name=other, url=f"https://hooks.example.com/{other_path}", enabled=False)
    for index in UPDATE_ORDER:
        change = [{"op": "replace", "path": "/description", "value": f"updated {index}"}]
        response = admin.patch(f"{WEBHOOKS}/{made[index]['id']}", json=change)
        assert response.status_code == 204, response.text
    current = [admin.get(f"{WEBHOOKS}/{webhook['id']}").json() for webhook in made]
    return Walkable(admin, current)


def expected_order(webhooks: list[dict[str, Any]], sort: str) -> list[str]:
    """Ids in ``sort`` order: text case-insensitively, ties (and times) broken by id."""
    key = sort.lstrip("+-")

    def sort_key(webhook: dict[str, Any]) -> tuple[str, str]:
        value = str(webhook[key])
        return (value.lower() if key in ("name", "url") else value, webhook["id"])

    ordered = sorted(webhooks, key=sort_key, reverse=sort.startswith("-"))
    return [webhook["id"] for webhook in ordered]


def link(page: dict[str, Any], name: str) -> str | None:
    found = page["links"].get(name)
    return None if found is None else str(found["href"])


def follow(client: Client, href: str) -> dict[str, Any]:
    assert httpx.URL(href).is_absolute_url, href
    response = client.get(href)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def walk(client: Client, params: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """The pages' ids going forward from the first page, then back from the last."""
    first = client.get(WEBHOOKS, params=params)
    assert first.status_code == 200, first.text
    forward = [first.json()]
    assert link(forward[0], "prev") is None
    while (href := link(forward[-1], "next")) is not None:
        kept = parse_qs(urlsplit(href).query)
        for name, value in params.items():
            assert kept[name] == [str(value)], href
        forward.append(follow(client, href))
        assert len(forward) <= 10, "the walk does not end"
    backward = [forward[-1]]
    while (href := link(backward[-1], "prev")) is not None:
        backward.append(follow(client, href))
        assert len(backward) <= 10, "the walk does not end"
    assert link(backward[-1], "prev") is None
    return [ids(page) for page in forward], [ids(page) for page in backward]


@pytest.mark.parametrize(
    "sort",
    [
        "name",
        "+name",
        "-name",
        "url",
        "+url",
        "-url",
        "createdAt",
        "+createdAt",
        "-createdAt",
        "updatedAt",
        "+updatedAt",
        "-updatedAt",
    ],
)
def test_walking_every_page_forward_and_back_keeps_the_sort_order(
    walkable: Walkable, sort: str
) -> None:
    expected = expected_order(walkable.webhooks, sort)

    forward, backward = walk(walkable.admin, {"sort": sort, "limit": PAGE, "enabled": "true"})

    assert [len(page) for page in forward] == [3, 3, 1]
    assert [item for page in forward for item in page] == expected
    assert backward == list(reversed(forward))


def test_walking_without_a_sort_follows_newest_first(walkable: Walkable) -> None:
    expected = expected_order(walkable.webhooks, "-createdAt")

    forward, backward = walk(walkable.admin, {"limit": PAGE, "enabled": "TRUE"})

    assert [item for page in forward for item in page] == expected
    assert backward == list(reversed(forward))


def test_middle_page_links_both_ways_and_the_last_has_no_next(walkable: Walkable) -> None:
    first = walkable.admin.get(WEBHOOKS, params={"sort": "name", "limit": PAGE}).json()
    assert link(first, "prev") is None
    middle = follow(walkable.admin, str(link(first, "next")))
    assert link(middle, "prev") is not None
    assert link(middle, "next") is not None
    last = middle
    while (href := link(last, "next")) is not None:
        last = follow(walkable.admin, href)
    assert link(last, "next") is None
    assert link(last, "prev") is not None


def test_self_link_of_a_followed_page_is_the_followed_url(walkable: Walkable) -> None:
    first = walkable.admin.get(WEBHOOKS, params={"sort": "-url", "limit": PAGE}).json()
    href = str(link(first, "next"))

    assert follow(walkable.admin, href)["links"]["self"]["href"] == href


def test_one_page_holds_everything_when_the_limit_allows(walkable: Walkable) -> None:
    page = walkable.admin.get(WEBHOOKS, params={"sort": "name", "enabled": "true"}).json()

    assert ids(page) == expected_order(walkable.webhooks, "name")
    assert link(page, "next") is None
    assert link(page, "prev") is None


def test_a_cursor_made_for_another_sort_is_a_400(walkable: Walkable) -> None:
    first = walkable.admin.get(WEBHOOKS, params={"sort": "name", "limit": PAGE}).json()
    cursor = parse_qs(urlsplit(str(link(first, "next"))).query)["next"][0]

    response = walkable.admin.get(WEBHOOKS, params={"sort": "-name", "next": cursor})

    assert_error(response, 400, parameter="next")


def test_default_page_size_is_20(tenant: Tenant) -> None:
    admin = tenant.client()
    for index in range(21):
        create(admin, name=f"hook {index:02}")

    first = admin.get(WEBHOOKS).json()

    assert len(first["data"]) == 20
    second = follow(admin, str(link(first, "next")))
    assert len(second["data"]) == 1
    assert link(second, "next") is None
    assert set(ids(first)).isdisjoint(ids(second))


def test_deleting_the_item_a_cursor_points_at_loses_nothing(tenant: Tenant) -> None:
    admin = tenant.client()
    made = [create(admin, name=name) for name in ("a", "b", "c", "d", "e")]
    first = admin.get(WEBHOOKS, params={"sort": "name", "limit": 2}).json()
    assert ids(first) == [made[0]["id"], made[1]["id"]]

    assert admin.delete(f"{WEBHOOKS}/{made[1]['id']}").status_code == 204
    second = follow(admin, str(link(first, "next")))

    assert ids(second) == [made[2]["id"], made[3]["id"]]


def test_a_forged_cursor_with_a_bad_time_is_a_400(tenant: Tenant) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(["-createdAt", "noon", "x", False]).encode())

    response = tenant.client().get(WEBHOOKS, params={"next": forged.decode()})

    assert_error(response, 400, parameter="next")
