"""The shared store: PostgreSQL through asyncpg; many hookline processes may use one.

Claims and the record of outcomes, the statements every delivery passes through, go to
asyncpg directly (`hookline.store.postgres_delivery`), one statement each, on a pool of
their own that does not ping a connection before each use (SQLAlchemy's ping is three
round trips on asyncpg): a connection found broken is dropped, the claim or record fails
as the database being unavailable, and the worker tries again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from hookline.deliveries import Claimed, FailurePolicy, NewDelivery, Result
from hookline.shares import Room
from hookline.store import bounds, partitions, postgres_delivery
from hookline.store.base import Purged
from hookline.store.partitions import ATTEMPTS, DELIVERIES, EVENTS
from hookline.store.queue import EVENT_MARGIN, HistoryTables, purge_rows, to_claimed
from hookline.store.schema import UTCDateTime, events, tenants
from hookline.store.sql import SqlStore
from hookline.store.sql_base import (
    CHANNELS,
    UNAVAILABLE_SQLSTATES,
    Insert,
    Priority,
    T,
    Work,
    available,
    unavailable,
)

# The advisory locks of a tenant's publishing: (this, hashtext(tenant id)).
PUBLISHING_LOCK = 7_262_737


# No JIT compilation: hookline's statements are short, and PostgreSQL's estimate for one
# over every day partition of a big history passes `jit_above_cost`; compiling then took
# 477 ms of a 571 ms claim (measured with 24,000,000 deliveries of history).
SERVER_SETTINGS = {"jit": "off"}


class PostgresStore(SqlStore):
    _lateral_joins = True

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        engine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            hide_parameters=True,  # errors are logged: keep the values out
            connect_args={"server_settings": SERVER_SETTINGS},
        )
        sa.event.listen(engine.sync_engine, "connect", _check_for_the_client)
        sa.event.listen(engine.sync_engine, "begin", _bound_transaction)
        super().__init__()
        self._engine = engine
        # The dispatcher claims and records concurrently: two connections, two more for
        # a second dispatcher's worth of overlap.
        # Generic plans: a plan made for each execution covers every day partition of the
        # history (claim p50 170 ms against 32 ms with a generic plan, which prunes the
        # days at run time, with 24,000,000 deliveries of history). They cost a small
        # database 100-180 us of server CPU a delivery end to end (docs/benchmarks.md).
        self._delivery_engine = create_async_engine(
            asyncpg_url(url),
            pool_size=2,
            max_overflow=2,
            hide_parameters=True,
            connect_args={
                "server_settings": {**SERVER_SETTINGS, "plan_cache_mode": "force_generic_plan"}
            },
        )
        sa.event.listen(self._delivery_engine.sync_engine, "connect", _check_for_the_client)
        self._listener_url = asyncpg_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)
        self._listener: asyncpg.Connection | None = None
        self._paced_due = True

    async def _read(self, work: Work[T]) -> T:
        async with available(self._engine.connect()) as conn:
            return await conn.run_sync(work)

    async def _write(self, work: Work[T], priority: Priority = Priority.API) -> T:
        async with available(self._engine.begin()) as conn:
            return await conn.run_sync(work)

    def _insert(self, table: sa.Table) -> Insert:
        return postgresql.insert(table)

    def _insert_deliveries(self, conn: sa.Connection, planned: Sequence[NewDelivery]) -> None:
        if planned:
            conn.execute(
                postgres_delivery.INSERT_DELIVERIES,
                postgres_delivery.insert_deliveries_arguments(planned),
            )

    def _announce(self, conn: sa.Connection, channel: str) -> None:
        conn.execute(sa.select(sa.func.pg_notify(channel, "")))

    def _earlier(self, a: sa.ColumnElement[Any], b: sa.ColumnElement[Any]) -> Any:
        return sa.func.least(a, b)

    async def _wait_for(self, channel: str, at_most: float) -> None:
        await self._listen()
        await super()._wait_for(channel, at_most)

    async def _listen(self) -> None:
        """Keep a connection LISTENing for work announced by any process; without one
        (the database is away), waiting falls back to polling."""
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._listener_url, timeout=5)
            for channel in CHANNELS:
                await self._listener.add_listener(
                    channel, lambda _c, _p, name, _m: self._arrived(name)
                )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            self._listener = None

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._delivery_engine.dispose()
        await self._engine.dispose()

    async def claim(
        self, *, owner: str, limit: int, lease_seconds: float, room: Room
    ) -> list[Claimed]:
        """Rate-limited and ordered webhooks (hookline.pacing) through the general claim,
        the others in one statement, which says whether paced ones are due. Paced ones go
        first when the last claim saw some due (a claim that fills up with the others
        would starve them), else after the others when this one sees some."""
        claimed: list[Claimed] = []
        paced_first = self._paced_due
        if paced_first:
            claimed += await self._claim(owner, limit, lease_seconds, room, paced_only=True)
        if len(claimed) < limit:
            claimed += await self._claim_unpaced(
                owner, limit - len(claimed), lease_seconds, _with(room, claimed)
            )
            if self._paced_due and not paced_first and len(claimed) < limit:
                claimed += await self._claim(
                    owner,
                    limit - len(claimed),
                    lease_seconds,
                    _with(room, claimed),
                    paced_only=True,
                )
        return claimed

    async def _claim_unpaced(
        self, owner: str, limit: int, lease_seconds: float, room: Room
    ) -> list[Claimed]:
        now = self._now()
        until = now + timedelta(seconds=lease_seconds)
        arguments = postgres_delivery.claim_arguments(
            now=now, until=until, owner=owner, limit=limit, room=room
        )
        rows = await self._fetch(postgres_delivery.CLAIM, arguments)
        self._paced_due = rows[0]["paced_due"]
        return to_claimed(*postgres_delivery.claimed_rows(rows))

    async def record(self, results: list[Result], failures: FailurePolicy) -> None:
        """One statement, unless an outcome may disable its webhook (it says so, or it
        failed for the last time) or end its failing run (a success of a webhook failing
        when claimed): then the general path, which decides."""
        if any(result.disable is not None or result.moves_run for result in results):
            await super().record(results, failures)
        elif results:
            arguments = postgres_delivery.record_arguments(results, self._now())
            await self._fetch(postgres_delivery.RECORD, arguments)

    async def _fetch(self, statement: str, arguments: tuple[Any, ...]) -> list[asyncpg.Record]:
        """Run one statement on the delivery pool, as its own transaction."""
        async with available(self._delivery_engine.connect()) as conn:
            pooled = await conn.get_raw_connection()
            driver = pooled.driver_connection
            assert driver is not None
            try:
                rows: list[asyncpg.Record] = await driver.fetch(statement, *arguments)
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                OSError,
            ) as error:
                if not _unavailable(error):
                    raise
                pooled.invalidate(error)
                raise unavailable(error) from error
            return rows

    def _insert_new_events(
        self, conn: sa.Connection, tenant_id: str, rows: list[dict[str, Any]]
    ) -> set[str]:
        """Events' primary keys hold their day (they are partitioned by it), so a key
        conflict no longer says an id was used: the ids are looked up in every day, under
        a lock on the tenant's publishing that concurrent publishes wait for."""
        conn.execute(
            sa.select(sa.func.pg_advisory_xact_lock(PUBLISHING_LOCK, sa.func.hashtext(tenant_id)))
        )
        used = set(
            conn.execute(
                sa.select(events.c.id).where(
                    events.c.tenant_id == tenant_id,
                    events.c.id.in_([row["id"] for row in rows]),
                )
            ).scalars()
        )
        new = [row for row in rows if row["id"] not in used]
        if new:
            conn.execute(events.insert(), new)
        return {row["id"] for row in new}

    async def purge(self, before: datetime, batch: int) -> Purged:
        """Make the coming days' partitions, drop the days wholly past the retention (each
        table's), and delete in batches what the default partitions hold of the rest."""

        def work(conn: sa.Connection) -> Purged:
            partitions.lock_briefly(conn)
            for history in partitions.HISTORY:
                partitions.create_days(conn, history, partitions.days_ahead(self._now()))
            days = _drop_expired(conn, DELIVERIES, before)
            _drop_expired(conn, ATTEMPTS, before)
            _drop_expired(conn, EVENTS, before - EVENT_MARGIN)
            rows = purge_rows(conn, before, batch, _DEFAULT_PARTITIONS)
            return Purged(rows.deliveries, rows.events, len(days))

        return await self._write(work, Priority.BULK)

    def _lock_tenant(self, conn: sa.Connection, tenant_id: str) -> None:
        conn.execute(sa.select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update())

    def _text_sort_key(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # Byte order, as on SQLite, whatever collation the database was created with.
        return sa.func.lower(column).collate("C")


def _drop_expired(conn: sa.Connection, history: partitions.History, before: datetime) -> list[date]:
    """Drop the days of ``history`` wholly before ``before``; events' only once none of
    them waits for fan-out (however old, they are not history yet)."""
    days = partitions.expired(partitions.partition_days(conn, history), before)
    if history == EVENTS:
        waiting = partitions.waiting_event_days(conn, days)
        days = [day for day in days if day not in waiting]
    return partitions.drop_days(conn, history, days)


def _default_partition(history: partitions.History, *columns: str) -> sa.TableClause:
    times = {history.column, "received_at", "triggered_at", "fanout_at"}
    return sa.table(
        partitions.default_name(history),
        *(sa.column(name, UTCDateTime if name in times else sa.String) for name in columns),
    )


_DEFAULT_PARTITIONS = HistoryTables(
    events=_default_partition(EVENTS, "tenant_id", "id", "received_at", "fanout_at"),
    deliveries=_default_partition(DELIVERIES, "id", "triggered_at"),
    attempts=_default_partition(ATTEMPTS, "delivery_id"),
)


def _with(room: Room, claimed: list[Claimed]) -> Room:
    return room.with_taken((item.tenant_id, item.webhook_id) for item in claimed)


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, asyncpg.PostgresError):
        return str(error.sqlstate or "").startswith(UNAVAILABLE_SQLSTATES)
    # The connection is gone or unreachable, or asyncpg lost track of it (a server that
    # ended the connection mid-protocol leaves "another operation is in progress").
    return True


