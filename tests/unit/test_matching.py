from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from hookline import filters
from hookline.events import Event
from hookline.matching import attributes, reaches
from hookline.webhooks import Webhook
from tests.store.factories import webhook

APP_CREATED = "com.qlik.v1.app.created"


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "id": "e1",
        "tenant_id": "t1",
        "type": APP_CREATED,
        "time": datetime(2026, 1, 1, tzinfo=UTC),
        "source": "test",
        "data": {"id": "app-1", "status": "ok"},
    }
    values.update(fields)
    return Event(**values)


def hook(**fields: Any) -> Webhook:
    return webhook("t1", **fields)


def test_an_enabled_subscribed_webhook_is_reached() -> None:
    assert reaches(hook(), event(), None)


def test_a_disabled_webhook_is_not_reached() -> None:
    assert not reaches(hook(enabled=False), event(), None)


def test_a_webhook_not_subscribed_to_the_type_is_not_reached() -> None:
    assert not reaches(hook(event_types=("com.qlik.v1.app.deleted",)), event(), None)


@pytest.mark.parametrize(
    ("owner", "user", "reached"),
    [
        ("alice", None, True),
        (None, "alice", True),
        ("bob", "alice", True),
        ("bob", "carol", False),
        (None, None, False),
    ],
)
def test_a_user_level_webhook_is_reached_only_through_its_owner(
    owner: str | None, user: str | None, reached: bool
) -> None:
    user_hook = hook(level="user", owner_id="alice")
    assert reaches(user_hook, event(owner_id=owner, user_id=user), None) is reached


def test_a_tenant_level_webhook_ignores_the_owner() -> None:
    assert reaches(hook(owner_id="alice"), event(owner_id="bob"), None)


@pytest.mark.parametrize(
    ("expression", "reached"),
    [
        ('id eq "app-1"', True),
        ('id eq "app-2"', False),
        ('id eq "app-2" or spaceId eq "s9"', True),
        ('spaceId eq "s9" and topLevelResourceId eq "r1"', True),
        ('data.status eq "ok"', True),
        ('data.status ne "ok"', False),
        ("data.missing pr", False),
        ('extensions.region eq "eu"', True),
        ('extensions.ownerId eq "o1"', True),
        ('userId eq "u1"', True),
    ],
)
def test_the_filter_decides(expression: str, reached: bool) -> None:
    subject = event(
        space_id="s9",
        top_level_resource_id="r1",
        extensions={"region": "eu"},
        owner_id="o1",
        user_id="u1",
    )
    assert reaches(hook(), subject, filters.parse(expression)) is reached


def test_the_legacy_app_payload_gives_the_resource_id() -> None:
    legacy = event(data={"attributes": {"id": "app-9", "name": "New App"}})
    assert attributes(legacy)("id") == "app-9"
    assert attributes(event(data=[1, 2]))("id") is filters.MISSING
    assert attributes(event(data={}))("spaceId") is filters.MISSING


def test_unknown_attributes_are_missing() -> None:
    lookup = attributes(dataclasses.replace(event(), data={"a": {"b": None}}))
    assert lookup("nonsense") is filters.MISSING
    assert lookup("data.a.b") is None
    assert lookup("data.a.b.c") is filters.MISSING


def test_a_filter_too_costly_for_the_event_raises() -> None:
    """Issue 11: the caller decides what an evaluation past its budget means."""
    bomb = filters.compile(" or ".join(["data.a eq 1"] * 270))
    costly = event(data={"a": list(range(2, 200_002))})

    with pytest.raises(filters.TooCostly):
        reaches(hook(), costly, bomb)
    assert not reaches(hook(enabled=False), costly, bomb)
    assert reaches(hook(), event(data={"a": [2, 1]}), bomb)
