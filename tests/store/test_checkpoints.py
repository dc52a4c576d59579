"""The checkpointer copies SQLite's WAL back and keeps its file while it is small, and
empties it once it is past its limit."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookline.store import sqlite
from hookline.store.sqlite import Checkpointer


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "wal.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (v TEXT)")
    return path


@pytest.fixture
def writer(database: Path) -> Iterator[sqlite3.Connection]:
    """The server's writer, open through the checkpoint as it is in a running server. Its
    closing is explicit: when the last connection closes, SQLite copies the WAL back and
    deletes it, and a connection left to the garbage collector closes at any moment."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA wal_autocheckpoint=0")
    yield connection
    connection.close()


def _write(writer: sqlite3.Connection, rows: int) -> None:
    with writer:
        writer.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,) for _ in range(rows)])


def _wal(path: Path) -> int:
    """The WAL's size; none left (SQLite removes it when its last connection closes) is 0."""
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_small_wal_gets_a_passive_checkpoint_and_keeps_its_file(
    database: Path, writer: sqlite3.Connection
) -> None:
    _write(writer, 100)
    checkpointer = Checkpointer(database)
    try:
        checkpointer._checkpoint()
    finally:
        checkpointer.close()
    assert _wal(database) > 0  # copied back, not emptied: writers start it over


def test_a_wal_past_its_limit_is_emptied(
    database: Path, writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "WAL_SIZE_LIMIT", 50_000)
    _write(writer, 100)  # about 100 KB of WAL
    checkpointer = Checkpointer(database)
    try:
        checkpointer._checkpoint()
    finally:
        checkpointer.close()
    assert _wal(database) == 0
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (100,)
