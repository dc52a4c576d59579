"""hookline's operational events about deliveries, decided by pure rules: a delivery that
failed its last retry raises ``hookline.delivery.exhausted``, and a webhook that delivers
again after a run of such failures raises ``hookline.webhook.recovered``.

A webhook's *failing run* begins when one of its deliveries ends failed (no retry left,
whatever the reason: the schedule used up, 410 Gone, the webhook disabled) and ends with
the next of its deliveries that succeeds. Only deliveries of the tenant's own events take
part: a delivery of a ``hookline.*`` event never starts, extends or ends a run, and never
raises an event, so no operational event can cause another (a webhook subscribed to
``hookline.delivery.exhausted`` whose endpoint is down makes no chain).

Bounds, for an endpoint that fails everything it is sent:

- The run's first failed delivery raises ``exhausted`` at once. After that, a webhook
  raises at most one per ``interval`` (across runs, so a flapping endpoint is bounded
  too); each counts the run's failed deliveries since the previous one
  (``exhaustedDeliveries``), so nothing of the run is lost from the count.
- ``recovered`` is raised when a success ends a run that raised an ``exhausted`` event:
  it answers one, and there are never more of them than of those. A short run that
  began and ended within the interval after the previous ``exhausted`` raises neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hookline.envelopes import rfc3339
from hookline.events import DEFAULT_SOURCE, RESERVED_PREFIX, Event

DELIVERY_EXHAUSTED = "hookline.delivery.exhausted"
WEBHOOK_RECOVERED = "hookline.webhook.recovered"


def takes_part(event_type: str) -> bool:
    """Whether a delivery of ``event_type`` counts in failing runs: hookline's own events'
    deliveries do not."""
    return not event_type.startswith(RESERVED_PREFIX)


@dataclass(frozen=True)
class Run:
    """A webhook's failing run, as its row keeps it."""

    failing_since: datetime | None = None  # None: the webhook is not failing
    failures: int = 0  # the run's deliveries that ended failed
    unreported: int = 0  # of those, the ones no exhausted event has counted yet
    exhausted_at: datetime | None = None  # the webhook's latest exhausted event, any run

    @property
    def reported(self) -> bool:
        """Whether the run raised an exhausted event."""
        return self.failures > self.unreported


@dataclass(frozen=True)
class Ended:
    """One of the webhook's deliveries, just ended: succeeded, or failed with no retry left."""

    delivery_id: str
    event_id: str
    event_type: str
    succeeded: bool
    attempts: int
    status_code: int | None  # of the last attempt; None: no response
    status_message: str  # the delivery's, as its history shows it
    at: datetime


@dataclass(frozen=True)
class Exhausted:
    ended: Ended
    count: int  # the run's failed deliveries since its previous exhausted event
    failing_since: datetime


@dataclass(frozen=True)
class Recovered:
    failures: int  # the run's failed deliveries
    failing_since: datetime
    at: datetime


Notice = Exhausted | Recovered


def follow(run: Run, ended: Ended, interval: timedelta) -> tuple[Run, Notice | None]:
    """The run after ``ended``, and the event it raises, if any."""
    if ended.succeeded:
        return _succeeded(run, ended.at)
    return _failed(run, ended, interval)


def follow_all(run: Run, ended: Iterable[Ended], interval: timedelta) -> tuple[Run, list[Notice]]:
    """The run after each of ``ended`` in turn, and the events they raise."""
    notices = []
    for item in ended:
        run, notice = follow(run, item, interval)
        if notice is not None:
            notices.append(notice)
    return run, notices


def _succeeded(run: Run, at: datetime) -> tuple[Run, Notice | None]:
    if run.failing_since is None:
        return run, None
    notice = Recovered(run.failures, run.failing_since, at) if run.reported else None
    return Run(exhausted_at=run.exhausted_at), notice


def _failed(run: Run, ended: Ended, interval: timedelta) -> tuple[Run, Notice | None]:
    since = run.failing_since or ended.at
    failures, unreported = run.failures + 1, run.unreported + 1
    if run.exhausted_at is not None and ended.at < run.exhausted_at + interval:
        return Run(since, failures, unreported, run.exhausted_at), None
    return Run(since, failures, 0, ended.at), Exhausted(ended, unreported, since)


@dataclass(frozen=True)
class Subject:
    """The webhook an operational event is about."""

    id: str
    tenant_id: str
    owner_id: str
    name: str
    url: str


def raised(subject: Subject, notice: Notice) -> Event:
    """The event hookline raises for ``notice``; like ``hookline.webhook.disabled``, it
    carries the webhook's owner, so the owner's user-level webhooks get it too."""
    webhook = {"id": subject.id, "name": subject.name, "url": subject.url}
    if isinstance(notice, Exhausted):
        event_type, at, data = DELIVERY_EXHAUSTED, notice.ended.at, _exhausted(notice)
    else:
        event_type, at, data = WEBHOOK_RECOVERED, notice.at, _recovered(notice)
    return Event(
        id=str(uuid.uuid4()),
        tenant_id=subject.tenant_id,
        type=event_type,
        time=at,
        source=DEFAULT_SOURCE,
        data=webhook | data,
        owner_id=subject.owner_id,
    )


def _exhausted(notice: Exhausted) -> dict[str, Any]:
    ended = notice.ended
    return {
        "deliveryId": ended.delivery_id,
        "eventId": ended.event_id,
        "eventType": ended.event_type,
        "attempts": ended.attempts,
        "lastStatusCode": ended.status_code,
        "statusMessage": ended.status_message,
        "exhaustedDeliveries": notice.count,
        "failingSince": rfc3339(notice.failing_since),
    }


def _recovered(notice: Recovered) -> dict[str, Any]:
    return {
        "failedDeliveries": notice.failures,
        "failingSince": rfc3339(notice.failing_since),
    }
