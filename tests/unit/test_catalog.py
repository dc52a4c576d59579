"""Tests for hookline.catalog: the built-in event types and an operator's own file (SPEC 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hookline.catalog import Catalog, EventType, load_catalog
from hookline.errors import ConfigError

BUILT_IN = {
    "com.qlik.v1.app.created": ("App created", "作成済み", ("tenant", "user"), "app"),
    "com.qlik.v1.app.deleted": ("App deleted", "削除済み", ("tenant",), "app"),
    "com.qlik.v1.app.data.updated": (
        "App data updated",
        "データ更新済み",
        ("tenant", "user"),
        "app",
    ),
    "com.qlik.v1.app.reload.finished": ("App reloaded", "リロード済み", ("tenant", "user"), "app"),
    "com.qlik.v1.app.published": ("App published", "公開済み", ("tenant", "user"), "app"),
    "com.qlik.v1.app.exported": ("App exported", "エクスポート済み", ("tenant", "user"), "app"),
    "com.qlik.v1.user.created": ("User created", "作成済み", ("tenant",), "user"),
    "com.qlik.v1.user.deleted": ("User deleted", "削除済み", ("tenant",), "user"),
    # hookline's own operational events
    "hookline.webhook.disabled": (
        "Webhook disabled",
        "Webhook 無効化済み",
        ("tenant", "user"),
        "webhook",
    ),
    "hookline.delivery.exhausted": (
        "Delivery retries exhausted",
        "配信の再試行切れ",
        ("tenant", "user"),
        "webhook",
    ),
    "hookline.webhook.recovered": (
        "Webhook recovered",
        "Webhook 回復済み",
        ("tenant", "user"),
        "webhook",
    ),
}


def write_catalog(directory: Path, content: Any) -> Path:
    path = directory / "catalog.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def extra_type(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": "com.example.v1.invoice.paid",
        "category": "invoice",
        "levels": ["tenant", "user"],
        "title": {"en": "Invoice paid", "ja": "支払い済み"},
        "description": {"en": "An invoice was paid."},
    }
    item.update(fields)
    return item


# -- built-in ------------------------------------------------------------------------------


def test_built_in_catalog_holds_the_seed_types_and_hooklines_own_in_order() -> None:
    assert [event_type.name for event_type in load_catalog().all()] == list(BUILT_IN)


@pytest.mark.parametrize(("name", "expected"), BUILT_IN.items())
def test_built_in_type_has_its_titles_levels_and_category(
    name: str, expected: tuple[str, str, tuple[str, ...], str]
) -> None:
    english, japanese, levels, category = expected
    event_type = load_catalog().get(name)
    assert event_type is not None
    assert event_type.title_in("en") == english
    assert event_type.title_in("ja") == japanese
    assert event_type.levels == levels
    assert event_type.category == category
    assert event_type.description_in("en")
    assert event_type.description_in("ja")


def test_catalog_membership_and_lookup() -> None:
    catalog = load_catalog()
    assert "com.qlik.v1.app.created" in catalog
    assert "com.qlik.v1.app.renamed" not in catalog
    assert 5 not in catalog
    assert catalog.get("com.qlik.v1.app.renamed") is None


def test_missing_language_falls_back_to_english() -> None:
    event_type = EventType("t", "c", ("tenant",), {"en": "Title"}, {})
    assert event_type.title_in("fr") == "Title"
    assert event_type.description_in("fr") == ""
    assert event_type.description_in("en") == ""


def test_all_returns_a_new_list_each_time() -> None:
    catalog = load_catalog()
    catalog.all().clear()
    assert len(catalog.all()) == len(BUILT_IN)


def test_catalog_of_given_types_keeps_the_last_of_a_name() -> None:
    first = EventType("t", "a", ("tenant",), {"en": "First"}, {})
    second = EventType("t", "b", ("user",), {"en": "Second"}, {})
    assert Catalog([first, second]).all() == [second]


# -- operator file -------------------------------------------------------------------------


def test_operator_file_adds_types(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"eventTypes": [extra_type()]})
    catalog = load_catalog(path)
    assert len(catalog.all()) == len(BUILT_IN) + 1
    added = catalog.get("com.example.v1.invoice.paid")
    assert added == EventType(
        "com.example.v1.invoice.paid",
        "invoice",
        ("tenant", "user"),
        {"en": "Invoice paid", "ja": "支払い済み"},
        {"en": "An invoice was paid."},
    )
    assert added.description_in("ja") == "An invoice was paid."


def test_operator_file_replaces_a_built_in_type_by_name(tmp_path: Path) -> None:
    replacement = extra_type(
        name="com.qlik.v1.app.deleted", category="app", levels=["tenant", "user"]
    )
    catalog = load_catalog(write_catalog(tmp_path, {"eventTypes": [replacement]}))
    names = [event_type.name for event_type in catalog.all()]
    assert names == list(BUILT_IN)
    replaced = catalog.get("com.qlik.v1.app.deleted")
    assert replaced is not None
    assert replaced.levels == ("tenant", "user")
    assert replaced.title_in("en") == "Invoice paid"


def test_operator_type_with_plain_text_title_and_description_and_default_level(
    tmp_path: Path,
) -> None:
    item = {"name": "x.y", "category": "x", "title": "Plain", "description": "Words"}
    catalog = load_catalog(write_catalog(tmp_path, {"eventTypes": [item]}))
    added = catalog.get("x.y")
    assert added is not None
    assert added.levels == ("tenant",)
    assert added.title == {"en": "Plain"}
    assert added.description == {"en": "Words"}


def test_empty_operator_file_list_changes_nothing(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path, {"eventTypes": []}))
    assert [event_type.name for event_type in catalog.all()] == list(BUILT_IN)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", ""),
        ("", ""),
        ("null", ""),
        ("[]", ""),
        ({}, "eventTypes"),
        ({"types": []}, "eventTypes"),
        ({"eventTypes": 5}, ""),
        ({"eventTypes": ["com.example.v1.x"]}, "must be an object"),
        ({"eventTypes": {"com.example.v1.x": {}}}, "must be an object"),
        ({"eventTypes": [None]}, "must be an object"),
        ({"eventTypes": [extra_type(levels=[])]}, "levels must be a non-empty subset"),
        ({"eventTypes": [extra_type(levels=["space"])]}, "levels must be a non-empty subset"),
        ({"eventTypes": [extra_type(levels="tenant")]}, "levels must be a non-empty subset"),
        ({"eventTypes": [extra_type(levels=5)]}, ""),
        ({"eventTypes": [extra_type(title={"ja": "タイトル"})]}, "title needs an English"),
        ({"eventTypes": [extra_type(title=["a", "b"])]}, "must be text"),
        ({"eventTypes": [extra_type(title={"en": 5})]}, "must be text"),
        ({"eventTypes": [extra_type(description={"en": None})]}, "must be text"),
        ({"eventTypes": [{"category": "c", "title": "T"}]}, "name"),
        ({"eventTypes": [{"name": "n", "title": "T"}]}, "category"),
        ({"eventTypes": [{"name": "n", "category": "c"}]}, "title"),
    ],
)
def test_malformed_operator_file_is_a_config_error(
    tmp_path: Path, content: Any, fragment: str
) -> None:
    path = write_catalog(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert message.startswith(f"invalid event catalog {path}: ")
    assert fragment in message


def test_operator_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_bytes(b'{"eventTypes": [{"name": "\xff"}]}')
    with pytest.raises(ConfigError, match="invalid event catalog"):
        load_catalog(path)


def test_unreadable_operator_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid event catalog"):
        load_catalog(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="invalid event catalog"):
        load_catalog(tmp_path)
