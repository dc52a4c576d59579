"""The embedded store: SQLite in WAL mode.

Every write transaction runs in one thread of the store's own on one connection (a single
writer), each in ``BEGIN IMMEDIATE`` so a transaction that reads then writes never meets a
lock upgrade conflict, and each handed to that thread whole: a transaction costs one
hand-over between the event loop and the thread, however many statements it has. Reads
run the same way in a few threads of their own, each a snapshot on a connection of its own,
and never wait for the writer.

The three statements every delivery passes through (adding deliveries, leasing them,
recording outcomes) go to the sqlite3 driver directly, inside the same transaction:
measured with `bench/`, SQLAlchemy's per-row work cost three times SQLite's own there.
They write exactly what SQLAlchemy would (`_time` is its DATETIME format, JSON is text),
and the behavioural store suite runs against both paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from hookline.deliveries import NewDelivery, Result
from hookline.errors import ConfigError
from hookline.store import bounds
from hookline.store.queue import Lease, Leased, first_in_queue
from hookline.store.sql import SqlStore
from hookline.store.sql_base import Priority, T, Work, is_unavailable, unavailable

BUSY_TIMEOUT_MS = 5000
READERS = 4  # threads reading, each with a connection of its own
CHECKPOINT_EVERY = 50  # write transactions
PROGRESS_STEPS = 100_000  # SQLite VM instructions between deadline checks (about 1 ms)
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the WAL file is cut back to once checkpointed
MAX_VARIABLES = 32_766  # placeholders in one statement (SQLite's limit since 3.32)
OUTCOMES_PER_STATEMENT = 500  # 11 values each: well inside MAX_VARIABLES


class SqliteStore(SqlStore):
    def __init__(self, path: Path) -> None:
        _create_private(path)
        # As many readers as reading threads: a read waits for a thread, never for a
        # connection.
        self._reader = sa.create_engine(
            f"sqlite:///{path}",
            pool_size=READERS,
            max_overflow=0,
            connect_args={"check_same_thread": False},
            hide_parameters=True,  # errors are logged: keep the values out
        )
        _configure(self._reader, begin="BEGIN")
        _bound_reads(self._reader)
        self._readers = ThreadPoolExecutor(READERS, thread_name_prefix="hookline-sqlite-reader")
        self._writer = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=sa.pool.StaticPool,  # one connection, used by the writer thread only
            connect_args={"check_same_thread": False},
            hide_parameters=True,
        )
        _configure(self._writer, begin="BEGIN IMMEDIATE", checkpoints=False)
        self._writer_thread = WriterThread()
        self._checkpointer = Checkpointer(path)
        super().__init__()

    async def _read(self, work: Work[T]) -> T:
        queued = time.monotonic()
        reading = functools.partial(self._read_transaction, work, queued)
        # The request's statement bound (store.bounds) goes to the thread with the context.
        run = contextvars.copy_context().run
        with _outages_as_unavailable():
            return await asyncio.get_running_loop().run_in_executor(self._readers, run, reading)

    def _read_transaction(self, work: Work[T], queued: float) -> T:
        _check_wait(queued, "a reader")
        with self._reader.connect() as conn:
            return work(conn)

    async def _write(self, work: Work[T], priority: Priority = Priority.API) -> T:
        queued = time.monotonic()
        transaction = functools.partial(self._transaction, work, queued)
        with _outages_as_unavailable():
            return await asyncio.wrap_future(self._writer_thread.submit(transaction, priority))

    def _transaction(self, work: Work[T], queued: float) -> T:
        _check_wait(queued, "the writer")
        with self._writer.begin() as conn:
            done = work(conn)
        self._checkpointer.committed()
        return done

    def _insert_deliveries(self, conn: sa.Connection, planned: Sequence[NewDelivery]) -> None:
        _insert_rows(
            _driver(conn),
            "INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type,"
            " cloud_events, triggered_at, trigger, status, status_message, attempt_count,"
            " next_attempt_at, fifo_position, task_id, event_received_at)",
            "(?, ?, ?, ?, ?, ?, ?, ?, 'pending', '', 0, ?, ?, ?, ?)",
            [
                (
                    new.id,
                    new.tenant_id,
                    new.webhook_id,
                    new.event_id,
                    new.event_type,
                    new.cloud_events,
                    _time(new.triggered_at),
                    new.trigger,
                    _time(new.next_attempt_at),
                    _time(new.fifo_position),
                    new.task_id,
                    _time(new.event_received_at),
                )
                for new in planned
            ],
        )

    def _lease(self, conn: sa.Connection, lease: Lease) -> list[Leased]:
        driver = _driver(conn)
        now = _time(lease.now)
        pick = (
            "SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM deliveries"
            " WHERE webhook_id = ? AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?)"
        )
        plain = {w: n for w, n in lease.shares.items() if w not in lease.ordered}
        due_at = (
            dict(
                driver.execute(
                    " UNION ALL ".join([pick] * len(plain)),
                    [value for webhook, count in plain.items() for value in (webhook, now, count)],
                )
            )
            if plain
            else {}
        )
        for webhook_id in lease.ordered & lease.shares.keys():
            for delivery_id, at in conn.execute(first_in_queue(webhook_id, lease.now)):
                due_at[delivery_id] = _time(at)
        if not due_at:
            return []
        until = _time(lease.until)
        leased = driver.execute(
            "UPDATE deliveries SET lease_until = ?, lease_owner = ?, next_attempt_at = ?"  # noqa: S608 (only placeholders are formatted in)
            f" WHERE id IN ({', '.join('?' * len(due_at))})"
            f" RETURNING {', '.join(Leased._fields)}",
            (until, lease.owner, until, *due_at),
        )
        return sorted(
            (
                Leased(
                    id, tenant, webhook, event, type_, bool(cloud), _parse_time(at), count, trigger
                )
                for id, tenant, webhook, event, type_, cloud, at, count, trigger in leased
            ),
            key=lambda row: due_at[row.id],
        )

    def _write_outcomes(
        self, conn: sa.Connection, results: list[Result], at: datetime
    ) -> dict[str, datetime | None]:
        """One statement updates every delivery that still exists (a webhook deleted
        meanwhile took its deliveries), then their attempts are added."""
        driver = _driver(conn)
        ended = _time(at)
        rows = [
            (
                result.delivery_id,
                result.status,
                result.status_message,
                result.attempt.number,
                _time(result.next_attempt_at),
                ended if result.next_attempt_at is None else None,
                result.request_url,
                _json(result.request_headers),
                result.response_status,
                _json(result.response_headers),
                result.response_body,
            )
            for result in results
        ]
        positions = _fifo_positions(driver, [result.delivery_id for result in results])
        triggered: dict[str, str] = {}
        for chunk in _chunks(rows, OUTCOMES_PER_STATEMENT):
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            triggered |= dict(
                driver.execute(
                    "UPDATE deliveries SET status = v.column2, status_message = v.column3,"  # noqa: S608 (only placeholders are formatted in)
                    " attempt_count = v.column4, next_attempt_at = v.column5,"
                    " ended_at = v.column6, lease_until = NULL, lease_owner = NULL,"
                    " request_url = v.column7, request_headers = v.column8,"
                    " response_status = v.column9, response_headers = v.column10,"
                    " response_body = v.column11,"
                    " fifo_position = CASE WHEN v.column6 IS NULL THEN fifo_position END"
                    f" FROM (VALUES {values}) AS v"
                    " WHERE deliveries.id = v.column1"
                    " RETURNING deliveries.id, deliveries.triggered_at",
                    [value for row in chunk for value in row],
                )
            )
        _insert_rows(
            driver,
            "INSERT INTO delivery_attempts (delivery_id, number, delivery_triggered_at,"
            " started_at, duration_ms, status_code, error)",
            "(?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    result.delivery_id,
                    result.attempt.number,
                    triggered[result.delivery_id],
                    _time(result.attempt.started_at),
                    result.attempt.duration_ms,
                    result.attempt.status_code,
                    result.attempt.error,
                )
                for result in results
                if result.delivery_id in triggered
            ],
            " ON CONFLICT DO NOTHING",
        )
        return {delivery_id: positions.get(delivery_id) for delivery_id in triggered}

    async def close(self) -> None:
        self._readers.shutdown()
        self._reader.dispose()
        await asyncio.wrap_future(self._writer_thread.submit(self._writer.dispose, Priority.BULK))
        self._writer_thread.shutdown()
        self._checkpointer.close()


def _check_wait(queued: float, waited_for: str) -> None:
    """Behind a lock held elsewhere, every queued transaction would wait its own busy
    timeout in turn; one that has waited that long already gives up (a 503, a retried
    claim)."""
    if time.monotonic() - queued > BUSY_TIMEOUT_MS / 1000:
        raise sqlite3.OperationalError(f"database is locked (waited for {waited_for})")


@contextlib.contextmanager
def _outages_as_unavailable() -> Iterator[None]:
    """A locked, interrupted or unreachable database is StorageUnavailable (a 503)."""
    try:
        yield
    except Exception as error:
        # sqlite3's own errors come from the hot path, which bypasses SQLAlchemy
        if isinstance(error, sqlite3.OperationalError) or is_unavailable(error):
            raise unavailable(error) from error
        raise


class WriterThread:
    """The one thread that runs write transactions, one at a time: of those waiting, the
    highest priority first (`Priority`), in order of arrival within a priority. A request's
    write waits for at most the transaction in progress and other requests' writes, never
    behind a queue of the engine's bulk work."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any] | None, Future[Any]]]
        self._queue = queue.PriorityQueue()
        self._order = itertools.count()
        # A daemon: a process that exits without closing its store is not held up (an
        # unfinished transaction is rolled back by SQLite, as after a crash).
        self._thread = threading.Thread(
            target=self._run, name="hookline-sqlite-writer", daemon=True
        )
        self._thread.start()

    def submit(self, job: Callable[[], T], priority: Priority) -> Future[T]:
        done: Future[T] = Future()
        self._queue.put((priority, next(self._order), job, done))
        return done

    def shutdown(self) -> None:
        self._queue.put((len(Priority), next(self._order), None, Future()))
        self._thread.join()

    def _run(self) -> None:
        while True:
            _, _, job, done = self._queue.get()
            if job is None:
                return
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(job())
                except BaseException as error:  # handed to the waiting coroutine
                    done.set_exception(error)


