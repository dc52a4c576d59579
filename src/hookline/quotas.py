"""Per-tenant publishing quotas: events per second and bytes per second, as token buckets.

A tenant's bucket holds up to ``rate × burst_seconds`` tokens of each kind (at least one
whole request's worth, so the largest request the API accepts can always pass when the
bucket is full) and refills at ``rate`` a second. A publish takes a token per event and a
token per byte of the events it stores, or is refused with the wait until it would fit.
Pure: the store keeps the buckets, in the database, so a quota holds across processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from hookline.errors import RateLimited
from hookline.events import MAX_EVENTS
from hookline.ratelimit import retry_after_seconds

if TYPE_CHECKING:
    from hookline.settings import Settings

MAX_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Quota:
    events_per_second: float
    bytes_per_second: float
    burst_seconds: float

    @property
    def event_capacity(self) -> float:
        return max(self.events_per_second * self.burst_seconds, float(MAX_EVENTS))

    @property
    def byte_capacity(self) -> float:
        return max(self.bytes_per_second * self.burst_seconds, float(MAX_REQUEST_BYTES))

    def full(self, at: datetime) -> Bucket:
        return Bucket(self.event_capacity, self.byte_capacity, at)


def publishing_quota(settings: Settings) -> Quota | None:
    """The per-tenant publishing quota the settings give; none when both rates are 0."""
    if not (settings.publish_events_per_second or settings.publish_bytes_per_second):
        return None
    return Quota(
        settings.publish_events_per_second,
        settings.publish_bytes_per_second,
        settings.publish_burst_seconds,
    )


@dataclass(frozen=True)
class Bucket:
    events: float
    bytes: float
    updated_at: datetime


def take(
    bucket: Bucket, quota: Quota, events: int, size: int, at: datetime
) -> tuple[Bucket, float]:
    """The bucket after a publish of ``events`` events and ``size`` bytes at ``at``, and 0;
    or, when it does not fit, the refilled bucket (nothing taken) and the seconds to wait."""
    elapsed = max((at - bucket.updated_at).total_seconds(), 0.0)  # a clock stepping back
    have_events = min(quota.event_capacity, bucket.events + elapsed * quota.events_per_second)
    have_bytes = min(quota.byte_capacity, bucket.bytes + elapsed * quota.bytes_per_second)
    wait = max(
        _wait(events - have_events, quota.events_per_second),
        _wait(size - have_bytes, quota.bytes_per_second),
    )
    if wait > 0:
        return Bucket(have_events, have_bytes, at), wait
    return Bucket(have_events - events, have_bytes - size, at), 0.0


def _wait(missing: float, rate: float) -> float:
    return missing / rate if missing > 0 and rate > 0 else 0.0


class QuotaExceeded(RateLimited):
    """A publish over the tenant's quota (429, with ``Retry-After``)."""

    def __init__(self, wait: float) -> None:
        super().__init__(retry_after_seconds(wait))
        self.wait = wait
        self.args = (f"the tenant's publishing quota is used up; retry in {self.retry_after} s",)
