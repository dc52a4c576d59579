"""SQLite's WAL is copied back and kept small, even while a reader holds a snapshot open
through every passive checkpoint."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hookline.store import sqlite
from hookline.store.sqlite import Checkpointer


def _write(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,) for _ in range(rows)])


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "wal.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("CREATE TABLE t (v TEXT)")
    return path


def _wal(path: Path) -> int:
    """The WAL's size; none left (SQLite removes it when its last connection closes) is 0."""
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_small_wal_gets_a_passive_checkpoint_and_keeps_its_file(database: Path) -> None:
    _write(database, 100)
    checkpointer = Checkpointer(database)
    try:
        checkpointer._checkpoint()
    finally:
        checkpointer.close()
    assert _wal(database) > 0  # copied back, not emptied: writers start it over


def test_a_wal_past_its_limit_is_emptied(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "WAL_SIZE_LIMIT", 50_000)
    _write(database, 100)  # about 100 KB of WAL
    checkpointer = Checkpointer(database)
    try:
        checkpointer._checkpoint()
    finally:
        checkpointer.close()
    assert _wal(database) == 0
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (100,)
