"""``/api/v1/webhooks/{id}/stats``: endpoint health, a hookline extension beside the
Qlik-compatible API (who may see the webhook may see it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.schemas import Timestamp, WireModel
from hookline.stats import WINDOWS, Backlog, Bucket, EndpointStats, WindowName

router = APIRouter(prefix="/api/v1/webhooks/{id}/stats", tags=["webhooks"])


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class BucketOut(WireModel):
    start: Timestamp = Field(description="The first bucket starts with the window.")
    successes: int
    failures: int
    latency_p95_ms: float | None

    @classmethod
    def of(cls, bucket: Bucket) -> BucketOut:
        figures = bucket.figures
        return cls(
            start=bucket.start,
            successes=figures.successes,
            failures=figures.failures,
            latency_p95_ms=_ms(figures.p95_ms),
        )


class BacklogOut(WireModel):
    count: int = Field(description="Deliveries with a due time: pending, retrying, in flight.")
    exact: bool = Field(description="False when there are more than counted (10,000).")
    oldest_triggered_at: Timestamp | None
    oldest_age_seconds: float | None

    @classmethod
    def of(cls, stats: EndpointStats) -> BacklogOut:
        backlog: Backlog = stats.backlog
        age = stats.oldest_backlog_age
        return cls(
            count=backlog.count,
            exact=backlog.exact,
            oldest_triggered_at=backlog.oldest_triggered_at,
            oldest_age_seconds=None if age is None else round(age.total_seconds(), 3),
        )


class StatsOut(WireModel):
    webhook_id: str
    window: WindowName
    since: Timestamp
    until: Timestamp
    bucket_seconds: int
    attempts: int
    successes: int = Field(description="Attempts the endpoint answered with 2xx.")
    failures: int
    success_rate: float | None = Field(description="successes / attempts, 0 to 1.")
    latency_p50_ms: float | None = Field(description="Median attempt duration.")
    latency_p95_ms: float | None
    last_success_at: Timestamp | None = Field(description="When it started, in the window.")
    last_failure_at: Timestamp | None
    backlog: BacklogOut
    sampled: bool = Field(
        description="The window held more deliveries than one request reads: the figures "
        "are those of the latest deliveries of each bucket."
    )
    series: list[BucketOut]

    @classmethod
    def of(cls, stats: EndpointStats) -> StatsOut:
        query, figures = stats.query, stats.figures
        rate = figures.success_rate
        return cls(
            webhook_id=query.webhook_id,
            window=query.window.name,
            since=query.since,
            until=query.until,
            bucket_seconds=int(query.window.bucket.total_seconds()),
            attempts=figures.attempts,
            successes=figures.successes,
            failures=figures.failures,
            success_rate=None if rate is None else round(rate, 4),
            latency_p50_ms=_ms(figures.p50_ms),
            latency_p95_ms=_ms(figures.p95_ms),
            last_success_at=figures.last_success_at,
            last_failure_at=figures.last_failure_at,
            backlog=BacklogOut.of(stats),
            sampled=stats.sampled,
            series=[BucketOut.of(bucket) for bucket in stats.series],
        )


@router.get("", response_model=StatsOut, responses=error_responses(400, 403, 404))
async def get_webhook_stats(
    id: str,
    services: ServicesDep,
    caller: Caller,
    window: Annotated[
        WindowName,
        Query(
            description="The window ending now: 1h (5-minute buckets), 24h (hourly buckets) "
            "or 7d (6-hour buckets)."
        ),
    ] = "24h",
) -> StatsOut:
    """How the webhook's endpoint answered in the window: attempts, successes and
    failures, latency percentiles, the latest success and failure, a series per bucket,
    and its backlog now."""
    return StatsOut.of(await services.health.stats(caller, id, WINDOWS[window]))
