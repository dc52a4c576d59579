"""Endpoint health for whoever may see the webhook (the figures: hookline.stats)."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.auth import Principal
from hookline.clock import now
from hookline.registry import Registry
from hookline.shares import Gate
from hookline.stats import EndpointStats, StatsQuery, Window
from hookline.store import Store


@dataclass(frozen=True)
class Health:
    """Endpoint health for whoever may see the webhook. A tenant's requests for it take
    turns (``turns``, one at a time in a process): each reads a bounded sample, and one
    tenant can then keep at most one database connection busy with them."""

    store: Store
    registry: Registry
    turns: Gate

    async def stats(self, caller: Principal, webhook_id: str, window: Window) -> EndpointStats:
        webhook = await self.registry.get(caller, webhook_id)
        async with self.turns.turn(webhook.tenant_id):
            query = StatsQuery(webhook.tenant_id, webhook.id, window, now())
            return await self.store.endpoint_stats(query)
