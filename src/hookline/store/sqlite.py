"""The embedded store: SQLite in WAL mode.

Writes go through one connection (a single writer), each in ``BEGIN IMMEDIATE`` so a
transaction that reads then writes never meets a lock upgrade conflict; reads use a
small pool of their own and never wait for the writer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookline.errors import ConfigError
from hookline.store.sql import SqlStore

BUSY_TIMEOUT_MS = 5000


class SqliteStore(SqlStore):
    def __init__(self, path: Path) -> None:
        _create_private(path)
        url = f"sqlite+aiosqlite:///{path}"
        reader = _engine(url, begin="BEGIN", pool_size=4)
        writer = _engine(url, begin="BEGIN IMMEDIATE", pool_size=1)
        super().__init__(reader, writer)


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (SQLite gives its -wal and -shm
    files the same mode); an existing file, or one that cannot be made, is left to SQLite."""
    if not path.parent.is_dir():
        raise ConfigError(f"the database directory {path.parent} does not exist")
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _engine(url: str, *, begin: str, pool_size: int) -> AsyncEngine:
    # Waiting for a pooled connection is waiting for the database too: give up as soon as
    # on a lock (the default 30 s would let a locked database queue requests for minutes).
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_timeout=BUSY_TIMEOUT_MS / 1000
    )

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine
