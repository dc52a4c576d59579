"""Day partitions of the history tables on PostgreSQL.

Events, deliveries and attempts are range-partitioned by a time column, one partition a UTC
day (``deliveries_p20261202``), and each table has a default partition for rows outside
every day made so far (a clock far ahead, or a maintenance loop that did not run). The
maintenance loop makes the next days' partitions ahead of time, moving any of their rows
the default partition took; retention drops whole days, so a billion old deliveries go in
one statement instead of a billion deletes. Rows left in a default partition are deleted
row by row, as on SQLite.

The maintenance's DDL waits for its locks at most ``LOCK_TIMEOUT``: when the hot path
holds the table longer, it gives up and tries again on its next round.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import sqlalchemy as sa


class History(NamedTuple):
    table: str
    column: str


EVENTS = History("events", "received_at")
DELIVERIES = History("deliveries", "triggered_at")
ATTEMPTS = History("delivery_attempts", "delivery_triggered_at")
HISTORY = (EVENTS, DELIVERIES, ATTEMPTS)

# Days made ahead of today: the maintenance loop runs every few minutes, so a day leaves
# it many tries before rows fall into the default partition. Few, because a lookup of an
# event from below (NewDelivery.event_received_at) looks in every later day.
DAYS_AHEAD = 1
LOCK_TIMEOUT = "1s"
_DAY = re.compile(r"_p(\d{8})$")


def partition_name(history: History, day: date) -> str:
    return f"{history.table}_p{day:%Y%m%d}"


def default_name(history: History) -> str:
    return f"{history.table}_default"


def day_of(name: str) -> date | None:
    """The day a partition named by `partition_name` holds (None for others)."""
    found = _DAY.search(name)
    return None if found is None else datetime.strptime(found[1], "%Y%m%d").date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def days_ahead(moment: datetime) -> list[date]:
    """The days that should have partitions at ``moment``: its own and `DAYS_AHEAD` more."""
    today = moment.astimezone(UTC).date()
    return [today + timedelta(days=n) for n in range(DAYS_AHEAD + 1)]


def expired(days: Iterable[date], before: datetime) -> list[date]:
    """The days wholly before ``before``: a day is dropped only once all of it has expired."""
    return sorted(day for day in days if start_of(day + timedelta(days=1)) <= before)


def is_partitioned(conn: sa.Connection, history: History) -> bool:
    found = conn.execute(
        sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:table)"),
        {"table": history.table},
    ).scalar()
    return found == "p"


def partition_days(conn: sa.Connection, history: History) -> set[date]:
    names = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(:table)"
        ),
        {"table": history.table},
    ).scalars()
    return {day for day in map(day_of, names) if day is not None}


def create_default(conn: sa.Connection, history: History) -> None:
    conn.execute(
        sa.text(
            f"CREATE TABLE IF NOT EXISTS {default_name(history)}"
            f" PARTITION OF {history.table} DEFAULT"
        )
    )


def create_days(conn: sa.Connection, history: History, days: Iterable[date]) -> list[date]:
    """Make the partitions of ``days`` that do not exist yet; return the days made."""
    existing = partition_days(conn, history)
    made = sorted(set(days) - existing)
    for day in made:
        _create_day(conn, history, day)
    return made


def _create_day(conn: sa.Connection, history: History, day: date) -> None:
    """Make one day's partition. PostgreSQL refuses one whose rows are in the default
    partition, so those move: out of it first, into the new partition after."""
    bounds = {"start": start_of(day), "end": start_of(day + timedelta(days=1))}
    default, column = default_name(history), history.column
    in_default = f"{column} >= :start AND {column} < :end"
    stray = conn.execute(
        sa.text(f"SELECT EXISTS (SELECT FROM {default} WHERE {in_default})"),  # noqa: S608 (names are ours)
        bounds,
    ).scalar()
    if stray:
        conn.execute(
            sa.text(
                f"CREATE TEMP TABLE moving ON COMMIT DROP AS"  # noqa: S608 (names are ours)
                f" WITH moved AS (DELETE FROM {default} WHERE {in_default} RETURNING *)"
                f" SELECT * FROM moved"
            ),
            bounds,
        )
    conn.execute(
        sa.text(
            f"CREATE TABLE {partition_name(history, day)} PARTITION OF {history.table}"
            f" FOR VALUES FROM ('{bounds['start'].isoformat()}')"
            f" TO ('{bounds['end'].isoformat()}')"
        )
    )
    if stray:
        conn.execute(sa.text(f"INSERT INTO {history.table} SELECT * FROM moving"))  # noqa: S608 (names are ours)
        conn.execute(sa.text("DROP TABLE moving"))


def drop_days(conn: sa.Connection, history: History, days: Iterable[date]) -> list[date]:
    """Drop the partitions of ``days``; return the days dropped."""
    existing = partition_days(conn, history)
    dropped = sorted(set(days) & existing)
    for day in dropped:
        conn.execute(sa.text(f"DROP TABLE {partition_name(history, day)}"))
    return dropped


def waiting_event_days(conn: sa.Connection, days: Iterable[date]) -> set[date]:
    """The days among ``days`` with events still to be fanned out (they are not history
    yet, however old: a long outage may leave some)."""
    return {
        day
        for day in days
        if conn.execute(
            sa.text(
                f"SELECT EXISTS (SELECT FROM {partition_name(EVENTS, day)}"  # noqa: S608 (names are ours)
                " WHERE fanout_at IS NOT NULL)"
            )
        ).scalar()
    }


def lock_briefly(conn: sa.Connection) -> None:
    """Give up on a lock the hot path holds longer than `LOCK_TIMEOUT` (and so never keep
    its statements queued behind this transaction's DDL for longer)."""
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
