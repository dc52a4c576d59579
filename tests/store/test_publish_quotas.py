"""Publishing quotas kept in the database: a publish over the tenant's bucket stores
nothing and says when to retry, whichever process publishes. Both databases."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from hookline.events import MAX_EVENTS, Event
from hookline.quotas import Quota, QuotaExceeded
from hookline.store import Store
from hookline.store.postgres import PUBLISHING_LOCK
from tests.store.conftest import Clock
from tests.store.factories import event
from tests.store.queueing import another_store, tenant

# A whole request's worth of events (the least a bucket holds), refilled at one a second.
postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
TINY = Quota(events_per_second=1, bytes_per_second=10_000_000, burst_seconds=1)
SLOW = Quota(events_per_second=0.01, bytes_per_second=10_000_000, burst_seconds=1)


def _batch(tenant_id: str, prefix: str, count: int = MAX_EVENTS) -> list[Event]:
    return [event(tenant_id, f"{prefix}{n}") for n in range(count)]


async def test_a_publish_over_the_quota_stores_nothing_and_says_when_to_retry(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    first = _batch(tenant_id, "a")
    assert await store.publish(tenant_id, first, TINY) == first

    over = [event(tenant_id, "b0"), event(tenant_id, "b1")]
    with pytest.raises(QuotaExceeded) as refused:
        await store.publish(tenant_id, over, TINY)
    assert refused.value.retry_after >= 1
    # nothing was stored: both are new without a quota
    assert await store.publish(tenant_id, over) == over


async def test_a_quota_holds_per_tenant(store: Store, store_clock: Clock) -> None:
    store_clock.stop()  # no refill by a slow machine's seconds between the publishes
    tenant_id = await tenant(store)
    other_id = await tenant(store, "other")
    await store.publish(tenant_id, _batch(tenant_id, "a"), TINY)
    with pytest.raises(QuotaExceeded):
        await store.publish(tenant_id, [event(tenant_id, "b")], TINY)
    assert len(await store.publish(other_id, _batch(other_id, "a"), TINY)) == MAX_EVENTS


async def test_the_bucket_refills_with_time(store: Store, store_clock: Clock) -> None:
    store_clock.stop()  # refilled by advance alone, not by a slow machine's seconds
    tenant_id = await tenant(store)
    await store.publish(tenant_id, _batch(tenant_id, "a"), TINY)
    with pytest.raises(QuotaExceeded) as refused:
        await store.publish(tenant_id, _batch(tenant_id, "b", 10), TINY)
    assert 9 <= refused.value.retry_after <= 11

    store_clock.advance(10.5)
    assert len(await store.publish(tenant_id, _batch(tenant_id, "b", 10), TINY)) == 10
    with pytest.raises(QuotaExceeded):
        await store.publish(tenant_id, [event(tenant_id, "c")], TINY)


async def test_another_process_on_the_database_spends_the_same_bucket(
    store: Store, database_url: str
) -> None:
    """The other store keeps its own (real) clock, so the bucket refills too slowly for a
    slow machine's seconds between the publishes to add an event."""
    tenant_id = await tenant(store)
    await store.publish(tenant_id, _batch(tenant_id, "a", MAX_EVENTS - 1), SLOW)
    async with another_store(database_url) as other:
        assert await other.publish(tenant_id, [event(tenant_id, "b")], SLOW) != []
        with pytest.raises(QuotaExceeded):
            await other.publish(tenant_id, [event(tenant_id, "c")], SLOW)
    with pytest.raises(QuotaExceeded):
        await store.publish(tenant_id, [event(tenant_id, "c")], SLOW)


@postgres_only
async def test_two_first_publishes_of_a_tenant_at_once_share_one_bucket(
    store: Store, database_url: str
) -> None:
    """The tenant has no bucket yet, and two processes publish a whole bucket's worth at
    the same moment: one is refused."""
    tenant_id = await tenant(store)
    held = await asyncpg.connect(database_url)
    try:
        # Hold the first publish in its transaction (after it took its quota) by
        # holding the lock its insert of events takes, until the second has begun.
        holding = held.transaction()
        await holding.start()
        await held.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", PUBLISHING_LOCK, tenant_id
        )
        async with another_store(database_url) as other:
            first = asyncio.create_task(store.publish(tenant_id, _batch(tenant_id, "a"), TINY))
            await _until_waiting_for_locks(held, 1)
            second = asyncio.create_task(other.publish(tenant_id, _batch(tenant_id, "b"), TINY))
            await _until_waiting_for_locks(held, 2, second)
            await holding.rollback()
            outcomes = await asyncio.gather(first, second, return_exceptions=True)
    finally:
        await held.close()
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["QuotaExceeded", "list"]


async def _until_waiting_for_locks(
    conn: asyncpg.Connection, count: int, task: asyncio.Task[object] | None = None
) -> None:
    # (in a transaction, pg_stat_activity answers the same snapshot until cleared)
    waiting = (
        "SELECT count(*) FROM pg_stat_activity, pg_stat_clear_snapshot()"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        if (task is not None and task.done()) or await conn.fetchval(waiting) >= count:
            return
        await asyncio.sleep(0.01)
    rows = await conn.fetch(
        "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity"
        " WHERE datname = current_database()"
    )
    raise AssertionError(f"never {count} transactions waiting for a lock: {rows}")
