"""Attempt history written straight into a running hookline's database, at the times a
test needs: one delivery at a time through a store of the test's own (as another hookline
process records them), or many at once as rows. Each write runs on a thread of its own,
so it works beside Playwright's event loop too."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from hookline.clock import now
from hookline.deliveries import Attempt, FailurePolicy, NewDelivery, Result
from hookline.settings import load_settings
from hookline.store import Store, open_store
from hookline.store.schema import deliveries, delivery_attempts
from hookline.store.sql_base import SqlBase
from tests.databases import TEST_SECRET_KEY
from tests.servers import RunningServer

T = TypeVar("T")
NEVER_DISABLE = FailurePolicy(threshold=1_000_000)
LONG_LEASE = 3600.0  # the server's workers never take a test's delivery
APP_CREATED = "com.qlik.v1.app.created"


@dataclass(frozen=True)
class Sent:
    """One attempt, the only one of its delivery, made ``ago`` before now."""

    ago: timedelta
    status_code: int | None = 200
    duration_ms: float = 100.0
    retry: bool = False  # the delivery is to be retried (it stays in the backlog)

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def record(server: RunningServer, tenant_id: str, webhook: dict[str, Any], *sent: Sent) -> None:
    """Each attempt as the engine records it, one delivery of ``webhook`` each."""

    async def write(store: Store) -> None:
        for attempt in sent:
            await _record(store, tenant_id, webhook, attempt)

    _with_store(server, write)


def record_many(
    server: RunningServer,
    tenant_id: str,
    webhook: dict[str, Any],
    sent: Iterable[Sent],
    event_type: str = APP_CREATED,
) -> None:
    """Many ended deliveries of one attempt each, inserted as rows in one transaction."""
    made = [_rows(tenant_id, webhook["id"], event_type, attempt) for attempt in sent]

    async def write(store: Store) -> None:
        assert isinstance(store, SqlBase)

        def insert(conn: sa.Connection) -> None:
            conn.execute(deliveries.insert(), [delivery for delivery, _ in made])
            conn.execute(delivery_attempts.insert(), [attempt for _, attempt in made])

        await store._write(insert)

    _with_store(server, write)


def busy_week(count: int, *, failing: float = 0.1, seed: int = 7) -> list[Sent]:
    """``count`` attempts spread evenly over the last seven days, some failing, with
    durations of tens to hundreds of milliseconds."""
    rng = random.Random(seed)
    step = timedelta(days=7) / (count + 1)
    return [
        Sent(
            step * (n + 1),
            status_code=503 if rng.random() < failing else 200,
            duration_ms=round(rng.lognormvariate(4.5, 0.6), 1),
        )
        for n in range(count)
    ]


def _with_store(server: RunningServer, work: Callable[[Store], Awaitable[None]]) -> None:
    settings = load_settings(
        database_url=server.services.settings.database_url, secret_key=TEST_SECRET_KEY
    )

    async def run() -> None:
        store = open_store(settings)
        try:
            await work(store)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()


async def _record(store: Store, tenant_id: str, webhook: dict[str, Any], sent: Sent) -> None:
    started = now() - sent.ago
    new = NewDelivery(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        webhook_id=webhook["id"],
        event_id=f"e-{uuid.uuid4().hex[:12]}",
        event_type=APP_CREATED,
        cloud_events=False,
        triggered_at=started,
        next_attempt_at=started,
    )
    await store.add_delivery(new, owner="tests", lease_seconds=LONG_LEASE)
    code = sent.status_code
    result = Result(
        delivery_id=new.id,
        tenant_id=tenant_id,
        webhook_id=webhook["id"],
        triggered_at=new.triggered_at,
        attempt=Attempt(1, started, sent.duration_ms, code, None if code else "timed out"),
        status="success" if sent.succeeded else "fail",
        status_message=f"HTTP {code}" if code else "timed out",
        next_attempt_at=now() + timedelta(hours=1) if sent.retry else None,
        request_url=webhook["url"],
        request_headers={},
        response_status=code,
        response_headers={},
        response_body="",
    )
    await store.record([result], NEVER_DISABLE)


def _rows(
    tenant_id: str, webhook_id: str, event_type: str, sent: Sent
) -> tuple[dict[str, Any], dict[str, Any]]:
    started = now() - sent.ago
    ended: datetime = started + timedelta(milliseconds=sent.duration_ms)
    delivery_id = str(uuid.uuid4())
    delivery = {
        "id": delivery_id,
        "tenant_id": tenant_id,
        "webhook_id": webhook_id,
        "event_id": f"e-{uuid.uuid4().hex[:12]}",
        "event_type": event_type,
        "triggered_at": started,
        "status": "success" if sent.succeeded else "fail",
        "status_message": f"HTTP {sent.status_code}",
        "cloud_events": False,
        "attempt_count": 1,
        "ended_at": ended,
        "response_status": sent.status_code,
    }
    attempt = {
        "delivery_id": delivery_id,
        "number": 1,
        "delivery_triggered_at": started,
        "started_at": started,
        "duration_ms": sent.duration_ms,
        "status_code": sent.status_code,
        "error": None,
    }
    return delivery, attempt
