"""Migration 0004 takes a database with history (0003: every delivery had its own body) to
the fan-out layout: each event gets its payload back from its deliveries' bodies, each
delivery its envelope, each webhook with pending work its due_webhooks entry, and the
history reads the same bodies as before. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookline import envelopes
from hookline.clock import now
from hookline.events import Event, from_record
from hookline.settings import load_settings
from hookline.store import open_store
from hookline.store import schema as current
from hookline.store.migrations import alembic_config, upgrade
from hookline.store.postgres import asyncpg_url
from hookline.store.schema import UTCDateTime
from hookline.webhooks import Webhook
from tests.databases import BACKENDS, TEST_SECRET_KEY, empty_database
from tests.store.factories import webhook
from tests.store.queueing import ROOMY, history

APP_CREATED = "com.qlik.v1.app.created"

# The two tables 0004 changes, as 0003 left them.
_old = sa.MetaData()
old_events = sa.Table(
    "events",
    _old,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("type", sa.String(255)),
    sa.Column("received_at", UTCDateTime),
)
old_deliveries = sa.Table(
    "deliveries",
    _old,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36)),
    sa.Column("webhook_id", sa.String(36)),
    sa.Column("event_id", sa.String(200)),
    sa.Column("event_type", sa.String(255)),
    sa.Column("triggered_at", UTCDateTime),
    sa.Column("status", sa.String(10)),
    sa.Column("status_message", sa.Text),
    sa.Column("body", sa.Text),
    sa.Column("attempt_count", sa.Integer),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
)

# Webhook columns later migrations add (0007: a secret rotation's; 0009: the failing run;
# 0011: pacing).
_LATER_COLUMNS = (
    "sealed_previous_secret",
    "secret_rotating_until",
    "failing_since",
    "run_failures",
    "run_unreported",
    "exhausted_event_at",
    "rate_limit",
    "ordering",
)


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(request.param, tmp_path) as url:
        yield url


def _engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        return create_async_engine(database_url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    return create_async_engine(asyncpg_url(database_url))


@dataclass(frozen=True)
class Sent:
    """A delivery as 0003 stored it."""

    id: str
    event: Event
    hook: Webhook
    cloud_events: bool
    triggered_at: datetime
    next_attempt_at: datetime | None = None

    @property
    def body(self) -> str:
        return envelopes.render(self.event, cloud_events=self.cloud_events).decode()


async def _history_at_0003(engine: AsyncEngine, sent: list[Sent], events: list[Event]) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0003"))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    tenants = {event.tenant_id for event in events}
    hooks = {item.hook.id: item.hook for item in sent}
    async with engine.begin() as conn:
        await conn.execute(
            current.tenants.insert(),
            [{"id": tenant_id, "name": tenant_id, "created_at": at} for tenant_id in tenants],
        )
        await conn.execute(
            current.webhooks.insert(),
            [
                {
                    column.name: getattr(hook, column.name)
                    for column in current.webhooks.columns
                    if column.name not in ("headers", "encrypted_header_names", *_LATER_COLUMNS)
                }
                | {"headers": {}, "encrypted_header_names": []}
                for hook in hooks.values()
            ],
        )
        await conn.execute(
            current.webhook_event_types.insert(),
            [
                {"webhook_id": hook.id, "event_type": kind, "tenant_id": hook.tenant_id}
                for hook in hooks.values()
                for kind in hook.event_types
            ],
        )
        await conn.execute(
            old_events.insert(),
            [
                {"tenant_id": e.tenant_id, "id": e.id, "type": e.type, "received_at": at}
                for e in events
            ],
        )
        await conn.execute(
            old_deliveries.insert(),
            [
                {
                    "id": item.id,
                    "tenant_id": item.event.tenant_id,
                    "webhook_id": item.hook.id,
                    "event_id": item.event.id,
                    "event_type": item.event.type,
                    "triggered_at": item.triggered_at,
                    "status": "pending" if item.next_attempt_at else "success",
                    "status_message": "",
                    "body": item.body,
                    "attempt_count": 0 if item.next_attempt_at else 1,
                    "next_attempt_at": item.next_attempt_at,
                    "ended_at": None if item.next_attempt_at else item.triggered_at,
                }
                for item in sent
            ],
        )


def _event(tenant_id: str, event_id: str, **fields: object) -> Event:
    values: dict[str, object] = {
        "id": event_id,
        "tenant_id": tenant_id,
        "type": APP_CREATED,
        "time": datetime(2025, 3, 8, 14, 51, 29, 123000, tzinfo=UTC),
        "source": "com.qlik/engine",
        "data": {"id": "app-1", "attributes": {"name": "Sales", "tags": [1, None, "x"]}},
    }
    return Event(**(values | fields))  # type: ignore[arg-type]


async def test_migrating_history_keeps_every_body_and_the_pending_work(empty_url: str) -> None:
    tenant_id = str(uuid.uuid4())
    legacy = webhook(tenant_id, 1)
    cloud = webhook(tenant_id, 2, enable_cloud_event_delivery=True)
    full = _event(
        tenant_id,
        "e-legacy",
        user_id="u1",
        owner_id="o1",
        space_id="s1",
        top_level_resource_id="r1",
        extensions={"myExtension": {"b": 1, "a": [2]}, "Region": "eu"},
    )
    clouded = _event(
        tenant_id,
        "e-cloud",
        time=datetime(2025, 3, 8, 14, 51, 29, tzinfo=UTC),
        owner_id="o2",
        extensions={"region": "us"},  # CloudEvents keeps extension names in lower case
    )
    both = _event(tenant_id, "e-both", user_id="u3", extensions={"traceParent": "00-ab"})
    pending = _event(tenant_id, "e-pending", data={"id": "app-9"})
    unsent = _event(tenant_id, "e-unsent")
    # resent after its event was purged (0003 purged events and deliveries alike)
    purged = _event(tenant_id, "e-purged", extensions={"kept": True})
    before = now() - timedelta(hours=1)
    sent = [
        Sent(str(uuid.uuid4()), full, legacy, False, before),
        Sent(str(uuid.uuid4()), clouded, cloud, True, before),
        # the CloudEvents delivery of an event first: its body lost the names' case
        Sent("00000000-0000-7000-8000-000000000001", both, cloud, True, before),
        Sent("ffffffff-0000-7000-8000-000000000001", both, legacy, False, before),
        retried := Sent(str(uuid.uuid4()), pending, legacy, False, before, next_attempt_at=before),
        Sent(str(uuid.uuid4()), purged, cloud, True, before - timedelta(minutes=1)),
        Sent(str(uuid.uuid4()), purged, cloud, True, before),
    ]
    engine = _engine(empty_url)
    try:
        await _history_at_0003(engine, sent, [full, clouded, both, pending, unsent])
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        async with engine.connect() as conn:
            payloads = {
                row.id: from_record(row.tenant_id, row.id, row.type, row.payload)
                for row in await conn.execute(sa.select(current.events))
            }
            fanout = set((await conn.execute(sa.select(current.events.c.fanout_at))).scalars())
            envelope = dict(
                (
                    await conn.execute(
                        sa.select(current.deliveries.c.id, current.deliveries.c.cloud_events)
                    )
                ).all()
            )
            due = (await conn.execute(sa.select(current.due_webhooks))).all()
    finally:
        await engine.dispose()

    for event in (full, clouded, both, pending, purged):
        assert payloads[event.id] == event
    assert payloads["e-unsent"].id == "e-unsent"  # readable, though its body is gone
    assert fanout == {None}  # fanned out long ago
    assert envelope == {item.id: item.cloud_events for item in sent}
    assert [(row.webhook_id, row.tenant_id, row.due_at) for row in due] == [
        (legacy.id, tenant_id, before)
    ]

    store = open_store(load_settings(database_url=empty_url, secret_key=TEST_SECRET_KEY))
    try:
        bodies = {
            item.id: item.body
            for hook in (legacy, cloud)
            for item in await history(store, tenant_id, hook.id)
        }
        assert bodies == {item.id: item.body for item in sent}
        [claimed] = await store.claim(owner="w", limit=10, lease_seconds=60, room=ROOMY)
        assert (claimed.event_id, claimed.body) == (pending.id, retried.body.encode())
    finally:
        await store.close()
