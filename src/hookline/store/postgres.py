"""The shared store: PostgreSQL through asyncpg; many hookline processes may use one."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from hookline.store import bounds
from hookline.store.schema import tenants
from hookline.store.sql import SqlStore
from hookline.store.sql_base import CHANNELS, Insert


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        engine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            hide_parameters=True,  # errors are logged: keep the values out
        )
        sa.event.listen(engine.sync_engine, "connect", _check_for_the_client)
        sa.event.listen(engine.sync_engine, "begin", _bound_transaction)
        super().__init__(engine)
        self._listener_url = asyncpg_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)
        self._listener: asyncpg.Connection | None = None

    def _insert(self, table: sa.Table) -> Insert:
        return postgresql.insert(table)

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
        await super().close()

    def _lock_tenant(self, conn: sa.Connection, tenant_id: str) -> None:
        conn.execute(sa.select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update())

    def _text_sort_key(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # Byte order, as on SQLite, whatever collation the database was created with.
        return sa.func.lower(column).collate("C")


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
