"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from hookline.store import migrations, partitions
from hookline.store.postgres import asyncpg_url
from hookline.store.schema import metadata


def _async_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return database_url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    return asyncpg_url(database_url)


def _differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"include_name": _not_a_partition})
    return list(compare_metadata(context, metadata))


def _not_a_partition(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """A day's partition, or a default one, is the table's (hookline.store.partitions)."""
    table = name if type_ == "table" else parent_names.get("table_name")
    return table is None or not (partitions.day_of(table) is not None or table.endswith("_default"))


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrations.alembic_config())


def test_revisions_are_numbered_by_their_files_one_after_another() -> None:
    """What lets a process see the newest revision without importing Alembic."""
    scripts = _scripts()
    revisions = sorted(scripts.walk_revisions(), key=lambda script: script.revision)
    for number, script in enumerate(revisions, start=1):
        assert script.revision == f"{number:04d}"
        assert Path(script.path).name.startswith(script.revision + "_")
        assert script.down_revision == (f"{number - 1:04d}" if number > 1 else None)
    assert migrations.newest_revision() == scripts.get_current_head() == revisions[-1].revision


async def test_migrated_schema_matches_the_declared_schema(database_url: str) -> None:
    engine = create_async_engine(_async_url(database_url))
    try:
        async with engine.connect() as connection:
            head = _scripts().get_current_head()
            assert await connection.run_sync(migrations.current_revision) == head
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_migrating_again_changes_nothing(database_url: str) -> None:
    engine = create_async_engine(_async_url(database_url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(migrations.upgrade)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
