"""Fan-out: the deliveries accepted events make, worked off after publishing, in bounded
chunks that are fair between tenants.

An `Expander` runs in every `serve` and `worker` process. It leases a few waiting events
of each tenant (round-robin: a tenant that published a thousand events waits its turn
behind one that published one), matches them against the tenant's webhooks on the event
loop, a slice at a time, and stores each group of deliveries with the mark that its
events are done, in one short transaction. A crash before that commit leaves the events
waiting; their lease runs out and another expansion makes them: never lost, never
fanned out twice. Matching is bounded per filter (``filters.TooCostly``: the event is
matched as "no" and the operator's log says why), and the expander never takes more than
half of the loop's time while it has work, so deliveries keep flowing beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import structlog

from hookline import filters
from hookline.clock import now
from hookline.deliveries import NewDelivery, new_delivery_id
from hookline.errors import StorageUnavailable
from hookline.events import Event
from hookline.matching import reaches, resource_id
from hookline.ratelimit import RateLimiter
from hookline.store import Store
from hookline.store.base import Expansion
from hookline.waits import first_of
from hookline.webhooks import Webhook

log = structlog.get_logger()
USER_DELETED = "com.qlik.v1.user.deleted"
BURST_SECONDS = 10


@dataclass(frozen=True)
class FanoutLimits:
    # A round leases waiting events in turns (each tenant's first, then each one's second,
    # and so on), at most ``events_per_tenant`` of one tenant: a tenant's big publish
    # waits its turn behind the others' events, and every tenant with waiting events gets
    # up to that many through each round, however slow the others' are.
    events_per_round: int = 100
    events_per_tenant: int = 20
    rows_per_transaction: int = 2000
    # Deliveries a tenant's events may make a second (with bursts of ten seconds' worth;
    # 0: no bound). A tenant past it has its events wait: they are accepted and safe, and
    # its fan-out cannot fill the disk for everyone.
    tenant_deliveries_per_second: float = 2000.0
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    slice_seconds: float = 0.005  # matching runs this long at most between yields


def delivery(event: Event, hook: Webhook, at: datetime) -> NewDelivery:
    """The delivery of ``event`` to ``hook``, due at ``at``."""
    return NewDelivery(
        id=new_delivery_id(),
        tenant_id=event.tenant_id,
        webhook_id=hook.id,
        event_id=event.id,
        event_type=event.type,
        cloud_events=hook.enable_cloud_event_delivery,
        triggered_at=at,
        next_attempt_at=at,
    )


def deleted_owner(event: Event) -> str | None:
    """The user a ``user.deleted`` event announces the deletion of."""
    if event.type != USER_DELETED:
        return None
    deleted = resource_id(event)
    return deleted if isinstance(deleted, str) else None


def _compiled(hook: Webhook) -> filters.Filter | None:
    return filters.compile(hook.filter) if hook.filter else None


class Expander:
    """Fans out waiting events until stopped."""

    def __init__(self, store: Store, limits: FanoutLimits) -> None:
        self._store = store
        self._limits = limits
        rate = limits.tenant_deliveries_per_second
        self._made = RateLimiter(rate, max(int(rate * BURST_SECONDS), 1))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                if await self.expand_some():
                    continue
            except StorageUnavailable as error:
                log.warning("fan-out failed; retrying", error=str(error))
            except Exception:
                # Never expected; the leases run out and the events are expanded again.
                log.exception("fan-out failed unexpectedly; retrying")
            await first_of(self._store.wait_for_events(self._limits.poll_seconds), stopping.wait())

    async def expand_some(self) -> int:
        """Lease one round of waiting events and fan it out; return how many there were."""
        limits = self._limits
        pending = await self._store.claim_fanout(
            limit=limits.events_per_round,
            per_tenant=limits.events_per_tenant,
            lease_seconds=limits.lease_seconds,
            skip=self._made.in_debt(),
        )
        if not pending.events:
            return 0
        candidates = await self._candidates(pending.events)
        group: list[Expansion] = []
        rows = 0
        async for item in self._expansions(pending.events, candidates):
            group.append(item)
            rows += len(item.deliveries)
            self._made.spend(item.event.tenant_id, len(item.deliveries))
            if rows >= limits.rows_per_transaction:  # each transaction stays short
                await self._store.expand(pending.lease, group)
                group, rows = [], 0
        await self._store.expand(pending.lease, group)
        return len(pending.events)

    async def _candidates(self, batch: list[Event]) -> dict[str, list[Webhook]]:
        types: dict[str, set[str]] = {}
        for event in batch:
            types.setdefault(event.tenant_id, set()).add(event.type)
        return {
            tenant: await self._store.subscribed(tenant, wanted) for tenant, wanted in types.items()
        }

    async def _expansions(
        self, batch: list[Event], candidates: dict[str, list[Webhook]]
    ) -> AsyncIterator[Expansion]:
        at = now()
        pace = _Pace(self._limits.slice_seconds)
        for event in batch:
            made, slow, reason = [], [], ""
            for hook in candidates[event.tenant_id]:
                try:
                    if reaches(hook, event, _compiled(hook)):
                        made.append(delivery(event, hook, at))
                except filters.TooCostly as error:
                    slow.append(hook.id)
                    reason = str(error)
                await pace.step()
            if slow:
                log.warning(
                    "event not delivered: a filter costs too much for it",
                    tenant=event.tenant_id,
                    event_id=event.id,
                    webhooks=slow,
                    reason=reason,
                )
            yield Expansion(event, made, deleted_owner(event))


class _Pace:
    """Yields the event loop after every ``slice_seconds`` of work, for as long again: the
    work never takes more than half of the loop while others wait."""

    def __init__(self, slice_seconds: float) -> None:
        self._slice = slice_seconds
        self._started = time.perf_counter()

    async def step(self) -> None:
        spent = time.perf_counter() - self._started
        if spent >= self._slice:
            await asyncio.sleep(spent)
            self._started = time.perf_counter()
