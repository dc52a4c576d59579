"""Publishing events: parse, store once per tenant, and fan out to the webhooks they reach,
all in one transaction, so an accepted event is never lost and never delivered twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hookline import envelopes, filters
from hookline.catalog import Catalog
from hookline.clock import now
from hookline.deliveries import NewDelivery, new_delivery_id
from hookline.events import Event, parse_events
from hookline.matching import reaches, resource_id
from hookline.store import Store
from hookline.store.base import Plan
from hookline.webhooks import Webhook

USER_DELETED = "com.qlik.v1.user.deleted"


@dataclass(frozen=True)
class Publisher:
    store: Store
    catalog: Catalog

    async def publish(self, tenant_id: str, payload: object) -> list[str]:
        """Accept one event or a list (any of the three forms); return their ids once they
        are durably stored. An id the tenant published before is accepted again but
        stored and delivered only once."""
        batch = parse_events(payload, tenant_id=tenant_id, catalog=self.catalog, now=now())
        await self.store.publish(tenant_id, batch, plan_now)
        return [event.id for event in batch]


def plan_now(batch: list[Event], candidates: list[Webhook]) -> Plan:
    """The planner the store calls: ``plan`` at the current time."""
    return plan(batch, candidates, now())


def plan(batch: list[Event], candidates: list[Webhook], at: datetime) -> Plan:
    """The deliveries ``batch`` makes to ``candidates`` (the enabled webhooks subscribed to
    its types), each due at once, and the users whose deletion it announces."""
    compiled = {hook.id: filters.parse(hook.filter) if hook.filter else None for hook in candidates}
    bodies: dict[tuple[str, bool], str] = {}

    def body(event: Event, cloud_events: bool) -> str:
        """The event's envelope, rendered once per format however many webhooks it reaches."""
        key = (event.id, cloud_events)
        if key not in bodies:
            bodies[key] = envelopes.render(event, cloud_events=cloud_events).decode()
        return bodies[key]

    deliveries = [
        NewDelivery(
            id=new_delivery_id(),
            tenant_id=event.tenant_id,
            webhook_id=hook.id,
            event_id=event.id,
            event_type=event.type,
            body=body(event, hook.enable_cloud_event_delivery),
            triggered_at=at,
            next_attempt_at=at,
        )
        for event in batch
        for hook in candidates
        if reaches(hook, event, compiled[hook.id])
    ]
    deleted = {resource_id(event) for event in batch if event.type == USER_DELETED}
    return Plan(deliveries, frozenset(owner for owner in deleted if isinstance(owner, str)))
