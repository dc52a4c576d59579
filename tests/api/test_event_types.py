"""GET /api/v1/webhooks/event-types: the catalog, titled in English or Japanese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import WEBHOOKS, assert_error
from tests.servers import Client, Tenant

EVENT_TYPES = f"{WEBHOOKS}/event-types"
# name: (English title, Japanese title, levels, category)
CATALOG = {
    "com.qlik.v1.app.created": ("App created", "作成済み", ["tenant", "user"], "app"),
    "com.qlik.v1.app.deleted": ("App deleted", "削除済み", ["tenant"], "app"),
    "com.qlik.v1.app.data.updated": (
        "App data updated",
        "データ更新済み",
        ["tenant", "user"],
        "app",
    ),
    "com.qlik.v1.app.reload.finished": ("App reloaded", "リロード済み", ["tenant", "user"], "app"),
    "com.qlik.v1.app.published": ("App published", "公開済み", ["tenant", "user"], "app"),
    "com.qlik.v1.app.exported": ("App exported", "エクスポート済み", ["tenant", "user"], "app"),
    "com.qlik.v1.user.created": ("User created", "作成済み", ["tenant"], "user"),
    "com.qlik.v1.user.deleted": ("User deleted", "削除済み", ["tenant"], "user"),
    "hookline.webhook.disabled": (
        "Webhook disabled",
        "Webhook 無効化済み",
        ["tenant", "user"],
        "webhook",
    ),
    "hookline.delivery.exhausted": (
        "Delivery retries exhausted",
        "配信の再試行切れ",
        ["tenant", "user"],
        "webhook",
    ),
    "hookline.webhook.recovered": (
        "Webhook recovered",
        "Webhook 回復済み",
        ["tenant", "user"],
        "webhook",
    ),
}


def event_types(client: Client, language: str | None = None) -> dict[str, dict[str, Any]]:
    headers = {"Accept-Language": language} if language else {}
    response = client.get(EVENT_TYPES, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}
    return {item["name"]: item for item in body["data"]}


def test_catalog_lists_every_built_in_event_type(tenant: Tenant) -> None:
    found = event_types(tenant.client())

    assert sorted(found) == sorted(CATALOG)
    for name, (_, _, levels, category) in CATALOG.items():
        assert sorted(found[name]["levels"]) == levels, name
        assert found[name]["category"] == category, name
        assert found[name]["description"], name


@pytest.mark.parametrize("language", [None, "en", "en-US,en;q=0.9", "fr-FR", "*"])
def test_titles_are_english_by_default_and_for_english(
    tenant: Tenant, language: str | None
) -> None:
    found = event_types(tenant.client(), language)

    assert {name: item["title"] for name, item in found.items()} == {
        name: english for name, (english, _, _, _) in CATALOG.items()
    }


@pytest.mark.parametrize("language", ["ja", "ja-JP", "JA-jp,en;q=0.5"])
def test_titles_are_japanese_for_japanese(tenant: Tenant, language: str) -> None:
    found = event_types(tenant.client(), language)

    assert {name: item["title"] for name, item in found.items()} == {
        name: japanese for name, (_, japanese, _, _) in CATALOG.items()
    }
    english = event_types(tenant.client())
    for name in CATALOG:
        assert found[name]["description"] != english[name]["description"], name


def test_each_item_has_name_title_description_levels_and_category(tenant: Tenant) -> None:
    response = tenant.client().get(EVENT_TYPES)

    for item in response.json()["data"]:
        assert {"name", "title", "description", "levels", "category"} <= set(item)


def test_every_type_has_an_example_of_its_data_in_either_language(tenant: Tenant) -> None:
    english = event_types(tenant.client())
    japanese = event_types(tenant.client(), "ja")

    for name, item in english.items():
        assert isinstance(item["example"], dict), name
        assert item["example"], name
        assert japanese[name]["example"] == item["example"], name
    reload_example = english["com.qlik.v1.app.reload.finished"]["example"]
    assert reload_example["status"] == "SUCCEEDED"  # what a data.status filter reads


def test_a_user_key_reads_the_catalog_too(tenant: Tenant) -> None:
    assert sorted(event_types(tenant.client("user"))) == sorted(CATALOG)


def test_the_catalog_needs_an_api_key(tenant: Tenant) -> None:
    response = tenant.server.client(None).get(EVENT_TYPES)

    assert_error(response, 401, code="unauthorized")
