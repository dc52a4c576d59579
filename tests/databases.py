"""Throwaway databases for tests: a SQLite file, or a PostgreSQL database made from a template.

PostgreSQL is the server named by HOOKLINE_TEST_POSTGRES_URL (default: the CI machine's,
postgresql://postgres@127.0.0.1:5432/postgres). Each test gets a database of its own,
copied from a template that was migrated once; or, for tests that ask for one ready to
reuse (the ``database_url`` fixture), a database of an earlier test of the same process,
emptied: copying and dropping one costs the server about a second, emptying one a tenth.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from hookline.settings import load_settings
from hookline.store import open_store

POSTGRES_ADMIN_URL = os.environ.get(
    "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgres")
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789"


@functools.cache
def postgres_missing() -> str | None:
    """Why PostgreSQL tests cannot run here, or None. On CI (CI=true) they always run."""
    if os.environ.get("CI") == "true":
        return None
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as error:
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL} ({error}); set HOOKLINE_TEST_POSTGRES_URL"
    return None


def _postgres_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    store = open_store(load_settings(database_url=url, secret_key=TEST_SECRET_KEY))
    try:
        await store.migrate()
    finally:
        await store.close()


class Templates:
    """Migrated template databases, made on first use and removed at the end of the run."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self.spare: list[str] = []  # emptied PostgreSQL databases, ready for another test

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            asyncio.run(_migrate(f"sqlite:///{path}"))
            self._sqlite = path
        return self._sqlite

    def postgres(self) -> str:
        if self._postgres is None:
            name = f"hookline_template_{uuid.uuid4().hex[:12]}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            asyncio.run(_migrate(_postgres_url(name)))
            self._postgres = name
        return self._postgres

    def remove(self) -> None:
        for name in [*self.spare, *([self._postgres] if self._postgres else [])]:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.spare.clear()


@contextmanager
def fresh_database(
    backend: str, templates: Templates, directory: Path, *, reuse: bool = False
) -> Iterator[str]:
    """The URL of a new, migrated, empty database, dropped afterwards.

    With ``reuse``, a PostgreSQL database may be an earlier test's, emptied, and is
    emptied and kept for a later one instead of dropped: for tests whose every connection
    to it is closed when the block ends (no process of theirs outlives it). Skips the test
    when PostgreSQL is wanted but absent (never on CI).
    """
    if backend == "postgres" and (reason := postgres_missing()):
        pytest.skip(reason)
    if backend == "sqlite":
        path = directory / f"{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(templates.sqlite(), path)
        yield f"sqlite:///{path}"
        return
    if reuse and templates.spare:
        name = templates.spare.pop()
    else:
        name = f"hookline_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{templates.postgres()}"'))
    kept = False
    try:
        yield _postgres_url(name)
        if reuse:
            asyncio.run(_empty(name))
            templates.spare.append(name)
            kept = True
    finally:
        if not kept:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty(name: str) -> None:
    """Bring a test's database back to its template's state: no session of anyone else
    on it, every table empty but the migrations' version."""
    await _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608  (our own name)
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    connection = await asyncpg.connect(_postgres_url(name))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new database with no tables at all, dropped afterwards (for tests that
    migrate it themselves). Skips like ``fresh_database``."""
    if backend == "postgres" and (reason := postgres_missing()):
        pytest.skip(reason)
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"hookline_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _postgres_url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def unreachable(database_url: str) -> Iterator[None]:
    """Make a test's own PostgreSQL database refuse connections, and drop the ones it has,
    for the duration; it accepts them again afterwards."""
    name = database_url.rpartition("/")[2]
    asyncio.run(_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    try:
        terminate = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608  (our own name)
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        asyncio.run(_admin(terminate))
        yield
    finally:
        asyncio.run(_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
