"""Steps the delivery queue tests share: tenants and webhooks, publishing with its fan-out
(claim_fanout, a plain match, expand), claims with room to spare, history reads."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from hookline.clock import now
from hookline.deliveries import Claimed, Delivery, FailurePolicy
from hookline.events import Event
from hookline.fanout import deleted_owner, delivery
from hookline.settings import load_settings
from hookline.shares import Room
from hookline.store import Caps, Store, open_store
from hookline.store.base import DeliveryQuery, Expansion
from hookline.store.partitions import start_of
from hookline.webhooks import Webhook
from tests.databases import TEST_SECRET_KEY
from tests.store.factories import webhook

ROOMY_CAPS = Caps(per_tenant=1000, per_user=1000)
# Room to spare: no webhook or tenant has anything in flight.
ROOMY = Room(per_webhook=1_000_000, per_tenant=1_000_000, webhooks={}, tenants={})
POLICY = FailurePolicy(threshold=1000, window_seconds=24 * 3600)
NOW = timedelta(0)
LEASE = 60.0
EVERYTHING = 100_000  # a claim_fanout limit no test reaches


def end_of_day(moment: datetime) -> datetime:
    """The next UTC midnight: a purge at it may drop the whole day (PostgreSQL drops days of
    history, hookline.store.partitions; SQLite deletes rows), one before it only rows."""
    return start_of(moment.astimezone(UTC).date() + timedelta(days=1))


async def tenant(store: Store, name: str = "acme") -> str:
    return (await store.create_tenant(name)).id


async def hook(store: Store, tenant_id: str, number: int = 0, **fields: Any) -> Webhook:
    made = webhook(tenant_id, number, **fields)
    await store.insert_webhook(made, ROOMY_CAPS)
    return made


async def expansions(
    store: Store,
    batch: list[Event],
    *,
    triggered_at: datetime | None = None,
    due: timedelta | None = NOW,
) -> list[Expansion]:
    """What fan-out makes of ``batch``: a delivery to every enabled webhook of the tenant
    subscribed to the event's type (no filters, no levels), triggered at ``triggered_at``
    (default: now) and due ``due`` from now (None: ended); user deletions name their user."""
    at = now()
    types: dict[str, set[str]] = {}
    for item in batch:
        types.setdefault(item.tenant_id, set()).add(item.type)
    hooks = {
        tenant_id: await store.subscribed(tenant_id, wanted) for tenant_id, wanted in types.items()
    }
    return [
        Expansion(
            item,
            [
                dataclasses.replace(
                    delivery(item, candidate, triggered_at or at),
                    next_attempt_at=None if due is None else at + due,
                )
                for candidate in hooks[item.tenant_id]
                if item.type in candidate.event_types
            ],
            deleted_owner(item),
        )
        for item in batch
    ]


async def expand_waiting(
    store: Store, *, triggered_at: datetime | None = None, due: timedelta | None = NOW
) -> int:
    """Fan out every event waiting (as `expansions` says); return how many deliveries
    that made."""
    made = 0
    while True:
        pending = await store.claim_fanout(
            limit=EVERYTHING, per_tenant=EVERYTHING, lease_seconds=LEASE
        )
        if not pending.events:
            return made
        made += await store.expand(
            pending.lease,
            await expansions(store, pending.events, triggered_at=triggered_at, due=due),
        )


async def publish(
    store: Store,
    tenant_id: str,
    *events: Event,
    triggered_at: datetime | None = None,
    due: timedelta | None = NOW,
) -> list[Event]:
    """Publish ``events`` and fan out whatever waits; return the events that were new."""
    new = await store.publish(tenant_id, list(events))
    await expand_waiting(store, triggered_at=triggered_at, due=due)
    return new


async def claim(
    store: Store,
    *,
    limit: int = 100,
    lease_seconds: float = LEASE,
    room: Room = ROOMY,
    owner: str = "worker-1",
) -> list[Claimed]:
    return await store.claim(owner=owner, limit=limit, lease_seconds=lease_seconds, room=room)


async def history(store: Store, tenant_id: str, webhook_id: str, **query: Any) -> list[Delivery]:
    page = await store.list_deliveries(DeliveryQuery(tenant_id, webhook_id, limit=100, **query))
    return page.items


async def only(store: Store, tenant_id: str, webhook_id: str) -> Delivery:
    [found] = await history(store, tenant_id, webhook_id)
    return found


@asynccontextmanager
async def another_store(database_url: str) -> AsyncIterator[Store]:
    """A second store on the same database, as another hookline process would open."""
    opened = open_store(load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY))
    try:
        yield opened
    finally:
        await opened.close()


def event_ids(claimed: list[Claimed]) -> list[str]:
    return [item.event_id for item in claimed]
