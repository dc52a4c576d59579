"""Endpoint health in storage: the attempts of a webhook's window, per bucket and in all,
its backlog, and the bounds on what one window reads. Both databases."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from hookline.clock import now
from hookline.deliveries import Attempt, NewDelivery, Result
from hookline.stats import WINDOWS, EndpointStats, StatsQuery, WindowName
from hookline.store import Store
from hookline.store import stats as stats_store
from hookline.webhooks import Webhook
from tests.store.conftest import Clock
from tests.store.queueing import LEASE, POLICY, hook, tenant

HOUR = WINDOWS["1h"]
DAY = WINDOWS["24h"]
WEEK = WINDOWS["7d"]


async def delivery(
    store: Store, target: Webhook, *, triggered_at: datetime, due_at: datetime | None = None
) -> NewDelivery:
    """A delivery of ``target``, leased now (as a resend is): due at the lease's end."""
    new = NewDelivery(
        id=str(uuid.uuid4()),
        tenant_id=target.tenant_id,
        webhook_id=target.id,
        event_id=f"e-{uuid.uuid4().hex[:8]}",
        event_type="com.qlik.v1.app.created",
        cloud_events=False,
        triggered_at=triggered_at,
        next_attempt_at=due_at or triggered_at,
    )
    await store.add_delivery(new, owner="tests", lease_seconds=LEASE)
    return new


async def attempted(
    store: Store,
    target: Webhook,
    made: NewDelivery,
    *,
    started_at: datetime,
    duration_ms: float = 100.0,
    status_code: int | None = 200,
    number: int = 1,
    retry_at: datetime | None = None,
) -> None:
    """Record attempt ``number`` of a delivery; it ends the delivery unless ``retry_at``."""
    ok = status_code is not None and 200 <= status_code < 300
    result = Result(
        delivery_id=made.id,
        tenant_id=target.tenant_id,
        webhook_id=target.id,
        triggered_at=made.triggered_at,
        attempt=Attempt(
            number, started_at, duration_ms, status_code, None if status_code else "timed out"
        ),
        status="success" if ok else "fail",
        status_message="",
        next_attempt_at=retry_at,
        request_url=target.url,
        request_headers={},
        response_status=status_code,
        response_headers={},
        response_body="",
    )
    await store.record([result], POLICY)


async def sent(
    store: Store,
    target: Webhook,
    started_at: datetime,
    *,
    duration_ms: float = 100.0,
    status_code: int | None = 200,
) -> str:
    """A delivery that ended with one attempt, started at ``started_at``."""
    made = await delivery(store, target, triggered_at=started_at)
    await attempted(
        store, target, made, started_at=started_at, duration_ms=duration_ms, status_code=status_code
    )
    return made.id


async def stats_of(
    store: Store, target: Webhook, window: WindowName, until: datetime
) -> EndpointStats:
    return await store.endpoint_stats(
        StatsQuery(target.tenant_id, target.id, WINDOWS[window], until)
    )


async def test_a_webhook_without_attempts_has_empty_figures_and_every_bucket(
    store: Store,
) -> None:
    target = await hook(store, await tenant(store))
    until = now()

    stats = await stats_of(store, target, "24h", until)

    assert stats.figures.attempts == 0
    assert stats.figures.success_rate is None
    assert stats.figures.p50_ms is None
    assert stats.figures.last_success_at is None
    assert stats.backlog.count == 0
    assert stats.backlog.exact
    assert stats.oldest_backlog_age is None
    assert not stats.sampled
    assert [bucket.start for bucket in stats.series] == StatsQuery(
        target.tenant_id, target.id, DAY, until
    ).bucket_starts()
    assert all(bucket.figures.attempts == 0 for bucket in stats.series)


async def test_counts_rates_percentiles_and_the_latest_success_and_failure(
    store: Store,
) -> None:
    target = await hook(store, await tenant(store))
    until = now()
    base = until - timedelta(minutes=30)
    for n in range(1, 21):  # 10, 20, ... 200 ms; the 5th and the 12th fail
        code = 500 if n in (5, 12) else 200
        await sent(
            store, target, base + timedelta(seconds=n), duration_ms=10.0 * n, status_code=code
        )

    figures = (await stats_of(store, target, "1h", until)).figures

    assert (figures.attempts, figures.successes, figures.failures) == (20, 18, 2)
    assert figures.success_rate == pytest.approx(0.9)
    assert figures.p50_ms == 100.0  # the 10th of 20 (nearest rank)
    assert figures.p95_ms == 190.0  # the 19th
    assert figures.last_success_at == base + timedelta(seconds=20)
    assert figures.last_failure_at == base + timedelta(seconds=12)


async def test_attempts_fall_in_the_bucket_they_started_in(store: Store) -> None:
    target = await hook(store, await tenant(store))
    until = now()
    query = StatsQuery(target.tenant_id, target.id, HOUR, until)
    starts = query.bucket_starts()
    await sent(store, target, starts[0], duration_ms=50.0)  # the window's first moment
    await sent(store, target, starts[1] - timedelta(milliseconds=1), status_code=503)
    await sent(store, target, starts[1], duration_ms=70.0)
    await sent(store, target, starts[1] + timedelta(seconds=1), duration_ms=90.0)

    stats = await store.endpoint_stats(query)

    counts = [(b.figures.successes, b.figures.failures) for b in stats.series]
    assert counts[:3] == [(1, 1), (2, 0), (0, 0)]
    assert sum(b.figures.attempts for b in stats.series) == stats.figures.attempts == 4
    assert stats.series[1].figures.p95_ms == 90.0
    assert stats.series[2].figures.p95_ms is None


