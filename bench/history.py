"""Old delivery history, written straight into hookline's tables for speed: ``rows``
finished deliveries (each with its one attempt, and one event per 10 deliveries) of the
tenant's webhooks, triggered over the last six days (inside the default 7-day retention, so
the purge leaves them), shaped as hookline itself records a successful delivery."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.bulk_history import make_partitions
from bench.common import EVENT_TYPE, PAD, sign
from hookline.events import Event, to_record

CHUNK = 20_000
SPAN = timedelta(days=6)


def _rows(
    tenant_id: str, webhook_ids: list[str], count: int, request_url: str
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Chunks of (deliveries, attempts, events) rows; datetimes as aware UTC values."""
    rng = random.Random(5)
    end = datetime.now(UTC) - timedelta(hours=1)
    start = end - SPAN
    step = SPAN / max(count, 1)
    headers_template: dict[str, str] | None = None
    made = 0
    while made < count:
        deliveries, attempts, events = [], [], []
        for _ in range(min(CHUNK, count - made)):
            if made % len(webhook_ids) == 0:
                event_id = str(uuid.uuid4())
                triggered = start + step * made
                body = (
                    '{"cloudEventsVersion":"0.1","source":"hookline","contentType":'
                    f'"application/json","eventId":"{event_id}","eventTime":'
                    f'"{triggered.isoformat(timespec="milliseconds")[:-6]}Z",'
                    f'"eventTypeVersion":"1.0.0","eventType":"{EVENT_TYPE}",'
                    f'"extensions":{{"tenantId":"{tenant_id}"}},'
                    f'"data":{{"pad":"{PAD}","sentAt":{triggered.timestamp()}}}}}'
                )
                data = {"pad": PAD, "sentAt": triggered.timestamp()}
                event = Event(event_id, tenant_id, EVENT_TYPE, triggered, "bench", data)
                events.append((tenant_id, event_id, EVENT_TYPE, triggered, to_record(event)))
                if headers_template is None:
                    headers_template = sign("x" * 32, event_id, body.encode())
                    headers_template["User-Agent"] = "hookline-webhook/0.1.0"
            webhook_id = webhook_ids[made % len(webhook_ids)]
            delivery_id = str(uuid.uuid4())
            ended = triggered + timedelta(milliseconds=rng.uniform(5, 80))
            assert headers_template is not None
            deliveries.append(
                (
                    delivery_id,
                    tenant_id,
                    webhook_id,
                    event_id,
                    EVENT_TYPE,
                    triggered,
                    "success",
                    "HTTP 200",
                    False,
                    1,
                    None,
                    ended,
                    None,
                    None,
                    request_url,
                    json.dumps(headers_template),
                    200,
                    '{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "2"}',
                    "ok",
                    triggered,
                )
            )
            duration = round(rng.uniform(2, 60), 3)
            attempts.append((delivery_id, 1, triggered, triggered, duration, 200, None))
            made += 1
        yield deliveries, attempts, events


DELIVERY_COLUMNS = (
    "id, tenant_id, webhook_id, event_id, event_type, triggered_at, status, status_message, "
    "cloud_events, attempt_count, next_attempt_at, ended_at, lease_until, lease_owner, "
    "request_url, request_headers, response_status, response_headers, response_body, "
    "event_received_at"
)
ATTEMPT_COLUMNS = (
    "delivery_id, number, delivery_triggered_at, started_at, duration_ms, status_code, error"
)
EVENT_COLUMNS = "tenant_id, id, type, received_at, payload"


def _sqlite_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    return value


def fill_sqlite(path: str, count: int, request_url: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        tenant_id, webhook_ids = _owner(
            conn.execute("SELECT id, tenant_id FROM webhooks").fetchall()
        )
        for deliveries, attempts, events in _rows(tenant_id, webhook_ids, count, request_url):
            with conn:
                conn.executemany(
                    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?)",
                    [tuple(_sqlite_time(v) for v in row) for row in events],
                )
                conn.executemany(
                    f"INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES ({','.join('?' * 20)})",
                    [tuple(_sqlite_time(v) for v in row) for row in deliveries],
                )
                conn.executemany(
                    f"INSERT INTO delivery_attempts ({ATTEMPT_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                    [tuple(_sqlite_time(v) for v in row) for row in attempts],
                )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # No ANALYZE: hookline never runs it, so a real SQLite database has no statistics.
    finally:
        conn.close()


def _owner(rows: list[Any]) -> tuple[str, list[str]]:
    if not rows:
        raise RuntimeError("no webhooks to write history for")
    return rows[0][1], sorted(row[0] for row in rows)


async def fill_postgres(url: str, count: int, request_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tenant_id, webhook_ids = _owner(await conn.fetch("SELECT id, tenant_id FROM webhooks"))
        end = datetime.now(UTC)
        days = (SPAN + timedelta(days=1)).days
        await make_partitions(conn, [(end - timedelta(days=n)).date() for n in range(days + 1)])
        for deliveries, attempts, events in _rows(tenant_id, webhook_ids, count, request_url):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "events", records=events, columns=[c.strip() for c in EVENT_COLUMNS.split(",")]
                )
                await conn.copy_records_to_table(
                    "deliveries",
                    records=deliveries,
                    columns=[c.strip() for c in DELIVERY_COLUMNS.split(",")],
                )
                await conn.copy_records_to_table(
                    "delivery_attempts",
                    records=attempts,
                    columns=[c.strip() for c in ATTEMPT_COLUMNS.split(",")],
                )
        await conn.execute("ANALYZE")  # autovacuum would, on a database that grew this way
    finally:
        await conn.close()


async def fill(backend: str, url: str, count: int, request_url: str) -> None:
    if backend == "sqlite":
        await asyncio.to_thread(fill_sqlite, url.removeprefix("sqlite:///"), count, request_url)
    else:
        await fill_postgres(url, count, request_url)
