"""Connections and transactions on SQLAlchemy Core, shared by every part of the SQL store.

Subclasses provide the engines and what differs between the databases: how a write
transaction keeps concurrent caps honest, and how text sorts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookline.clock import now
from hookline.errors import StorageUnavailable
from hookline.store import migrations

Insert = sqlite.Insert | postgresql.Insert
# exc.TimeoutError: no pooled connection came free in time (the pool waits for a busy one).
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError, TimeoutError)
# SQLSTATE classes of a connection lost or refused: 08 connection exception, 57 operator
# intervention (terminated by an administrator, the server shutting down or starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57")


class SqlBase:
    def __init__(self, read_engine: AsyncEngine, write_engine: AsyncEngine) -> None:
        self._read_engine = read_engine
        self._write_engine = write_engine
        self._work = asyncio.Event()

    # Connections ---------------------------------------------------------------------

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        with _unavailable_raised():
            async with self._read_engine.connect() as conn:
                yield conn

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        with _unavailable_raised():
            async with self._write_engine.begin() as conn:
                yield conn

    async def _lock_tenant(self, conn: AsyncConnection, tenant_id: str) -> None:
        """Serialize writes that check a tenant's caps (the SQLite store's writes already are)."""

    def _insert(self, table: sa.Table) -> Insert:
        """An INSERT that can skip rows whose key exists (``on_conflict_do_nothing``)."""
        return sqlite.insert(table)

    def _now(self) -> datetime:
        return now()

    async def _announce_work(self, conn: AsyncConnection) -> None:
        """Tell other processes that work is due, when the transaction commits."""

    def _work_arrived(self) -> None:
        self._work.set()

    async def wait_for_work(self, at_most: float) -> None:
        """Return when new work may be due (published here or, on PostgreSQL, anywhere),
        or after ``at_most`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), at_most)
        self._work.clear()

    def _text_sort_key(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.lower(column)

    async def migrate(self) -> None:
        async with self._writing() as conn:
            await conn.run_sync(migrations.upgrade)

    async def ping(self) -> None:
        async with self._reading() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self._read_engine.dispose()
        if self._write_engine is not self._read_engine:
            await self._write_engine.dispose()


@contextlib.contextmanager
def _unavailable_raised() -> Iterator[None]:
    """Turn a database that cannot be reached, went away or is locked into
    StorageUnavailable; let any other error through."""
    try:
        yield
    except (exc.DBAPIError, *_UNAVAILABLE) as error:
        if not _is_unavailable(error):
            raise
        raise StorageUnavailable(f"the database is unavailable: {error}") from error


def _is_unavailable(error: BaseException) -> bool:
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
    return str(sqlstate or "")[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
