"""Publishing events: parse them and store each once, in a short transaction, within the
tenant's quota. Fan-out happens afterwards (`hookline.fanout`): an event answered 202 is
durably stored and will make its deliveries, once."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.catalog import Catalog
from hookline.clock import now
from hookline.events import Event, parse_events
from hookline.quotas import Quota
from hookline.store import Store


@dataclass(frozen=True)
class Publisher:
    store: Store
    catalog: Catalog
    quota: Quota | None = None

    async def publish(self, tenant_id: str, payload: object) -> list[str]:
        """Accept one event or a list (any of the three forms); return their ids once they
        are durably stored. An id the tenant published before is accepted again but
        stored and delivered only once. Raises QuotaExceeded over the tenant's quota."""
        return await self.store_events(tenant_id, self.parse(tenant_id, payload))

    def parse(self, tenant_id: str, payload: object) -> list[Event]:
        """The events of a request; raises InvalidInput naming every problem."""
        return parse_events(payload, tenant_id=tenant_id, catalog=self.catalog, now=now())

    async def store_events(self, tenant_id: str, batch: list[Event]) -> list[str]:
        await self.store.publish(tenant_id, batch, self.quota)
        return [event.id for event in batch]
