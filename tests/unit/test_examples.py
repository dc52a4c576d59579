"""Test sends' rules: which event type a test sends and its example event
(hookline.examples), the catalog's examples, and what a test attempt's outcome decides
(retry.once, Attempter.result)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hookline.catalog import load_catalog
from hookline.deliveries import Claimed
from hookline.dispatcher import Attempter
from hookline.errors import ConfigError, InvalidInput
from hookline.examples import TEST_SOURCE, example_event, type_to_send
from hookline.retry import Decision, RetryPolicy, Verdict, once
from hookline.sender import Outcome, Sender
from hookline.settings import load_settings
from hookline.vault import Vault
from tests.store.factories import webhook

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
APP_CREATED = "com.qlik.v1.app.created"
APP_PUBLISHED = "com.qlik.v1.app.published"
CATALOG = load_catalog()


def _hook(*event_types: str, **fields: Any) -> Any:
    return webhook("t1", event_types=event_types, owner_id="aiko", **fields)


# -- type_to_send -------------------------------------------------------------------------


def test_without_a_type_the_first_of_the_webhooks_types_is_sent() -> None:
    assert type_to_send(_hook(APP_CREATED, APP_PUBLISHED), None, CATALOG) == APP_CREATED


def test_a_type_the_webhook_subscribes_to_is_sent_as_asked() -> None:
    assert type_to_send(_hook(APP_CREATED, APP_PUBLISHED), APP_PUBLISHED, CATALOG) == APP_PUBLISHED


@pytest.mark.parametrize(
    ("event_types", "asked", "message"),
    [
        ((APP_CREATED,), APP_PUBLISHED, "is not one of the webhook's event types"),
        ((APP_CREATED,), "com.example.nothing", "unknown event type 'com.example.nothing'"),
        ((), None, "is required: the webhook subscribes to no event type"),
        ((), APP_CREATED, "is not one of the webhook's event types"),
    ],
)
def test_a_type_that_cannot_be_sent_is_invalid_input_naming_event_type(
    event_types: tuple[str, ...], asked: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        type_to_send(_hook(*event_types), asked, CATALOG)

    [problem] = raised.value.problems
    assert problem.field == "/eventType"
    assert message in problem.message


# -- example_event ------------------------------------------------------------------------


def test_the_example_event_carries_the_catalogs_example_and_says_it_is_a_test() -> None:
    hook = _hook(APP_CREATED)

    event = example_event(hook, APP_CREATED, CATALOG, AT)

    known = CATALOG.get(APP_CREATED)
    assert known is not None
    assert (event.tenant_id, event.type, event.time, event.source) == (
        "t1",
        APP_CREATED,
        AT,
        TEST_SOURCE,
    )
    assert event.data == known.example
    assert (event.owner_id, event.user_id) == ("aiko", "aiko")


def test_each_example_event_is_new() -> None:
    hook = _hook(APP_CREATED)

    ids = {example_event(hook, APP_CREATED, CATALOG, AT).id for _ in range(3)}

    assert len(ids) == 3


def test_a_type_gone_from_the_catalog_sends_empty_data() -> None:
    event = example_event(_hook("com.example.gone"), "com.example.gone", CATALOG, AT)

    assert event.data == {}


# -- the catalog's examples ---------------------------------------------------------------


@pytest.mark.parametrize("event_type", CATALOG.all(), ids=lambda item: item.name)
def test_every_built_in_type_has_an_example_object(event_type: Any) -> None:
    assert isinstance(event_type.example, dict)
    assert event_type.example
    json.dumps(event_type.example)


def _operator_catalog(tmp_path: Path, item: dict[str, Any]) -> Path:
    path = tmp_path / "catalog.json"
    base = {"name": "com.example.order.paid", "category": "order", "title": "Order paid"}
    path.write_text(json.dumps({"eventTypes": [{**base, **item}]}))
    return path


def test_an_operators_type_may_leave_the_example_out(tmp_path: Path) -> None:
    catalog = load_catalog(_operator_catalog(tmp_path, {}))

    added = catalog.get("com.example.order.paid")
    assert added is not None
    assert added.example == {}


def test_an_operators_example_is_kept(tmp_path: Path) -> None:
    example = {"id": "o-1", "amount": {"value": 12.5, "currency": "EUR"}}

    catalog = load_catalog(_operator_catalog(tmp_path, {"example": example}))

    added = catalog.get("com.example.order.paid")
    assert added is not None
    assert added.example == example


@pytest.mark.parametrize("example", [[1, 2], "text", 3])
def test_an_example_that_is_not_an_object_is_refused(tmp_path: Path, example: Any) -> None:
    with pytest.raises(ConfigError, match="example must be a JSON object"):
        load_catalog(_operator_catalog(tmp_path, {"example": example}))


# -- a test attempt's outcome -------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 204, 299])
def test_once_a_2xx_is_a_success(status: int) -> None:
    assert once(status) == Decision(Verdict.SUCCESS)


@pytest.mark.parametrize("status", [None, 301, 410, 429, 500, 503])
def test_once_anything_else_fails_with_no_retry_and_410_disables_nothing(
    status: int | None,
) -> None:
    assert once(status) == Decision(Verdict.FAILED)


def _attempter() -> Attempter:
    settings = load_settings(database_url="sqlite:///unused.db", secret_key="x" * 32)
    vault = Vault(["unit-test-key-" + "k" * 32])
    return Attempter(Sender(settings), vault, RetryPolicy((0, 5, 60)), random.Random(1))


def _claimed(**fields: Any) -> Claimed:
    values: dict[str, Any] = {
        "delivery_id": "d1",
        "tenant_id": "t1",
        "webhook_id": "w1",
        "event_id": "e1",
        "triggered_at": AT,
        "body": b"{}",
        "attempt_count": 0,
        "webhook_enabled": True,
        "url": "https://hooks.example.com/in",
        "headers": {},
        "sealed_secret": None,
        "sealed_encrypted_headers": None,
        "encrypted_header_names": (),
    }
    return Claimed(**{**values, **fields})


@pytest.mark.parametrize("enabled", [True, False])
def test_a_test_attempt_that_fails_ends_its_delivery_and_disables_nothing(enabled: bool) -> None:
    claimed = _claimed(test=True, webhook_enabled=enabled)

    result = _attempter().result(claimed, Outcome(status_code=410), AT, {})

    assert (result.status, result.next_attempt_at, result.disable) == ("fail", None, None)
    assert result.status_message == "HTTP 410; a test event is sent once, never retried"
    assert result.test
    assert not result.final_failure  # so the failure policy never counts it


def test_a_test_attempt_to_a_disabled_webhook_that_is_answered_succeeds() -> None:
    claimed = _claimed(test=True, webhook_enabled=False)

    result = _attempter().result(claimed, Outcome(status_code=200), AT, {})

    assert (result.status, result.status_message) == ("success", "HTTP 200")


def test_an_ordinary_attempt_is_unchanged_retried_or_disabling() -> None:
    attempter = _attempter()

    retried = attempter.result(_claimed(), Outcome(status_code=500), AT, {})
    gone = attempter.result(_claimed(), Outcome(status_code=410), AT, {})

    assert retried.next_attempt_at is not None
    assert not retried.test
    assert gone.disable is not None
    assert gone.final_failure
