"""Endpoint health: how a webhook's endpoint has answered over a recent window.

The unit is the attempt, each request hookline made to the endpoint (a delivery retried
twice counts three), since that is what shows an endpoint's trouble as it happens: a
delivery still retrying has failed attempts long before it fails for good. An attempt
succeeds when the endpoint answered 2xx; it belongs to the window, and to a bucket of
it, by the time it started. Buckets are aligned to whole multiples of their size in UTC
(whole hours, say), so the first and the last cover only the part inside the window.

The store reads a bounded sample of a window (see store/stats.py); ``sampled`` says
when the window held more than that, and then the counts are those of the sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

WindowName = Literal["1h", "24h", "7d"]


@dataclass(frozen=True)
class Window:
    name: WindowName
    span: timedelta
    bucket: timedelta


WINDOWS: dict[WindowName, Window] = {
    window.name: window
    for window in (
        Window("1h", timedelta(hours=1), timedelta(minutes=5)),
        Window("24h", timedelta(hours=24), timedelta(hours=1)),
        Window("7d", timedelta(days=7), timedelta(hours=6)),
    )
}
DEFAULT_WINDOW = WINDOWS["24h"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StatsQuery:
    """The window of one webhook's history that ends at ``until``."""

    tenant_id: str
    webhook_id: str
    window: Window
    until: datetime

    @property
    def since(self) -> datetime:
        return self.until - self.window.span

    def bucket_starts(self) -> list[datetime]:
        """Where each bucket starts: the window's start, then every multiple of the
        bucket size after it and before ``until`` (the last bucket ends with the window,
        ``until`` included)."""
        size = self.window.bucket
        aligned = _EPOCH + (self.since - _EPOCH) // size * size
        starts = [self.since]
        moment = aligned + size
        while moment < self.until:
            starts.append(moment)
            moment += size
        return starts


@dataclass(frozen=True)
class Figures:
    """Attempts of a window or of one bucket: how many, how many succeeded, the median
    and the 95th percentile of their durations (None without attempts), and when the
    latest successful and failed ones started."""

    attempts: int = 0
    successes: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None

    @property
    def failures(self) -> int:
        return self.attempts - self.successes

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.attempts if self.attempts else None


@dataclass(frozen=True)
class Bucket:
    start: datetime
    figures: Figures


@dataclass(frozen=True)
class Backlog:
    """The webhook's deliveries with a due time (pending, retrying or in flight): how
    many (counted up to a cap: ``exact`` is False beyond it) and when the oldest of those
    counted was triggered."""

    count: int = 0
    exact: bool = True
    oldest_triggered_at: datetime | None = None


@dataclass(frozen=True)
class EndpointStats:
    query: StatsQuery
    figures: Figures
    series: tuple[Bucket, ...]
    backlog: Backlog
    sampled: bool = False

    @property
    def oldest_backlog_age(self) -> timedelta | None:
        oldest = self.backlog.oldest_triggered_at
        return None if oldest is None else max(timedelta(0), self.query.until - oldest)
