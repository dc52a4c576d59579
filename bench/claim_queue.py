"""The store's real claim, timed: ``PostgresStore.claim`` of up to ``BATCH`` deliveries from
a small queue of due deliveries of ``TENANTS`` tenants' ``WEBHOOKS`` webhooks each. Each
claim's deliveries are then recorded as answered with the store's own record (timed
apart), and the queue is topped up through the store's own publish and fan-out, so every
claim sees a fresh queue of about the same depth. One claim at a time, from this process.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from bench.common import EVENT_TYPE, PAD, percentile
from hookline.clock import now
from hookline.deliveries import Attempt, Claimed, FailurePolicy, Result
from hookline.events import Event
from hookline.fanout import delivery
from hookline.settings import Settings
from hookline.shares import Room
from hookline.store import Caps, WebhookQuery
from hookline.store.base import Expansion
from hookline.store.postgres import PostgresStore
from hookline.webhooks import Webhook

TENANTS = 10
WEBHOOKS = 10  # a tenant's; each event reaches all of them
BATCH = 100  # deliveries a claim asks for
DEPTH = 20  # events a tenant has due at first: 20 deliveries due per webhook, 2,000 in all
REFILL = 10  # events per tenant published again whenever that many rounds were claimed
WARMUP = 50  # claims made before the timed ones (statements prepared, caches warm)
OWNER = "bench-claims"
Fleet = dict[str, list[Webhook]]  # tenant id -> its webhooks, in id order


def _webhook(tenant_id: str, number: int) -> Webhook:
    made = now()
    return Webhook(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name=f"bench-{number}",
        description="",
        url=f"https://hooks.example.test/ok/{number}",
        event_types=(EVENT_TYPE,),
        headers={},
        encrypted_header_names=(),
        sealed_secret=None,
        sealed_encrypted_headers=None,
        enabled=True,
        filter=None,
        level="tenant",
        owner_id="bench",
        origin="api",
        check_certificate_revocation=False,
        enable_cloud_event_delivery=False,
        disabled_reason=None,
        disabled_reason_code=None,
        created_at=made,
        updated_at=made,
        created_by_user_id="bench",
        updated_by_user_id="bench",
    )


async def fleet(store: PostgresStore) -> Fleet:
    """The bench tenants and their webhooks: made on a new database, found on one a
    stopped run left."""
    found: Fleet = {}
    for number in range(TENANTS):
        name = f"bench-{number}"
        tenant = await store.find_tenant(name)
        if tenant is None:
            tenant = await store.create_tenant(name)
            for hook in range(WEBHOOKS):
                await store.insert_webhook(_webhook(tenant.id, hook), Caps(WEBHOOKS, WEBHOOKS))
        page = await store.list_webhooks(WebhookQuery(tenant.id, limit=WEBHOOKS))
        found[tenant.id] = sorted(page.items, key=lambda hook: hook.id)
    return found


def webhook_ids(hooks: Fleet) -> dict[str, list[str]]:
    return {tenant: [hook.id for hook in each] for tenant, each in hooks.items()}


async def top_up(store: PostgresStore, hooks: Fleet, events_per_tenant: int) -> None:
    """Publish ``events_per_tenant`` events to each tenant and fan them out (one delivery
    per webhook, due now), as a ``serve`` process would."""
    for tenant in hooks:
        published = now()
        await store.publish(tenant, [_event(tenant, published) for _ in range(events_per_tenant)])
    while True:
        pending = await store.claim_fanout(limit=1000, per_tenant=1000, lease_seconds=120)
        if not pending.events:
            return
        at = now()
        await store.expand(
            pending.lease,
            [
                Expansion(event, [delivery(event, hook, at) for hook in hooks[event.tenant_id]])
                for event in pending.events
            ],
        )


def _event(tenant_id: str, at: datetime) -> Event:
    data = {"pad": PAD, "sentAt": at.timestamp()}
    return Event(str(uuid.uuid4()), tenant_id, EVENT_TYPE, at, "bench", data)


def _answered(claimed: Claimed, started: datetime) -> Result:
    """A 200 answer to the attempt, as the dispatcher records it."""
    return Result(
        delivery_id=claimed.delivery_id,
        tenant_id=claimed.tenant_id,
        webhook_id=claimed.webhook_id,
        triggered_at=claimed.triggered_at,
        attempt=Attempt(claimed.attempt_count + 1, started, 12.5, 200, None),
        status="success",
        status_message="HTTP 200",
        next_attempt_at=None,
        request_url=claimed.url,
        request_headers={"Content-Type": "application/json"},
        response_status=200,
        response_headers={"Content-Type": "text/plain"},
        response_body="ok",
    )


def _room() -> Room:
    """No attempt of this process in flight, under hookline's default bounds."""
    fields = Settings.model_fields
    return Room(
        per_webhook=fields["endpoint_concurrency"].default,
        per_tenant=fields["tenant_concurrency"].default,
        webhooks={},
        tenants={},
    )


def _summary(seconds: list[float]) -> dict[str, Any]:
    ms = [1000 * value for value in seconds]
    return {
        "p50_ms": round(percentile(ms, 0.50) or 0, 2),
        "p90_ms": round(percentile(ms, 0.90) or 0, 2),
        "p99_ms": round(percentile(ms, 0.99) or 0, 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
    }


class Claims:
    """Timed claims from one database's queue, each followed by the record of its
    deliveries; the queue is topped up whenever half of it is gone (between 10 and 20
    deliveries due per webhook)."""

    def __init__(self, url: str, store: PostgresStore, hooks: Fleet) -> None:
        self.url = url
        self.store = store
        self.hooks = hooks
        self._room = _room()
        self._lease = Settings.model_fields["lease_seconds"].default
        self._taken = 0
        self._claim_times: list[float] = []
        self._record_times: list[float] = []
        self._sizes: list[int] = []

    async def start(self) -> None:
        """Fill the queue, VACUUM and ANALYZE it (as autovacuum would have: a kept
        database holds the dead rows of an earlier run's claims) and make ``WARMUP``
        untimed claims (statements prepared, caches warm)."""
        await top_up(self.store, self.hooks, DEPTH)
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute("VACUUM deliveries, due_webhooks")
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        await self.run(WARMUP, timed=False)

    async def run(self, count: int, timed: bool = True) -> None:
        for _ in range(count):
            started = time.perf_counter()
            got = await self.store.claim(
                owner=OWNER, limit=BATCH, lease_seconds=self._lease, room=self._room
            )
            claimed = time.perf_counter()
            await self.store.record([_answered(item, now()) for item in got], FailurePolicy())
            if timed:
                self._claim_times.append(claimed - started)
                self._record_times.append(time.perf_counter() - claimed)
                self._sizes.append(len(got))
            self._taken += len(got)
            if self._taken >= REFILL * TENANTS * WEBHOOKS:
                await top_up(self.store, self.hooks, REFILL)
                self._taken -= REFILL * TENANTS * WEBHOOKS

    def summary(self) -> dict[str, Any]:
        return {
            "claims": len(self._claim_times),
            "batch": BATCH,
            "claimed_mean": round(sum(self._sizes) / len(self._sizes), 1),
            "claimed_min": min(self._sizes),
            "claim": _summary(self._claim_times),
            "record": _summary(self._record_times),
        }
