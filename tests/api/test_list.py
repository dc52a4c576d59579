"""GET /api/v1/webhooks: every filter, the envelope, and the 400s of bad query values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.helpers import (
    APP_CREATED,
    APP_DELETED,
    APP_RELOADED,
    WEBHOOKS,
    assert_error,
    create,
    listed_ids,
)
from tests.servers import Client, RunningServer


@dataclass
class Population:
    """One tenant's webhooks, made once per backend, that the filter tests read."""

    admin: Client
    ids: dict[str, str]  # short name -> webhook id
    webhooks: list[dict[str, Any]]  # as they stand after setup


@pytest.fixture(scope="module")
def population(server: RunningServer) -> Population:
    tenant = server.new_tenant()
    alice = tenant.client("tenant-admin", "alice")
    amy = tenant.client("tenant-admin", "amy")
    bob = tenant.client("user", "bob")
    carol = tenant.client("user", "carol")
    made = {
        "alpha": create(
            alice,
            name="Alpha Orders",
            url="https://hooks.example.com/orders",
            eventTypes=[APP_CREATED, APP_RELOADED],
        ),
        "alphabet": create(
            alice,
            name="alphabet soup",
            url="https://HOOKS.Example.com/Soup",
            eventTypes=[APP_CREATED],
            enabled=False,
            origin="automations",
        ),
        "beta": create(
            amy,
            name="Beta",
            url="https://beta.example.org/x",
            eventTypes=[APP_RELOADED, APP_DELETED],
            origin="management-console",
        ),
        "bob": create(
            bob,
            name="Bob's 100% hook",
            url="https://bob.example.net/100",
            eventTypes=[APP_CREATED, APP_RELOADED],
            level="user",
        ),
        "carol": create(
            carol,
            name="carol_hook",
            url="https://carol.example.net/c",
            eventTypes=[APP_RELOADED],
            level="user",
            origin="automations",
        ),
        "for-bob": create(alice, name="for bob", level="user", ownerId="bob"),
    }
    ids = {short: webhook["id"] for short, webhook in made.items()}
    patched = alice.patch(
        f"{WEBHOOKS}/{ids['carol']}", json=[{"op": "replace", "path": "/enabled", "value": False}]
    )
    assert patched.status_code == 204, patched.text
    webhooks = alice.get(WEBHOOKS, params={"limit": 100}).json()["data"]
    return Population(alice, ids, webhooks)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"alpha", "alphabet", "beta", "bob", "carol", "for-bob"}),
        ({"name": "ALPHA"}, {"alpha", "alphabet"}),
        ({"name": "alphabet soup"}, {"alphabet"}),
        ({"name": "100%"}, {"bob"}),
        ({"name": "%"}, {"bob"}),
        ({"name": "_"}, {"carol"}),
        ({"name": "'"}, {"bob"}),
        ({"name": "no such"}, set()),
        ({"name": "*"}, {"alpha", "alphabet", "beta", "bob", "carol", "for-bob"}),
        ({"name": "*o*"}, {"alpha", "alphabet", "bob", "carol", "for-bob"}),
        ({"name": "*O*"}, {"alpha", "alphabet", "bob", "carol", "for-bob"}),
        ({"name": "alpha*"}, {"alpha", "alphabet"}),
        ({"name": "b*"}, {"beta", "bob"}),
        ({"name": "*HOOK"}, {"bob", "carol"}),
        ({"name": "*_hook"}, {"carol"}),
        ({"name": "*% hook"}, {"bob"}),
        ({"name": "*%*"}, {"bob"}),
        ({"name": "alpha*SOUP"}, {"alphabet"}),
        ({"name": "b*b"}, set()),
        ({"name": "orders*"}, set()),
        ({"url": "https://*.example.net/*"}, {"bob", "carol"}),
        ({"url": "*/SOUP"}, {"alphabet"}),
        ({"url": "*.com/*"}, {"alpha", "alphabet", "for-bob"}),
        ({"url": "example.COM"}, {"alpha", "alphabet", "for-bob"}),
        ({"url": "/soup"}, {"alphabet"}),
        ({"url": "example.net"}, {"bob", "carol"}),
        ({"enabled": "true"}, {"alpha", "beta", "bob", "for-bob"}),
        ({"enabled": "True"}, {"alpha", "beta", "bob", "for-bob"}),
        ({"enabled": "TRUE"}, {"alpha", "beta", "bob", "for-bob"}),
        ({"enabled": "false"}, {"alphabet", "carol"}),
        ({"enabled": "FALSE"}, {"alphabet", "carol"}),
        ({"enabled": "False"}, {"alphabet", "carol"}),
        ({"eventTypes": APP_CREATED}, {"alpha", "alphabet", "bob", "for-bob"}),
        ({"eventTypes": f"{APP_CREATED},{APP_RELOADED}"}, {"alpha", "bob"}),
        ({"eventTypes": f"{APP_CREATED}, {APP_RELOADED}"}, {"alpha", "bob"}),
        ({"eventTypes": f"{APP_RELOADED},{APP_DELETED}"}, {"beta"}),
        ({"eventTypes": f"{APP_CREATED},{APP_DELETED}"}, set()),
        ({"eventTypes": f"{APP_CREATED},{APP_CREATED}"}, {"alpha", "alphabet", "bob", "for-bob"}),
        ({"eventTypes": "com.example.unknown"}, set()),
        ({"eventTypes": f"{APP_RELOADED},com.example.unknown"}, set()),
        ({"eventTypes": APP_CREATED, "eventType": APP_RELOADED}, {"alpha", "bob"}),
        ({"eventType": APP_DELETED}, {"beta"}),
        ({"eventType": APP_RELOADED}, {"alpha", "beta", "bob", "carol"}),
        ({"level": "user"}, {"bob", "carol", "for-bob"}),
        ({"level": "tenant"}, {"alpha", "alphabet", "beta"}),
        ({"origins": "api"}, {"alpha", "bob", "for-bob"}),
        ({"origins": "automations"}, {"alphabet", "carol"}),
        ({"origins": "automations,management-console"}, {"alphabet", "beta", "carol"}),
        ({"origins": "management-console, api"}, {"alpha", "beta", "bob", "for-bob"}),
        ({"ownerId": "bob"}, {"bob", "for-bob"}),
        ({"ownerId": "amy"}, {"beta"}),
        ({"ownerId": "nobody"}, set()),
        ({"createdByUserId": "alice"}, {"alpha", "alphabet", "for-bob"}),
        ({"createdByUserId": "carol"}, {"carol"}),
        ({"updatedByUserId": "alice"}, {"alpha", "alphabet", "carol", "for-bob"}),
        ({"updatedByUserId": "carol"}, set()),
        ({"level": "user", "enabled": "true"}, {"bob", "for-bob"}),
        ({"name": "a", "origins": "automations", "eventTypes": APP_RELOADED}, {"carol"}),
    ],
)
def test_list_filter_selects_the_matching_webhooks(
    population: Population, params: dict[str, str], expected: set[str]
) -> None:
    found = listed_ids(population.admin, **params)

    assert sorted(found) == sorted(population.ids[short] for short in expected)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            [("origins", "automations"), ("origins", "management-console")],
            {"alphabet", "beta", "carol"},
        ),
        ([("origins", "api"), ("origins", "automations,management-console")], None),
        ([("eventTypes", APP_CREATED), ("eventTypes", APP_RELOADED)], {"alpha", "bob"}),
        ([("eventTypes", APP_RELOADED), ("eventTypes", APP_DELETED)], {"beta"}),
        ([("eventType", APP_RELOADED), ("eventType", APP_DELETED)], {"beta"}),
        (
            [("eventTypes", APP_CREATED), ("eventType", APP_RELOADED), ("eventTypes", "")],
            {"alpha", "bob"},
        ),
    ],
)
def test_list_filters_given_repeated_take_every_value(
    population: Population, params: list[tuple[str, str]], expected: set[str] | None
) -> None:
    """``origins=a&origins=b`` is ``origins=a,b`` (Qlik clients repeat array parameters),
    not the last value alone."""
    response = population.admin.get(WEBHOOKS, params=[("limit", "100"), *params])

    assert response.status_code == 200, response.text
    found = {item["id"] for item in response.json()["data"]}
    everyone = set(population.ids)
    assert found == {population.ids[short] for short in expected or everyone}