async def test_the_window_holds_attempts_from_its_start_to_its_end_inclusive(
    store: Store,
) -> None:
    target = await hook(store, await tenant(store))
    until = now() - timedelta(minutes=1)
    since = until - HOUR.span
    await sent(store, target, since - timedelta(milliseconds=1), status_code=500)
    await sent(store, target, since)
    await sent(store, target, until)
    await sent(store, target, until + timedelta(milliseconds=1), status_code=500)

    figures = (await stats_of(store, target, "1h", until)).figures

    assert (figures.attempts, figures.failures) == (2, 0)
    assert figures.last_success_at == until


async def test_each_window_has_its_buckets(store: Store) -> None:
    target = await hook(store, await tenant(store))
    until = now()
    await sent(store, target, until - WEEK.span + timedelta(seconds=1), status_code=500)
    await sent(store, target, until - timedelta(hours=23))
    await sent(store, target, until - timedelta(minutes=59))

    hour = await stats_of(store, target, "1h", until)
    day = await stats_of(store, target, "24h", until)
    week = await stats_of(store, target, "7d", until)

    assert [stats.figures.attempts for stats in (hour, day, week)] == [1, 2, 3]
    for stats, size in ((hour, HOUR), (day, DAY), (week, WEEK)):
        assert stats.series[0].start == until - size.span
        assert all(b.start.timestamp() % size.bucket.total_seconds() == 0 for b in stats.series[1:])
    assert week.series[0].figures.failures == 1


async def test_retries_count_each_attempt_and_a_retrying_delivery_is_backlog(
    store: Store,
) -> None:
    target = await hook(store, await tenant(store))
    until = now()
    triggered = until - timedelta(minutes=20)
    retrying = await delivery(store, target, triggered_at=triggered)
    await attempted(
        store,
        target,
        retrying,
        started_at=triggered,
        status_code=500,
        retry_at=until + timedelta(minutes=5),
    )
    done = await delivery(store, target, triggered_at=until - timedelta(minutes=10))
    for number, code in ((1, None), (2, 200)):
        started = until - timedelta(minutes=10 - number)
        await attempted(
            store,
            target,
            done,
            started_at=started,
            status_code=code,
            number=number,
            retry_at=until if code is None else None,
        )

    stats = await stats_of(store, target, "1h", until)

    assert (stats.figures.attempts, stats.figures.successes) == (3, 1)
    assert stats.backlog.count == 1
    assert stats.backlog.oldest_triggered_at == triggered
    assert stats.oldest_backlog_age == timedelta(minutes=20)


async def test_the_backlog_counts_pending_and_leased_deliveries_oldest_first(
    store: Store,
) -> None:
    target = await hook(store, await tenant(store))
    until = now()
    await delivery(store, target, triggered_at=until - timedelta(hours=3))  # leased
    await delivery(store, target, triggered_at=until - timedelta(hours=1), due_at=until)
    await sent(store, target, until - timedelta(hours=5))  # ended: not backlog

    stats = await stats_of(store, target, "24h", until)

    assert (stats.backlog.count, stats.backlog.exact) == (2, True)
    assert stats.oldest_backlog_age == timedelta(hours=3)


async def test_the_backlog_is_counted_up_to_its_cap(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats_store, "BACKLOG_CAP", 3)
    target = await hook(store, await tenant(store))
    until = now()
    for minutes in range(5):
        await delivery(store, target, triggered_at=until - timedelta(minutes=minutes))

    backlog = (await stats_of(store, target, "1h", until)).backlog

    assert (backlog.count, backlog.exact) == (3, False)


async def test_only_the_webhooks_own_attempts_count(store: Store) -> None:
    mine, theirs = await tenant(store), await tenant(store, "other")
    target = await hook(store, mine, 1)
    sibling = await hook(store, mine, 2)
    foreign = await hook(store, theirs, 3)
    until = now()
    await sent(store, target, until - timedelta(minutes=5))
    await sent(store, sibling, until - timedelta(minutes=5), status_code=500)
    await sent(store, foreign, until - timedelta(minutes=5), status_code=500)
    await delivery(store, foreign, triggered_at=until - timedelta(minutes=1))

    stats = await stats_of(store, target, "1h", until)
    assert (stats.figures.attempts, stats.figures.failures, stats.backlog.count) == (1, 0, 0)

    # the webhook's id under another tenant is nothing
    elsewhere = StatsQuery(theirs, target.id, HOUR, until)
    assert (await store.endpoint_stats(elsewhere)).figures.attempts == 0


async def test_a_busy_window_is_read_as_a_sample_of_the_latest_of_each_bucket(
    store: Store, monkeypatch: pytest.MonkeyPatch, store_clock: Clock
) -> None:
    last_start = StatsQuery("t", "w", HOUR, now()).bucket_starts()[-1] - HOUR.bucket
    until = last_start + timedelta(minutes=3)  # in the past, 3 minutes into its last bucket
    parts = len(StatsQuery("t", "w", HOUR, until).bucket_starts()) + 1
    monkeypatch.setattr(stats_store, "SAMPLE_DELIVERIES", 2 * parts)  # two per part
    target = await hook(store, await tenant(store))
    for n in range(4):  # four deliveries that ended in the last bucket, in turn
        started = last_start + timedelta(seconds=n)
        store_clock.offset = started - now()
        await sent(store, target, started, status_code=500 if n < 2 else 200)

    stats = await stats_of(store, target, "1h", until)

    assert stats.sampled
    assert (stats.figures.attempts, stats.figures.successes) == (2, 2)  # the latest two
