"""The rules of a recover (hookline.recover): its window, what it does with each event, and
what a step comes to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from hookline.errors import InvalidInput
from hookline.recover import (
    Choice,
    Latest,
    Looked,
    Only,
    Position,
    RecoverRequest,
    Window,
    choose,
    delivery,
    new_task,
    next_step,
    passed,
    stopped,
    window,
)

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_window_within_the_retention_ending_now_by_default() -> None:
    assert window(AT - HOUR, None, AT, 7) == Window(AT - HOUR, AT)
    assert window(AT - timedelta(days=7), AT - HOUR, AT, 7) == Window(
        AT - timedelta(days=7), AT - HOUR
    )


@pytest.mark.parametrize(
    ("since", "until", "problems"),
    [
        (AT - timedelta(days=7, milliseconds=1), None, [("/since", "must not be before")]),
        (AT - HOUR, AT + timedelta(milliseconds=1), [("/until", "must not be in the future")]),
        (AT - HOUR, AT - HOUR, [("/since", "must be before until")]),
        (AT, None, [("/since", "must be in the past")]),
        (
            AT - timedelta(days=9),
            AT + HOUR,
            [("/since", "must not be before"), ("/until", "must not be in the future")],
        ),
    ],
)
def test_a_bad_window_names_every_problem(
    since: datetime, until: datetime | None, problems: list[tuple[str, str]]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        window(since, until, AT, 7)

    found = [(problem.field, problem.message) for problem in raised.value.problems]
    assert [field for field, _ in found] == [field for field, _ in problems]
    for (_, message), (_, expected) in zip(found, problems, strict=True):
        assert message.startswith(expected)


def test_the_retention_is_named_with_its_oldest_moment() -> None:
    with pytest.raises(InvalidInput, match=r"2026-02-22T12:00:00\.000Z.*kept 7 days"):
        window(AT - timedelta(days=8), None, AT, 7)


def test_a_request_takes_moments_with_a_time_zone_in_utc_to_the_millisecond() -> None:
    request = RecoverRequest.model_validate(
        {"since": "2026-03-01T14:00:00.123456+02:00", "only": "missing"}
    )

    assert request.since == datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert request.until is None
    assert request.only == "missing"


@pytest.mark.parametrize(
    "body",
    [
        {"since": "2026-03-01T12:00:00"},
        {"since": "0001-01-01T00:00:00+05:00"},
        {"since": "2026-03-01T12:00:00Z", "only": "pending"},
        {"since": "2026-03-01T12:00:00Z", "extra": 1},
        {},
    ],
)
def test_a_request_refuses_what_it_cannot_take(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RecoverRequest.model_validate(body)


def looked(latest: Latest | None) -> Looked:
    return Looked(Position(AT, "e1"), "com.qlik.v1.app.created", latest)


FAILED = Latest("fail", ended=True)
RETRYING = Latest("fail", ended=False)
PENDING = Latest("pending", ended=False)
SUCCEEDED = Latest("success", ended=True)
TESTED = Latest("fail", ended=True, test=True)  # a failed test send's example event


@pytest.mark.parametrize(
    ("latest", "failed", "missing", "every"),
    [
        (FAILED, Choice.SEND, Choice.SKIP, Choice.SEND),
        (SUCCEEDED, Choice.SKIP, Choice.SKIP, Choice.SEND),
        (None, Choice.SKIP, Choice.MATCH, Choice.MATCH),
        (RETRYING, Choice.SKIP, Choice.SKIP, Choice.SKIP),
        (PENDING, Choice.SKIP, Choice.SKIP, Choice.SKIP),
        (TESTED, Choice.SKIP, Choice.SKIP, Choice.SKIP),
    ],
)
def test_what_each_choice_does_with_an_event(
    latest: Latest | None, failed: Choice, missing: Choice, every: Choice
) -> None:
    chosen: dict[Only, Choice] = {"failed": failed, "missing": missing, "all": every}
    for only, expected in chosen.items():
        assert choose(only, looked(latest)) is expected, only


def test_a_step_moves_the_cursor_to_the_last_event_it_looked_at() -> None:
    task = new_task("t1", "w1", "u1", "all", Window(AT - HOUR, AT), AT)
    events = [
        Looked(Position(AT - HOUR, "a"), "x", None),
        Looked(Position(AT - HOUR, "b"), "x", FAILED),
    ]
    made = [delivery(task, events[1], True, AT)]

    step = next_step(task, "runner", looked=events, deliveries=made, total=9, batch=2)

    assert (step.after, step.to, step.looked, step.total) == (None, events[1].position, 2, 9)
    assert step.status == "running"
    assert not step.finished
    short = next_step(task, "runner", looked=events[:1], deliveries=[], total=9, batch=2)
    assert short.status == "done"
    assert short.finished


def test_a_delivery_of_a_task_is_due_at_once_and_names_its_task() -> None:
    task = new_task("t1", "w1", "u1", "failed", Window(AT - HOUR, AT), AT)
    event = Looked(Position(AT - HOUR, "e1"), "com.qlik.v1.app.created", FAILED)

    made = delivery(task, event, True, AT + HOUR)

    assert (made.tenant_id, made.webhook_id, made.event_id) == ("t1", "w1", "e1")
    assert (made.event_type, made.cloud_events) == ("com.qlik.v1.app.created", True)
    assert made.triggered_at == made.next_attempt_at == AT + HOUR
    assert made.task_id == task.id


def test_a_stopped_task_fails_with_its_reason_and_a_passed_turn_changes_nothing() -> None:
    task = new_task("t1", "w1", "u1", "failed", Window(AT - HOUR, AT), AT)

    failed = stopped(task, "runner", "the webhook was disabled")
    assert (failed.status, failed.error, failed.looked, failed.finished) == (
        "failed",
        "the webhook was disabled",
        0,
        True,
    )
    turn = passed(task, "runner")
    assert (turn.status, turn.looked, turn.deliveries, turn.to) == ("running", 0, [], None)
