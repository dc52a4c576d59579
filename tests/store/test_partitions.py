"""History in days: on PostgreSQL, events, deliveries and attempts live in day partitions
that the purge makes ahead of time and drops whole (hookline.store.partitions); on both
databases a purge keeps everything from its cutoff on, the first instant of a day included,
and migration 0012 takes a database with history in the old layout to the new one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command

from hookline.clock import now
from hookline.deliveries import Attempt
from hookline.events import to_record
from hookline.settings import load_settings
from hookline.store import Store, open_store
from hookline.store.migrations import alembic_config, upgrade
from hookline.store.partitions import DAYS_AHEAD, HISTORY, partition_name, start_of
from hookline.store.queue import EVENT_MARGIN
from hookline.store.schema import UTCDateTime
from tests.databases import BACKENDS, TEST_SECRET_KEY, empty_database
from tests.store.conftest import Clock
from tests.store.factories import event, outcome
from tests.store.queueing import POLICY, claim, history, hook, publish, tenant
from tests.store.test_migration_fanout import _engine

_MICROSECOND = timedelta(microseconds=1)


async def _partitions(database_url: str) -> dict[str, set[str]]:
    """Each history table's partitions, and the rows each holds (by the table's key)."""
    conn = await asyncpg.connect(database_url)
    try:
        found: dict[str, set[str]] = {}
        for history_table in HISTORY:
            rows = await conn.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = $1::regclass",
                history_table.table,
            )
            found[history_table.table] = {row["relname"] for row in rows}
        return found
    finally:
        await conn.close()


async def _where_rows_are(database_url: str, table: str) -> dict[str, str]:
    """Which partition holds each row of a history table (by its first key column)."""
    key = {"events": "id", "deliveries": "id", "delivery_attempts": "delivery_id"}[table]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f"SELECT {key} AS key, tableoid::regclass::text AS p FROM {table}")  # noqa: S608 (our names)
        return {row["key"]: row["p"] for row in rows}
    finally:
        await conn.close()


def _at(store_clock: Clock, moment: datetime) -> None:
    store_clock.stop()
    assert store_clock.stopped_at is not None
    store_clock.offset = moment - store_clock.stopped_at


async def test_a_purge_at_midnight_keeps_what_arrived_at_midnight(
    store: Store, store_clock: Clock, database_url: str
) -> None:
    """Tomorrow's last instant and the first of the day after: a purge at that midnight
    takes the first, keeps the second; PostgreSQL drops the whole day to do it."""
    tomorrow = now().astimezone(UTC).date() + timedelta(days=1)
    midnight = start_of(tomorrow + timedelta(days=1))
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    _at(store_clock, midnight - _MICROSECOND)
    await publish(store, tenant_id, event(tenant_id, "last"), triggered_at=midnight - _MICROSECOND)
    _at(store_clock, midnight)
    await publish(store, tenant_id, event(tenant_id, "first"), triggered_at=midnight)
    claimed = await claim(store)
    await store.record([outcome(item, status="success") for item in claimed], POLICY)

    await store.purge(midnight, 100)

    [kept] = await history(store, tenant_id, target.id)
    assert kept.event_id == "first"
    assert kept.attempts
    assert kept.triggered_at == midnight
    if not database_url.startswith("sqlite"):
        partitions = await _partitions(database_url)
        day_after = tomorrow + timedelta(days=1)
        for history_table in HISTORY[1:]:  # deliveries and attempts
            assert partition_name(history_table, tomorrow) not in partitions[history_table.table]
            assert partition_name(history_table, day_after) in partitions[history_table.table]
        assert set((await _where_rows_are(database_url, "deliveries")).values()) == {
            partition_name(HISTORY[1], day_after)
        }
        # Events stay a day longer (EVENT_MARGIN), each in its own day.
        assert await _where_rows_are(database_url, "events") == {
            "last": partition_name(HISTORY[0], tomorrow),
            "first": partition_name(HISTORY[0], day_after),
        }


@pytest.fixture
def postgres_only(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite keeps plain tables")
    return database_url


async def test_a_purge_makes_the_coming_days_and_moves_their_rows_out_of_the_default(
    store: Store, store_clock: Clock, postgres_only: str
) -> None:
    """A row whose day has no partition yet waits in the default partition; once the
    clock reaches its day, the purge makes the day and the row moves into it."""
    far = now().astimezone(UTC).date() + timedelta(days=DAYS_AHEAD + 10)
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    at = start_of(far) + timedelta(hours=5)
    _at(store_clock, at)
    await publish(store, tenant_id, event(tenant_id, "early-bird"), triggered_at=at)
    assert set((await _where_rows_are(postgres_only, "deliveries")).values()) == {
        "deliveries_default"
    }

    await store.purge(start_of(far) - timedelta(days=30), 100)

    partitions = await _partitions(postgres_only)
    for history_table in HISTORY:
        for n in range(DAYS_AHEAD + 1):
            day = partition_name(history_table, far + timedelta(days=n))
            assert day in partitions[history_table.table]
    for table in ("events", "deliveries"):
        assert set((await _where_rows_are(postgres_only, table)).values()) == {
            f"{table}_p{far:%Y%m%d}"
        }
    [kept] = await history(store, tenant_id, target.id)
    assert kept.event_id == "early-bird"


async def test_a_day_with_an_event_still_to_fan_out_is_not_dropped(
    store: Store, postgres_only: str
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    today = now().astimezone(UTC).date()
    await store.publish(tenant_id, [event(tenant_id, "waiting")])  # not fanned out

    await store.purge(start_of(today + timedelta(days=1)) + EVENT_MARGIN, 100)

    assert partition_name(HISTORY[0], today) in (await _partitions(postgres_only))["events"]
    assert partition_name(HISTORY[1], today) not in (await _partitions(postgres_only))["deliveries"]
    assert await store.publish(tenant_id, [event(tenant_id, "waiting")]) == []


# Migration 0012, from a database with history in the 0011 layout ---------------------


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(request.param, tmp_path) as url:
        yield url


async def test_history_in_the_old_layout_moves_into_days(empty_url: str) -> None:
    engine = _engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0011"))
    finally:
        await engine.dispose()
    store = open_store(load_settings(database_url=empty_url, secret_key=TEST_SECRET_KEY))
    try:
        tenant_id = await tenant(store)
        target = await hook(store, tenant_id)
    finally:
        await store.close()
    today = now().astimezone(UTC).date()
    days = [today - timedelta(days=n) for n in (3, 1, 0)]
    times = [start_of(day) for day in days] + [start_of(days[0]) - _MICROSECOND]
    ids = [str(uuid.uuid4()) for _ in times]
    await _old_history(empty_url, tenant_id, target.id, ids, times)

    engine = _engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()

    store = open_store(load_settings(database_url=empty_url, secret_key=TEST_SECRET_KEY))
    try:
        for delivery_id, at in zip(ids, times, strict=True):
            found = await store.get_delivery(tenant_id, target.id, delivery_id)
            assert found is not None
            assert found.triggered_at == at
            assert found.attempts == (Attempt(1, at, 12.5, 200, None),)
        known = [event(tenant_id, f"e{n}") for n in range(len(times))]
        assert await store.publish(tenant_id, known) == []
        if not empty_url.startswith("sqlite"):
            where = await _where_rows_are(empty_url, "deliveries")
            assert [where[delivery_id] for delivery_id in ids] == [
                partition_name(HISTORY[1], _day(at)) for at in times
            ]
            attempts = await _where_rows_are(empty_url, "delivery_attempts")
            assert [attempts[delivery_id] for delivery_id in ids] == [
                partition_name(HISTORY[2], _day(at)) for at in times
            ]
        # The oldest day goes whole; the day the cutoff begins stays.
        await store.purge(start_of(days[0]), 100)
        left = {item.id for item in await history(store, tenant_id, target.id)}
        assert left == set(ids[:3])
    finally:
        await store.close()


def _day(at: datetime) -> date:
    return at.astimezone(UTC).date()


async def _old_history(
    database_url: str, tenant_id: str, webhook_id: str, ids: list[str], times: list[datetime]
) -> None:
    """Events, ended deliveries and their attempts, as 0011 stored them."""
    engine = _engine(database_url)
    try:
        async with engine.begin() as conn:
            for n, (delivery_id, at) in enumerate(zip(ids, times, strict=True)):
                values = {
                    "tenant": tenant_id,
                    "webhook": webhook_id,
                    "id": delivery_id,
                    "event": f"e{n}",
                    "at": at,
                    "payload": to_record(event(tenant_id, f"e{n}")),
                }
                for insert in _OLD_ROWS:
                    await conn.execute(
                        sa.text(insert).bindparams(sa.bindparam("at", type_=_TIME)), values
                    )
    finally:
        await engine.dispose()


_TIME = UTCDateTime()
# An event, its ended delivery and that delivery's attempt, as 0011 stored them.
_OLD_ROWS = (
    "INSERT INTO events (tenant_id, id, type, received_at, payload)"
    " VALUES (:tenant, :event, 'com.qlik.v1.app.created', :at, :payload)",
    "INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, triggered_at,"
    " status, status_message, cloud_events, trigger, attempt_count, ended_at,"
    " response_status) VALUES (:id, :tenant, :webhook, :event, 'com.qlik.v1.app.created',"
    " :at, 'success', '', false, 'event', 1, :at, 200)",
    "INSERT INTO delivery_attempts (delivery_id, number, started_at, duration_ms,"
    " status_code) VALUES (:id, 1, :at, 12.5, 200)",
)
