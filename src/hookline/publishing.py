"""Publishing events: parse them and store each once, in a short transaction, within the
tenant's quota. Fan-out happens afterwards (`hookline.fanout`): an event answered 202 is
durably stored and will make its deliveries, once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hookline.catalog import Catalog
from hookline.clock import now
from hookline.events import Event, parse_events
from hookline.quotas import Quota, QuotaExceeded
from hookline.store import Store


@dataclass(frozen=True)
class Publisher:
    store: Store
    catalog: Catalog
    quota: Quota | None = None
    # Tenants refused for their quota, until when (monotonic): their next publishes in this
    # process are refused before their bodies are parsed. The database's bucket decides.
    _refused_until: dict[str, float] = field(default_factory=dict)

    async def publish(self, tenant_id: str, payload: object) -> list[str]:
        """Accept one event or a list (any of the three forms); return their ids once they
        are durably stored. An id the tenant published before is accepted again but
        stored and delivered only once. Raises QuotaExceeded over the tenant's quota."""
        return await self.store_events(tenant_id, self.parse(tenant_id, payload))

    def parse(self, tenant_id: str, payload: object) -> list[Event]:
        """The events of a request; raises InvalidInput naming every problem."""
        return parse_events(payload, tenant_id=tenant_id, catalog=self.catalog, now=now())

    def refuse_early(self, tenant_id: str) -> None:
        """Raise QuotaExceeded at once if the tenant was refused lately and must still
        wait: a tenant over its quota does not get its requests parsed either."""
        until = self._refused_until.get(tenant_id)
        if until is None:
            return
        wait = until - time.monotonic()
        if wait > 0:
            raise QuotaExceeded(wait)
        del self._refused_until[tenant_id]

    async def store_events(self, tenant_id: str, batch: list[Event]) -> list[str]:
        try:
            await self.store.publish(tenant_id, batch, self.quota)
        except QuotaExceeded as refused:
            self._refused_until[tenant_id] = time.monotonic() + refused.wait
            raise
        return [event.id for event in batch]
