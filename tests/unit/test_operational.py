"""hookline.operational: how a webhook's failing run follows its ended deliveries, which
events that raises, and what they say; and which attempts' results may move a run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hookline.deliveries import Claimed
from hookline.dispatcher import Attempter
from hookline.operational import (
    DELIVERY_EXHAUSTED,
    WEBHOOK_RECOVERED,
    Ended,
    Exhausted,
    Recovered,
    Run,
    Subject,
    follow,
    follow_all,
    raised,
    takes_part,
)
from hookline.retry import RetryPolicy
from hookline.sender import Outcome, Sender
from hookline.settings import load_settings
from hookline.vault import Vault

T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)


def ended(minutes: float = 0, *, succeeded: bool = False, number: int = 1) -> Ended:
    return Ended(
        delivery_id=f"d{number}",
        event_id=f"e{number}",
        event_type="com.qlik.v1.app.created",
        succeeded=succeeded,
        attempts=8,
        status_code=None if succeeded else 503,
        status_message="HTTP 503; gave up after 8 attempts",
        at=T0 + timedelta(minutes=minutes),
    )


def success(minutes: float = 0) -> Ended:
    return ended(minutes, succeeded=True)


def test_a_success_outside_a_run_changes_nothing() -> None:
    assert follow(Run(), success(), INTERVAL) == (Run(), None)
    quiet = Run(exhausted_at=T0)
    assert follow(quiet, success(1), INTERVAL) == (quiet, None)


def test_the_first_failure_begins_a_run_and_raises_at_once() -> None:
    failure = ended()
    run, notice = follow(Run(), failure, INTERVAL)
    assert run == Run(failing_since=T0, failures=1, unreported=0, exhausted_at=T0)
    assert notice == Exhausted(failure, count=1, failing_since=T0)


def test_failures_within_the_interval_are_counted_into_the_next_event() -> None:
    run, notices = follow_all(Run(), [ended(m, number=m) for m in range(0, 16)], INTERVAL)
    assert [notice.count for notice in notices if isinstance(notice, Exhausted)] == [1, 15]
    assert run == Run(T0, failures=16, unreported=0, exhausted_at=T0 + INTERVAL)

    run, notices = follow_all(run, [ended(16), ended(20)], INTERVAL)
    assert notices == []
    assert (run.failures, run.unreported) == (18, 2)


def test_a_success_ends_a_reported_run_with_recovered() -> None:
    run, _ = follow_all(Run(), [ended(0), ended(1), ended(2)], INTERVAL)
    after, notice = follow(run, success(5), INTERVAL)
    assert notice == Recovered(failures=3, failing_since=T0, at=T0 + timedelta(minutes=5))
    assert after == Run(exhausted_at=T0)
    assert follow(after, success(6), INTERVAL) == (after, None)


def test_a_run_within_the_interval_after_an_event_is_held_back_whole() -> None:
    """A flapping endpoint: each run is short; within the interval after an exhausted
    event, a new run raises nothing, and its success raises no recovered either."""
    flapping = [ended(0), success(1), ended(2), success(3), ended(4), success(5)]
    run, notices = follow_all(Run(), flapping, INTERVAL)
    assert [type(notice) for notice in notices] == [Exhausted, Recovered]
    assert run == Run(exhausted_at=T0)


def test_a_held_back_run_that_lasts_is_reported_once_the_interval_has_passed() -> None:
    first, _ = follow_all(Run(), [ended(0), success(1)], INTERVAL)
    run, notices = follow_all(first, [ended(2), ended(3), ended(17)], INTERVAL)
    assert notices == [Exhausted(ended(17), count=3, failing_since=T0 + timedelta(minutes=2))]
    _, [recovered] = follow_all(run, [success(18)], INTERVAL)
    assert recovered == Recovered(3, T0 + timedelta(minutes=2), T0 + timedelta(minutes=18))


def test_no_interval_raises_one_event_per_failed_delivery() -> None:
    _, notices = follow_all(Run(), [ended(0), ended(0), ended(0)], timedelta(0))
    assert [notice.count for notice in notices if isinstance(notice, Exhausted)] == [1, 1, 1]


@pytest.mark.parametrize(
    ("event_type", "counts"),
    [
        ("com.qlik.v1.app.created", True),
        ("com.example.v1.invoice.paid", True),
        ("hookline.webhook.disabled", False),
        ("hookline.delivery.exhausted", False),
        ("hookline.webhook.recovered", False),
    ],
)
def test_only_deliveries_of_the_tenants_own_events_take_part(event_type: str, counts: bool) -> None:
    assert takes_part(event_type) is counts


SUBJECT = Subject("w1", "t1", "alice", "orders", "https://example.com/in")


def test_the_exhausted_event_names_the_webhook_and_the_delivery() -> None:
    failure = ended(3)
    event = raised(SUBJECT, Exhausted(failure, count=4, failing_since=T0))
    assert (event.type, event.tenant_id, event.owner_id, event.source) == (
        DELIVERY_EXHAUSTED,
        "t1",
        "alice",
        "hookline",
    )
    assert event.time == failure.at
    assert event.data == {
        "id": "w1",
        "name": "orders",
        "url": "https://example.com/in",
        "deliveryId": "d1",
        "eventId": "e1",
        "eventType": "com.qlik.v1.app.created",
        "attempts": 8,
        "lastStatusCode": 503,
        "statusMessage": "HTTP 503; gave up after 8 attempts",
        "exhaustedDeliveries": 4,
        "failingSince": "2026-03-01T03:00:00Z",
    }


def test_the_recovered_event_says_how_long_and_how_much_failed() -> None:
    at = T0 + timedelta(hours=2)
    event = raised(SUBJECT, Recovered(failures=12, failing_since=T0, at=at))
    assert (event.type, event.owner_id, event.time) == (WEBHOOK_RECOVERED, "alice", at)
    assert event.data == {
        "id": "w1",
        "name": "orders",
        "url": "https://example.com/in",
        "failedDeliveries": 12,
        "failingSince": "2026-03-01T03:00:00Z",
    }
    assert raised(SUBJECT, Recovered(1, T0, at)).id != event.id


# -- which outcomes may move a run ------------------------------------------------------


def _attempter(schedule: tuple[float, ...]) -> Attempter:
    settings = load_settings(database_url="sqlite:///unused.db", secret_key="x" * 32)
    return Attempter(Sender(settings), Vault(["k" * 32]), RetryPolicy(schedule), random.Random(1))


def _claimed(**fields: Any) -> Claimed:
    values: dict[str, Any] = {
        "delivery_id": "d1",
        "tenant_id": "t1",
        "webhook_id": "w1",
        "event_id": "e1",
        "triggered_at": T0,
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


@pytest.mark.parametrize("failing", [True, False])
def test_a_success_may_move_a_run_only_if_the_webhook_was_failing_when_claimed(
    failing: bool,
) -> None:
    result = _attempter((0,)).result(_claimed(may_recover=failing), Outcome(200), T0, {})
    assert (result.status, result.may_recover, result.moves_run) == ("success", failing, failing)


def test_only_a_failure_with_no_retry_left_moves_a_run() -> None:
    claimed = _claimed(may_recover=True)
    retried = _attempter((0, 5)).result(claimed, Outcome(500), T0, {})
    assert (retried.status, retried.moves_run) == ("fail", False)
    given_up = _attempter((0,)).result(claimed, Outcome(500), T0, {})
    assert (given_up.final_failure, given_up.moves_run) == (True, True)
