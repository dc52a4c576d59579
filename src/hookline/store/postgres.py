"""The shared store: PostgreSQL through asyncpg; many hookline processes may use one."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from hookline.store.schema import tenants
from hookline.store.sql import SqlStore


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        engine = create_async_engine(
            asyncpg_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        super().__init__(engine, engine)

    async def _lock_tenant(self, conn: AsyncConnection, tenant_id: str) -> None:
        await conn.execute(
            sa.select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update()
        )

    def _text_sort_key(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # Byte order, as on SQLite, whatever collation the database was created with.
        return sa.func.lower(column).collate("C")


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy's asyncpg URL; libpq's ``sslmode`` becomes ``ssl``."""
    parts = urlsplit(url)
    query = [("ssl" if key == "sslmode" else key, value) for key, value in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=urlencode(query)))
