"""The shared store: PostgreSQL through asyncpg; many hookline processes may use one."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from hookline.store.schema import tenants
from hookline.store.sql import SqlStore
from hookline.store.sql_base import CHANNELS, Insert


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        engine = create_async_engine(
            asyncpg_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
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


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy's asyncpg URL; libpq's ``sslmode`` becomes ``ssl``."""
    parts = urlsplit(url)
    query = [("ssl" if key == "sslmode" else key, value) for key, value in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=urlencode(query)))
