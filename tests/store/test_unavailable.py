"""A database that does not answer is a StorageUnavailable, never a driver error."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Awaitable

import asyncpg
import pytest

from hookline.deliveries import Attempt, FailurePolicy, Result
from hookline.errors import ConfigError, StorageUnavailable
from hookline.settings import load_settings
from hookline.store import Store, open_store
from hookline.store.postgres import _unavailable as postgres_unavailable
from tests.databases import POSTGRES_ADMIN_URL, TEST_SECRET_KEY, postgres_missing
from tests.ports import refused_port
from tests.store.factories import START, event
from tests.store.queueing import ROOMY, claim, hook, publish, tenant


def _success(delivery_id: str) -> Result:
    return Result(
        delivery_id=delivery_id,
        tenant_id="t1",
        webhook_id="w1",
        triggered_at=START,
        attempt=Attempt(1, START, 12.5, 200, None),
        status="success",
        status_message="HTTP 200",
        next_attempt_at=None,
        request_url="https://hooks.example.test/",
        request_headers={},
        response_status=200,
        response_headers={},
        response_body="ok",
    )


async def test_an_unreachable_postgres_is_unavailable() -> None:
    with refused_port() as port:
        await _unavailable_everywhere(f"postgresql://postgres@127.0.0.1:{port}/nothing")


async def _unavailable_everywhere(url: str) -> None:
    store = open_store(load_settings(database_url=url, secret_key=TEST_SECRET_KEY))
    try:
        with pytest.raises(StorageUnavailable):
            await store.ping()
        with pytest.raises(StorageUnavailable):
            await store.list_tenants()
        with pytest.raises(StorageUnavailable):
            await store.publish("t1", [event("t1")])
        with pytest.raises(StorageUnavailable):
            await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=60)
        with pytest.raises(StorageUnavailable):
            await store.claim(owner="w", limit=10, lease_seconds=60, room=ROOMY)
        with pytest.raises(StorageUnavailable):
            await store.record([_success("d1")], FailurePolicy())
    finally:
        await store.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_claim_on_a_dropped_connection_is_unavailable_once(
    database_url: str, store: Store
) -> None:
    """Claims and outcomes use connections nobody pings first: one the server dropped
    fails its statement as the database being unavailable (the worker retries), and the
    next claim gets a new connection."""
    assert await store.claim(owner="w", limit=10, lease_seconds=60, room=ROOMY) == []
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database_url.rpartition("/")[2],
        )
    finally:
        await admin.close()
    with pytest.raises(StorageUnavailable):
        await store.claim(owner="w", limit=10, lease_seconds=60, room=ROOMY)
    assert await store.claim(owner="w", limit=10, lease_seconds=60, room=ROOMY) == []
    await store.record([_success("gone")], FailurePolicy())  # no such delivery: nothing


def test_a_sqlite_file_in_a_missing_directory_is_a_config_error() -> None:
    settings = load_settings(database_url="sqlite:////nonexistent/dir/hookline.db")
    with pytest.raises(ConfigError, match="/nonexistent/dir does not exist"):
        open_store(settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_sqlite_database_locked_by_another_process_is_unavailable(
    database_url: str, store: Store
) -> None:
    """Past the busy timeout, a claim (of deliveries or of events to fan out) on a
    database another process holds is a StorageUnavailable (the worker or expander
    retries), and works again once the lock is gone."""
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        claims: list[Awaitable[object]] = [
            store.claim(owner=f"w{n}", limit=10, lease_seconds=60, room=ROOMY) for n in range(8)
        ]
        claims += [store.claim_fanout(limit=10, per_tenant=5, lease_seconds=60) for _ in range(2)]
        # Queued behind one writer, they would wait 5 s each in turn (50 s); they give up
        # together instead.
        failed = await asyncio.wait_for(asyncio.gather(*claims, return_exceptions=True), 20)
        assert all(isinstance(error, StorageUnavailable) for error in failed)
        assert all("locked" in str(error) for error in failed)
        holder.execute("ROLLBACK")
        assert await store.claim(owner="w", limit=10, lease_seconds=60, room=ROOMY) == []
        assert (await store.claim_fanout(limit=10, per_tenant=5, lease_seconds=60)).events == []
    finally:
        holder.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_claim_waits_its_turn_while_another_process_briefly_holds_sqlite(
    database_url: str, store: Store
) -> None:
    """Within the busy timeout, a claim waits for the write lock another process holds
    for a moment, and succeeds."""
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, holder.execute, "ROLLBACK")
        claimed = await asyncio.wait_for(claim(store), 10)
    finally:
        holder.close()
    assert [item.event_id for item in claimed] == ["e1"]


def test_a_missing_postgres_database_is_unavailable() -> None:
    if reason := postgres_missing():
        pytest.skip(reason)
    missing = POSTGRES_ADMIN_URL.rpartition("/")[0] + "/hookline_no_such_database"
    store = open_store(load_settings(database_url=missing, secret_key=TEST_SECRET_KEY))

    async def ping_and_migrate() -> None:
        try:
            with pytest.raises(StorageUnavailable, match="does not exist"):
                await store.ping()
            with pytest.raises(StorageUnavailable, match="does not exist"):
                await store.migrate()
        finally:
            await store.close()

    asyncio.run(ping_and_migrate())


async def test_a_deadlock_is_a_transaction_to_try_again() -> None:
    """Two transactions that take two locks in opposite orders: PostgreSQL ends one with a
    deadlock (40P01), which hookline takes as it takes an outage: retried by the engine,
    a 503 for an API client, never a 500."""
    if reason := postgres_missing():
        pytest.skip(reason)
    keys = (secrets.randbits(62), secrets.randbits(62))
    first = await asyncpg.connect(POSTGRES_ADMIN_URL)
    second = await asyncpg.connect(POSTGRES_ADMIN_URL)
    holding = [asyncio.Event(), asyncio.Event()]
    errors: list[asyncpg.PostgresError] = []

    async def lock(conn: asyncpg.Connection, mine: int) -> None:
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", keys[mine])
                holding[mine].set()
                await holding[1 - mine].wait()
                await conn.execute("SELECT pg_advisory_xact_lock($1)", keys[1 - mine])
        except asyncpg.PostgresError as error:
            errors.append(error)

    try:
        await asyncio.gather(lock(first, 0), lock(second, 1))
    finally:
        await first.close()
        await second.close()
    [deadlock] = errors
    assert deadlock.sqlstate == "40P01"
    assert postgres_unavailable(deadlock)
