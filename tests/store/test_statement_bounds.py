"""Statements run under a bound (an API request's) end when it is over, on the database's own
terms; statements run without one (delivery workers, migrations) are not cut."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hookline.errors import StorageUnavailable
from hookline.store import Store
from hookline.store.bounds import bounded
from hookline.store.sql_base import SqlBase

# A read that runs for minutes unless something stops it.
SLOW_READ = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1e10)"
    " SELECT count(*) FROM c",
    "postgres": "SELECT pg_sleep(120)",
}


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


async def _read(store: Store, statement: str) -> object:
    assert isinstance(store, SqlBase)
    return await store._read(lambda conn: conn.execute(sa.text(statement)).scalar())


async def test_a_read_past_its_bound_is_cut_and_frees_its_connection(
    database_url: str, store: Store
) -> None:
    slow = SLOW_READ[_backend(database_url)]

    with bounded(0.3):
        for _ in range(6):  # more than the SQLite store's 4 reading threads
            with pytest.raises(StorageUnavailable):
                # cut by its bound: a read left to run would take minutes, past this deadline
                await asyncio.wait_for(_read(store, slow), 60)

    assert await store.list_tenants() == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgres_sets_both_timeouts_only_within_a_bound(store: Store) -> None:
    with bounded(2.5):
        assert await _read(store, "SHOW statement_timeout") == "2500ms"
        assert await _read(store, "SHOW lock_timeout") == "2500ms"
    assert await _read(store, "SHOW statement_timeout") == "0"
    assert await _read(store, "SHOW lock_timeout") == "0"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_sqlite_read_outside_a_bound_is_never_cut(store: Store) -> None:
    """Each connection's deadline is the statement's own: a bounded read leaves none
    behind for the unbounded reads of the same pooled connections."""
    counting = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1e6)"
        " SELECT count(*) FROM c"
    )
    with bounded(0.1):  # all four pooled connections at once
        await asyncio.gather(*(_read(store, "SELECT 1") for _ in range(4)))
    await asyncio.sleep(0.2)  # every connection's last deadline has passed

    counts = await asyncio.gather(*(_read(store, counting) for _ in range(4)))
    assert counts == [1_000_000] * 4
