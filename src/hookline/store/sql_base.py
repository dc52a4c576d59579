"""Connections and transactions on SQLAlchemy Core, shared by every part of the SQL store.

A read or a write is a plain function of a synchronous connection, run as one transaction
by `SqlBase._read` or `SqlBase._write`: on PostgreSQL through the async engine
(``run_sync``); on SQLite in a thread of the store's own (one writer, a few readers), where
the whole transaction is one hand-over between threads rather than several for each
statement. Subclasses provide the engines and what differs between the databases: how a
write transaction keeps concurrent caps honest, and how text sorts.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hookline.clock import now
from hookline.errors import StorageUnavailable
from hookline.store import migrations

Insert = sqlite.Insert | postgresql.Insert
# exc.TimeoutError: no pooled connection came free in time (the pool waits for a busy one).
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError, TimeoutError)
# SQLSTATE classes of a connection lost or refused: 08 connection exception, 57 operator
# intervention (terminated by an administrator, the server shutting down or starting up,
# a statement_timeout), and 55P03, a lock_timeout; and 40, transaction rollback (a
# deadlock, a serialization failure): the transaction is gone and trying it again is the
# answer, as for the others.
UNAVAILABLE_SQLSTATES = ("08", "57", "55P03", "40")
T = TypeVar("T")


class Priority(IntEnum):
    """Which writes go first when they wait for SQLite's single writer: a request's, then
    the delivery engine's (fan-out, claims, outcomes), then bulk work (the purge)."""

    API = 0
    DELIVERY = 1
    BULK = 2


# Wake-up channels: deliveries due to claim, events due to fan out, tasks to run.
WORK = "hookline_work"
EVENTS = "hookline_events"
TASKS = "hookline_tasks"
CHANNELS = (WORK, EVENTS, TASKS)
Work = Callable[[sa.Connection], T]


class SqlBase:
    def __init__(self) -> None:
        self._arrivals = {channel: asyncio.Event() for channel in CHANNELS}
        self._wake: asyncio.TimerHandle | None = None
        self._last_arrival = datetime.min.replace(tzinfo=UTC)

    # Connections ---------------------------------------------------------------------

    @abc.abstractmethod
    async def _read(self, work: Work[T]) -> T:
        """Run ``work`` in one read transaction: everything it reads is one snapshot."""

    @abc.abstractmethod
    async def _write(self, work: Work[T], priority: Priority = Priority.API) -> T:
        """Run ``work`` in one write transaction, committed when it returns. ``priority``
        orders writes that wait for the single writer (SQLite); PostgreSQL has no such
        wait."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def _lock_tenant(self, conn: sa.Connection, tenant_id: str) -> None:
        """Serialize writes that check a tenant's caps (the SQLite store's writes already are)."""

    def _insert(self, table: sa.Table) -> Insert:
        """An INSERT that can skip rows whose key exists (``on_conflict_do_nothing``)."""
        return sqlite.insert(table)

    def _now(self) -> datetime:
        return now()

    def _earlier(self, a: sa.ColumnElement[Any], b: sa.ColumnElement[Any]) -> Any:
        """The earlier of two times, in SQL."""
        return sa.func.min(a, b)

    def _announce(self, conn: sa.Connection, channel: str) -> None:
        """Tell other processes that work arrived on ``channel``, when the transaction
        commits."""

    def _arrived(self, channel: str) -> None:
        self._arrivals[channel].set()

    def _wake_at(self, at: datetime) -> None:
        """Announce work here at ``at`` (unless an earlier wake-up is set already)."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max((at - self._now()).total_seconds(), 0.0)
        scheduled = self._wake
        if scheduled is not None and loop.time() < scheduled.when() <= when:
            return
        if scheduled is not None:
            scheduled.cancel()
        self._wake = loop.call_at(when, self._arrived, WORK)

    async def _wait_for(self, channel: str, at_most: float) -> None:
        arrival = self._arrivals[channel]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrival.wait(), at_most)
        arrival.clear()

    async def wait_for_work(self, at_most: float) -> None:
        """Return when deliveries may be due (made here or, on PostgreSQL, anywhere), or
        after ``at_most`` seconds."""
        await self._wait_for(WORK, at_most)

    async def wait_for_events(self, at_most: float) -> None:
        """Return when events may be waiting for fan-out, or after ``at_most`` seconds."""
        await self._wait_for(EVENTS, at_most)

    def _text_sort_key(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.lower(column)

    async def migrate(self) -> None:
        await self._write(migrations.upgrade)

    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute(sa.text("SELECT 1")))


def unavailable(error: BaseException) -> StorageUnavailable:
    return StorageUnavailable(f"the database is unavailable: {error}")


@asynccontextmanager
async def available(
    connecting: AbstractAsyncContextManager[AsyncConnection],
) -> AsyncIterator[AsyncConnection]:
    """A connection; StorageUnavailable when the database cannot be reached, refuses the
    connection (no such database, not accepting connections, bad credentials, too many
    clients), drops it or is locked."""
    connected = False
    try:
        async with connecting as conn:
            connected = True
            yield conn
    except (exc.DBAPIError, *_UNAVAILABLE) as error:
        if connected and not is_unavailable(error):
            raise  # a statement's own error (a constraint, say) is not an outage
        raise unavailable(error) from error


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached, went away or is locked."""
    if isinstance(error, _UNAVAILABLE):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    # asyncpg's own error (the cause of SQLAlchemy's) carries the SQLSTATE.
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(
        error.orig.__cause__ if error.orig else None, "sqlstate", None
    )
    return str(sqlstate or "").startswith(UNAVAILABLE_SQLSTATES)
