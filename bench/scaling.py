"""Scale-out on PostgreSQL (issue 13): deliveries/s and CPU per delivery with more
``hookline worker`` processes beside one ``serve``; the store's claim with and without a
week of history; purging a day by deleting it or by dropping its partitions.

PostgreSQL only, and never part of a default run: ``--scenario workers``, ``claims``,
``purge`` (docs/benchmarks.md, "Scale-out on PostgreSQL"). The claim and purge scenarios
use databases of their own, created and dropped by the scenario; the big one of the claim
scenario is kept with ``--keep-scale-db``, and a run that finds it resumes its load.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench import bulk_history, claim_queue
from bench.procs import Database, postgres_available
from bench.scenarios import Bench, hooks, measure_throughput
from hookline.clock import now
from hookline.store.postgres import PostgresStore

SCALE_SCENARIOS = ("workers", "claims", "purge")
HISTORY_DATABASE = "hookline_bench_scale"
IN_USE = 0x686C62656E6368  # the advisory lock a run holds on HISTORY_DATABASE
HISTORY_DAYS = 7
# Disk a delivery of history takes with its share of events and attempts, indexes
# included (measured: 25,000,000 took 37.5 GB); a load wants a quarter more than that
# free (WAL, and the estimate's error).
BYTES_PER_DELIVERY = 1_500
TURN = 50  # claims on one database before the other's turn


# Workers curve ------------------------------------------------------------------------------


async def scenario_workers(bench: Bench) -> dict[str, Any]:
    """The end-to-end run (10 webhooks, lists of 100 events) with ``serve`` alone and with
    ``hookline worker`` processes beside it, a fresh database for each count. ``serve``
    delivers too: N workers are N + 1 delivering processes."""
    missing = await postgres_available()
    if missing:
        return {"skipped": missing}
    events = bench.scale.e2e_events
    points: dict[str, Any] = {}
    for workers in bench.scale.worker_counts:
        async with bench.run("postgres", hooks("ok", 10)) as run:
            await run.start_workers(workers)
            got = await measure_throughput(bench, run, events, 10, f"workers-{workers}")
            got["errors_logged"] = run.errors_logged()
        got["workers"] = workers
        points[str(workers)] = got
        bench.say(
            f"workers: serve + {workers}: {got['per_second']:.0f} deliveries/s, hookline "
            f"{got.get('cpu_per_delivery_us', 0):.0f} µs and PostgreSQL "
            f"{got.get('postgres_cpu_per_delivery_us', 0):.0f} µs of CPU a delivery, machine "
            f"{got['usage']['machine_cpu_pct']:.0f}% of one core"
        )
    return {"events": events, "webhooks": 10, "points": points}


# Claim latency ------------------------------------------------------------------------------


async def scenario_claims(bench: Bench) -> dict[str, Any]:
    """Claim latency on a database with no history and on one with ``claim_history``
    deliveries of history over the last 7 days (same tenants, webhooks and queue), in
    turns of ``TURN`` claims, so that both see the same machine."""
    missing = await postgres_available()
    if missing:
        return {"skipped": missing}
    rows = bench.scale.claim_history
    out: dict[str, Any] = {
        "history_rows": rows,
        "tenants": claim_queue.TENANTS,
        "webhooks_per_tenant": claim_queue.WEBHOOKS,
    }
    keep = bench.args.keep_scale_db
    async with (
        _fresh_database(bench) as empty_database,
        _history_database(bench, rows, keep) as history_database,
        _store(empty_database) as empty_store,
        _store(history_database) as history_store,
    ):
        empty, _ = await _ready(bench, empty_database, empty_store, 0)
        full, load = await _ready(bench, history_database, history_store, rows)
        bench.say(f"claims: {bench.scale.claims:,} on each database, in turns of {TURN}")
        for _ in range(max(1, bench.scale.claims // TURN)):
            await empty.run(TURN)
            await full.run(TURN)
        out["empty"] = {**empty.summary(), "database_mb": await _mb(empty_database)}
        out["with_history"] = {**full.summary(), "database_mb": await _mb(history_database)}
    out["load"] = load
    before, after = out["empty"]["claim"], out["with_history"]["claim"]
    out["p50_ratio"] = round(after["p50_ms"] / before["p50_ms"], 2)
    out["p99_ratio"] = round(after["p99_ms"] / before["p99_ms"], 2)
    bench.say(
        f"claims: p50/p99 {before['p50_ms']}/{before['p99_ms']} ms empty, {after['p50_ms']}/"
        f"{after['p99_ms']} ms with {rows:,} deliveries of history ({out['p99_ratio']} × at p99)"
    )
    return out


@contextlib.asynccontextmanager
async def _store(database: Database) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(database.url)
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


async def _ready(
    bench: Bench, database: Database, store: PostgresStore, rows: int
) -> tuple[claim_queue.Claims, dict[str, Any] | None]:
    """The tenants and webhooks, ``rows`` of history (loaded, or found loaded), today's
    partitions if the tables are partitioned, and a queue to claim from."""
    fleet = await claim_queue.fleet(store)
    conn = await asyncpg.connect(database.url)
    try:
        today = now().date()
        await bulk_history.make_partitions(conn, [today, today + timedelta(days=1)])
        load = await _load_history(bench, conn, database, fleet, rows) if rows else None
    finally:
        await conn.close()
    claims = claim_queue.Claims(database.url, store, fleet)
    await claims.start()
    return claims, load


async def _mb(database: Database) -> int:
    return round(await database.size() / 2**20)


async def _load_history(
    bench: Bench,
    conn: asyncpg.Connection,
    database: Database,
    fleet: claim_queue.Fleet,
    rows: int,
) -> dict[str, Any]:
    ids = claim_queue.webhook_ids(fleet)
    history = await bulk_history.resumable(conn, ids, rows, HISTORY_DAYS)
    await _check_disk(conn, rows, await database.size())
    bench.say(f"claims: loading {rows:,} deliveries of history into {database.name}")
    return await bulk_history.load(database.url, history, bench.say)


async def _check_disk(conn: asyncpg.Connection, rows: int, used: int) -> None:
    """Refuse a load that would leave the server's disk less than its own size free."""
    free = shutil.disk_usage(await conn.fetchval("SHOW data_directory")).free
    needed = rows * BYTES_PER_DELIVERY * 5 // 4 - used
    if free < needed:
        largest = (free + used) * 4 // (5 * BYTES_PER_DELIVERY)
        raise RuntimeError(
            f"{rows:,} deliveries of history need about {needed / 2**30:.0f} GiB free (a "
            f"quarter more than the estimate), only {free / 2**30:.0f} GiB are:"
            f" --claim-history {largest:_} fits"
        )


