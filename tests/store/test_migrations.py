"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from hookline.store import migrations
from hookline.store.postgres import asyncpg_url
from hookline.store.schema import metadata


def _async_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return database_url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    return asyncpg_url(database_url)


def _differences(connection: sa.Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrated_schema_matches_the_declared_schema(database_url: str) -> None:
    engine = create_async_engine(_async_url(database_url))
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(migrations.is_current)
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