def _check_for_the_client(dbapi_connection: Any, _record: Any) -> None:
    """Have PostgreSQL (14 and later) check every second, while a statement runs, that
    hookline is still connected, and end the statement when it is not: a statement
    whose request was cancelled, or whose process died, does not run on."""
    if dbapi_connection.driver_connection.get_server_version().major < 14:
        return
    # A server on a system without the poll() flag it needs refuses the setting: do without.
    with contextlib.suppress(asyncpg.PostgresError):
        dbapi_connection.run_async(
            lambda driver: driver.execute("SET client_connection_check_interval = 1000")
        )


def _bound_transaction(conn: sa.Connection) -> None:
    """Within a bound (an API request's, see store.bounds), a statement of this transaction
    that runs or waits for a lock longer is cancelled by PostgreSQL itself (SQLSTATE 57014
    or 55P03, a 503), even if hookline is gone by then."""
    seconds = bounds.statement_timeout()
    if seconds is not None:
        limit = str(max(1, round(seconds * 1000)))  # milliseconds
        conn.execute(
            sa.select(
                sa.func.set_config("statement_timeout", limit, True),
                sa.func.set_config("lock_timeout", limit, True),
            )
        )


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy's asyncpg URL; libpq's ``sslmode`` becomes ``ssl``."""
    parts = urlsplit(url)
    query = [("ssl" if key == "sslmode" else key, value) for key, value in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=urlencode(query)))