# Purge cost ---------------------------------------------------------------------------------


async def scenario_purge(bench: Bench) -> dict[str, Any]:
    """A day of ``purge_rows`` deliveries deleted as the store's purge does (then VACUUM),
    against another such day dropped as partitions, when the tables are partitioned."""
    missing = await postgres_available()
    if missing:
        return {"skipped": missing}
    rows = bench.scale.purge_rows
    today = now().date()
    deleted, dropped = today - timedelta(days=4), today - timedelta(days=3)
    tablespace = bench.args.purge_tablespace
    out: dict[str, Any] = {"rows_per_day": rows, "tablespace": tablespace}
    async with _fresh_database(bench, tablespace) as database:
        async with _store(database) as store:
            ids = claim_queue.webhook_ids(await claim_queue.fleet(store))
        conn = await asyncpg.connect(database.url)
        try:
            out["partitioned"] = await bulk_history.partitioned(conn)
            days = [deleted, dropped] if out["partitioned"] else [deleted]
            out["loads"] = [await _load_day(bench, database, ids, rows, day) for day in days]
            out["database_mb_before"] = await _mb(database)
            bench.say(f"purge: deleting the {rows:,} deliveries of {deleted}")
            out["delete"] = await bulk_history.delete_day(conn, deleted)
            out["database_mb_after_delete"] = await _mb(database)
            if out["partitioned"]:
                bench.say(f"purge: dropping the partitions of {dropped}")
                out["drop"] = await bulk_history.drop_day(conn, dropped)
                out["database_mb_after_drop"] = await _mb(database)
        finally:
            await conn.close()
    out.update(_purge_ratios(out))
    bench.say(f"purge: {out}")
    return out


async def _load_day(
    bench: Bench, database: Database, webhooks: dict[str, list[str]], rows: int, day: date
) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    history = bulk_history.History(webhooks, rows, start, start + timedelta(days=1), f"{day}")
    bench.say(f"purge: loading {rows:,} deliveries on {day}")
    return await bulk_history.load(database.url, history, bench.say)


def _purge_ratios(out: dict[str, Any]) -> dict[str, Any]:
    """Deleting / dropping, alone and with the VACUUM, in seconds, CPU and WAL."""
    if "drop" not in out:
        return {"drop_not_available": "the history tables are not partitioned"}
    delete, vacuum, drop = out["delete"]["delete"], out["delete"]["vacuum"], out["drop"]["drop"]
    return {
        "ratios": {
            measure: {
                "delete": round(delete[measure] / max(drop[measure], 1e-9)),
                "delete_and_vacuum": round(
                    (delete[measure] + vacuum[measure]) / max(drop[measure], 1e-9)
                ),
            }
            for measure in ("seconds", "cpu_seconds", "wal_bytes")
        }
    }


@contextlib.asynccontextmanager
async def _fresh_database(bench: Bench, tablespace: str | None = None) -> AsyncIterator[Database]:
    """A new PostgreSQL database of the run's own (``hlbench_…``), dropped afterwards."""
    database = Database("postgres", bench.workdir, tablespace=tablespace)
    await database.create()
    try:
        yield database
    finally:
        await database.drop()


@contextlib.asynccontextmanager
async def _history_database(bench: Bench, rows: int, keep: bool) -> AsyncIterator[Database]:
    """HISTORY_DATABASE, dropped afterwards unless ``keep``. One that a stopped or kept run
    began for the same number of deliveries is used again (its load goes on where it
    stopped); one begun for another number, or that another run is using, is left alone."""
    database = Database("postgres", bench.workdir, HISTORY_DATABASE)
    if await database.exists():
        bench.say(f"database {database.name} is there: using it again")
    else:
        await database.create()
    conn = await asyncpg.connect(database.url)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", IN_USE):
            raise RuntimeError(f"another run is using the database {database.name}")
        begun = await bulk_history.begun(conn)
        if begun not in (None, rows):
            raise RuntimeError(
                f"the database {database.name} was begun for {begun:,} deliveries of history: "
                f"run with --claim-history {begun:_}, or drop it (DROP DATABASE {database.name})"
            )
        try:
            yield database
        finally:
            if keep:
                bench.say(f"database {database.name} kept (--keep-scale-db)")
            else:
                await conn.close()
                await database.drop()
    finally:
        await conn.close()