class Checkpointer:
    """Copies the WAL back into the database file in a thread of its own, so that the
    writer's commits never pay for it (SQLite would do it inside a commit every 1,000
    pages, fsyncs included: measured, that more than doubled a commit's time).

    A passive checkpoint never waits, so under steady reads and writes it never gets to
    start the WAL over, and the WAL grows without end (measured: 1.5 GB in a minute of a
    fan-out flood). Once it is past WAL_SIZE_LIMIT, a TRUNCATE checkpoint waits for the
    readers of the moment, holds writers for the copy, and empties it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="hookline-sqlite-checkpoint")
        self._connection: sqlite3.Connection | None = None
        self._commits = 0
        self._running: Future[None] | None = None

    def committed(self) -> None:
        """Count a commit; every CHECKPOINT_EVERY commits, start a checkpoint unless one runs."""
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0 and (
            self._running is None or self._running.done()
        ):
            self._running = self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, check_same_thread=False)
            self._connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        wal = Path(f"{self._path}-wal")
        too_big = wal.exists() and wal.stat().st_size > WAL_SIZE_LIMIT
        with contextlib.suppress(sqlite3.Error):  # the next one will do
            self._connection.execute(
                f"PRAGMA wal_checkpoint({'TRUNCATE' if too_big else 'PASSIVE'})"
            )

    def close(self) -> None:
        self._thread.shutdown()
        if self._connection is not None:
            self._connection.close()


def _insert_rows(
    driver: sqlite3.Connection, insert: str, row: str, rows: list[tuple[Any, ...]], tail: str = ""
) -> None:
    """``insert`` of ``rows`` (each ``row``'s placeholders) as few multi-row statements:
    sqlite3 hands the GIL over at every step of a statement, and ``executemany`` steps once
    a row, so a busy event loop would slow every row of a big insert."""
    for chunk in _chunks(rows, MAX_VARIABLES // row.count("?")):
        values = ", ".join([row] * len(chunk))
        driver.execute(f"{insert} VALUES {values}{tail}", [v for item in chunk for v in item])


def _fifo_positions(driver: sqlite3.Connection, delivery_ids: list[str]) -> dict[str, datetime]:
    """The places of those of these deliveries that are in an ordered webhook's queue."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(delivery_ids, OUTCOMES_PER_STATEMENT):
        found |= {
            delivery_id: _parse_time(position)
            for delivery_id, position in driver.execute(
                "SELECT id, fifo_position FROM deliveries"  # noqa: S608 (only placeholders are formatted in)
                f" WHERE id IN ({', '.join('?' * len(chunk))}) AND fifo_position IS NOT NULL",
                chunk,
            )
        }
    return found


def _chunks(rows: list[T], size: int) -> list[list[T]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def _driver(conn: sa.Connection) -> sqlite3.Connection:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _time(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy's SQLite DATETIME stores it: naive UTC, microseconds."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (SQLite gives its -wal and -shm
    files the same mode); an existing file, or one that cannot be made, is left to SQLite."""
    if not path.parent.is_dir():
        raise ConfigError(f"the database directory {path.parent} does not exist")
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure(engine: sa.Engine, *, begin: str, checkpoints: bool = True) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" event below decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            f"journal_size_limit={WAL_SIZE_LIMIT}",
            *(() if checkpoints else ("wal_autocheckpoint=0",)),
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


def _bound_reads(engine: sa.Engine) -> None:
    """Interrupt a read that runs past its bound (an API request's, see store.bounds), so
    that a runaway query frees its pooled connection ("interrupted", a 503). SQLite calls
    the progress handler every PROGRESS_STEPS instructions, in the thread running the query.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, record: Any) -> None:
        deadline = record.info["deadline"] = [math.inf]
        dbapi_connection.set_progress_handler(
            lambda: time.monotonic() > deadline[0], PROGRESS_STEPS
        )

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _start(conn: sa.Connection, *_: Any) -> None:
        seconds = bounds.statement_timeout()
        conn.info["deadline"][0] = math.inf if seconds is None else time.monotonic() + seconds
