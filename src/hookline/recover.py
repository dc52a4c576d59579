"""Recover and replay (hookline's own): after an outage, a webhook's owner gets back what
its endpoint missed. Pure rules and values; the runner is `hookline.task_runner`.

A recover is a task that walks the tenant's events received in a window
(``since <= receivedAt < until``), in (received time, id) order, a step at a time, and
looks at each event's latest delivery to the webhook:

- ``failed``: the latest delivery failed for good (no retry left) -> sent again;
- ``missing``: no delivery at all, and the webhook reaches the event now (its event types,
  filter and, for a user-level webhook, its owner, as fan-out decides) -> sent;
- ``all``: both, and those whose latest delivery succeeded -> sent again.

A delivery still pending or waiting for a retry is left to its retries in every mode:
sending the event again beside it would deliver it twice. An event still waiting for
fan-out is left to the fan-out, which matches it against the webhook as it is now: the
walk does not see it.

Each step stores the deliveries it makes (due at once, in the ordinary queue) and moves the
task's cursor past the events it looked at, in one transaction, and only if the cursor is
still where the step started from: an event is sent at most once by a task, whatever
crashes, and a task resumed by another process goes on after its cursor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from hookline.deliveries import NewDelivery, Status, new_delivery_id
from hookline.errors import InvalidInput, Problem

Only = Literal["failed", "missing", "all"]
TaskStatus = Literal["queued", "running", "done", "failed"]
DEFAULT_ONLY: Only = "failed"
RECOVER = "recover"  # the type of task a recover is
WEBHOOK_DISABLED = "the webhook was disabled, so the recover stopped; enable it and recover again"


def _utc_millis(moment: datetime) -> datetime:
    """The moment in UTC, to the millisecond the API shows."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


Moment = Annotated[AwareDatetime, AfterValidator(_utc_millis)]


class RecoverRequest(BaseModel):
    """A recover request. JSON ``null`` means absent."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    since: Moment = Field(
        description="The start of the window (included): events received from then on. "
        "Not before the history retention (HOOKLINE_HISTORY_DAYS, 7 days)."
    )
    until: Moment | None = Field(
        default=None,
        description="The end of the window (excluded); not in the future. Default: now.",
    )
    only: Only | None = Field(
        default=None,
        description="failed (default): events whose latest delivery failed for good; "
        "missing: events the webhook matches now but was never sent; all: both, and those "
        "whose latest delivery succeeded.",
    )


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def window(since: datetime, until: datetime | None, at: datetime, retention_days: int) -> Window:
    """The window a recover asked at ``at`` covers; InvalidInput naming every problem: a
    start older than the history kept (its deliveries are gone), an end in the future
    (events not received yet), or a start not before the end."""
    oldest = at - timedelta(days=retention_days)
    end = at if until is None else until
    problems = []
    if since < oldest:
        problems.append(
            Problem(
                "/since",
                f"must not be before {_shown(oldest)}: the history is kept "
                f"{retention_days} days (HOOKLINE_HISTORY_DAYS)",
            )
        )
    if until is not None and until > at:
        problems.append(Problem("/until", "must not be in the future"))
    if since >= end:
        problems.append(
            Problem("/since", "must be before until" if until else "must be in the past")
        )
    if problems:
        raise InvalidInput(problems)
    return Window(since, end)


def _shown(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Position(NamedTuple):
    """Where a task's walk is: the last event it looked at, by (received time, id)."""

    received_at: datetime
    event_id: str


@dataclass(frozen=True)
class Task:
    id: str
    tenant_id: str
    webhook_id: str
    only: Only
    window: Window
    created_at: datetime
    created_by_user_id: str
    status: TaskStatus = "queued"
    type: str = RECOVER
    total: int | None = None  # the events of the window, counted at the first step
    done: int = 0  # the events looked at so far
    recovered: int = 0  # the deliveries made so far
    cursor: Position | None = None
    error: str | None = None
    finished_at: datetime | None = None


def new_task(
    tenant_id: str, webhook_id: str, user_id: str, only: Only, chosen: Window, at: datetime
) -> Task:
    return Task(str(uuid.uuid4()), tenant_id, webhook_id, only, chosen, at, user_id)


@dataclass(frozen=True)
class TaskCaps:
    """Recovers that may be unfinished (queued or running) at once."""

    per_webhook: int
    per_tenant: int


class Latest(NamedTuple):
    """An event's latest delivery to the webhook."""

    status: Status
    ended: bool  # no attempt is due: it succeeded, or failed with no retry left
    test: bool = False  # a test send's (actions/test): not part of the webhook's stream


@dataclass(frozen=True)
class Looked:
    """An event of the window, as a step sees it."""

    position: Position
    event_type: str
    latest: Latest | None


class Choice(Enum):
    SEND = "send"
    SKIP = "skip"
    MATCH = "match"  # send if the webhook reaches the event now


def choose(only: Only, event: Looked) -> Choice:
    """What a recover does with one event of its window."""
    latest = event.latest
    if latest is None:
        return Choice.MATCH if only in ("missing", "all") else Choice.SKIP
    if not latest.ended or latest.test:
        return Choice.SKIP
    if latest.status == "fail":
        return Choice.SEND if only in ("failed", "all") else Choice.SKIP
    return Choice.SEND if only == "all" else Choice.SKIP


def delivery(task: Task, event: Looked, cloud_events: bool, at: datetime) -> NewDelivery:
    """The task's delivery of ``event``, due at ``at``, in the webhook's envelope now."""
    return NewDelivery(
        id=new_delivery_id(),
        tenant_id=task.tenant_id,
        webhook_id=task.webhook_id,
        event_id=event.position.event_id,
        event_type=event.event_type,
        cloud_events=cloud_events,
        triggered_at=at,
        next_attempt_at=at,
        task_id=task.id,
        event_received_at=event.position.received_at,
    )


@dataclass(frozen=True)
class Step:
    """What one step of a task did: the events it looked at (after ``after``, up to ``to``)
    and the deliveries it made; the task's status after it."""

    task_id: str
    webhook_id: str
    owner: str
    after: Position | None
    to: Position | None
    looked: int
    total: int | None
    status: TaskStatus
    deliveries: list[NewDelivery] = field(default_factory=list)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


def next_step(
    task: Task,
    owner: str,
    *,
    looked: list[Looked],
    deliveries: list[NewDelivery],
    total: int,
    batch: int,
) -> Step:
    """The step that looked at ``looked`` (a batch of at most ``batch`` events after the
    cursor) and made ``deliveries``; a batch short of ``batch`` is the window's last."""
    return Step(
        task_id=task.id,
        webhook_id=task.webhook_id,
        owner=owner,
        after=task.cursor,
        to=looked[-1].position if looked else task.cursor,
        looked=len(looked),
        total=total,
        status="done" if len(looked) < batch else "running",
        deliveries=deliveries,
    )


def stopped(task: Task, owner: str, reason: str) -> Step:
    """The step that ends a task as failed, saying why."""
    return Step(
        task.id,
        task.webhook_id,
        owner,
        task.cursor,
        task.cursor,
        0,
        task.total,
        "failed",
        error=reason,
    )


def passed(task: Task, owner: str) -> Step:
    """A turn the task passes (its webhook has enough waiting already): only its turn moves
    on, so its tenant's other tasks get theirs."""
    return Step(task.id, task.webhook_id, owner, task.cursor, task.cursor, 0, task.total, "running")