def test_list_defaults_to_newest_first(population: Population) -> None:
    response = population.admin.get(WEBHOOKS)

    assert response.status_code == 200
    data = response.json()["data"]
    newest_first = sorted(data, key=lambda w: (w["createdAt"], w["id"]), reverse=True)
    assert [w["id"] for w in data] == [w["id"] for w in newest_first]


def test_list_items_are_whole_webhooks_as_get_shows_them(population: Population) -> None:
    for webhook in population.webhooks:
        got = population.admin.get(f"{WEBHOOKS}/{webhook['id']}")
        assert got.json() == webhook


def test_list_envelope_has_data_and_links_with_self(population: Population) -> None:
    response = population.admin.get(WEBHOOKS, params={"name": "alpha", "limit": 5})

    body = response.json()
    assert set(body) == {"data", "links"}
    assert body["links"]["self"]["href"] == str(response.request.url)
    assert body["links"].get("next") is None
    assert body["links"].get("prev") is None


def test_plus_left_unencoded_in_sort_means_ascending(population: Population) -> None:
    raw = population.admin.get(f"{WEBHOOKS}?sort=+name")
    encoded = population.admin.get(WEBHOOKS, params={"sort": "+name"})

    assert raw.status_code == 200, raw.text
    assert [w["id"] for w in raw.json()["data"]] == [w["id"] for w in encoded.json()["data"]]
    names = [w["name"].lower() for w in encoded.json()["data"]]
    assert names == sorted(names)


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(population: Population, limit: int) -> None:
    response = population.admin.get(WEBHOOKS, params={"limit": limit})

    assert response.status_code == 200
    assert len(response.json()["data"]) == min(limit, len(population.ids))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"sort": "bogus"}, "sort"),
        ({"sort": "--name"}, "sort"),
        ({"sort": "+-name"}, "sort"),
        ({"sort": "name-"}, "sort"),
        ({"sort": "Name"}, "sort"),
        ({"sort": "id"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"origins": "bogus"}, "origins"),
        ({"origins": "api,bogus"}, "origins"),
        ({"level": "org"}, "level"),
        ({"enabled": "maybe"}, "enabled"),
        ({"next": "garbage!"}, "next"),
        ({"prev": "garbage!"}, "prev"),
        ({"next": "e30"}, "next"),  # base64url of {}
        ({"next": "WzEsMiwzLDRd"}, "next"),  # base64url of [1,2,3,4]
        ({"next": "a", "prev": "b"}, "next"),
    ],
)
def test_invalid_query_value_is_a_400_naming_the_parameter(
    population: Population, params: dict[str, str], parameter: str
) -> None:
    response = population.admin.get(WEBHOOKS, params=params)

    assert_error(response, 400, code="invalid-input", parameter=parameter)


def test_links_are_built_from_the_request_without_a_public_url(population: Population) -> None:
    response = population.admin.get(WEBHOOKS, params={"limit": 5}, headers={"Host": "h.test:81"})

    assert response.json()["links"]["self"]["href"] == "http://h.test:81/api/v1/webhooks?limit=5"


def test_links_and_redirects_use_the_public_url_whatever_the_host_header(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(public_url="https://hooks.example.com/")
    admin = server.new_tenant().client()
    create(admin)
    create(admin)
    forged = {"Host": "evil.example", "X-Forwarded-Proto": "http"}

    page = admin.get(WEBHOOKS, params={"limit": 1}, headers=forged).json()
    redirect = admin.get(f"{WEBHOOKS}/", headers=forged, follow_redirects=False)

    assert page["links"]["self"]["href"] == "https://hooks.example.com/api/v1/webhooks?limit=1"
    assert page["links"]["next"]["href"].startswith("https://hooks.example.com/api/v1/webhooks?")
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == "https://hooks.example.com/api/v1/webhooks"
