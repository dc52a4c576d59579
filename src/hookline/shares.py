"""Each tenant spends only its own share of the engine's attempts.

Attempts in flight in one process are bounded three ways: in total, per webhook (the
endpoint bound) and per tenant. `Slots` counts them, for queued attempts and resends
alike; a claim also counts, against the webhook and tenant bounds, the leases other
processes hold (hookline.store.queue), so those two hold across every process.
`allocate` decides how many due deliveries of each webhook a claim takes: from the
webhooks with due work, longest due first, one at a time round-robin over the tenants and
then over each tenant's webhooks, never past a bound. So a tenant with a hundred busy
webhooks gets the same turns as a tenant with one, and a hanging endpoint holds only its
own slots.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """A webhook with due deliveries, as claims see it."""

    webhook_id: str
    tenant_id: str


def allocate(
    heads: Sequence[Head],
    limit: int,
    webhook_room: Callable[[str], int],
    tenant_room: Callable[[str], int],
) -> dict[str, int]:
    """How many deliveries to take of each webhook in ``heads`` (longest due first): at
    most ``limit`` in all, round-robin over tenants, then over their webhooks."""
    # Only webhooks with room take turns: a full one first in line would cost its tenant
    # the round.
    webhook_left = {head.webhook_id: webhook_room(head.webhook_id) for head in heads}
    tenant_left = {head.tenant_id: tenant_room(head.tenant_id) for head in heads}
    turns: dict[str, deque[str]] = {}
    for head in heads:
        if webhook_left[head.webhook_id] > 0 and tenant_left[head.tenant_id] > 0:
            turns.setdefault(head.tenant_id, deque()).append(head.webhook_id)
    taken: Counter[str] = Counter()
    left = limit
    while left > 0 and turns:
        for tenant in list(turns):
            webhooks = turns[tenant]
            webhook = webhooks.popleft()
            if left > 0 and tenant_left[tenant] > 0 and webhook_left[webhook] > 0:
                taken[webhook] += 1
                left -= 1
                tenant_left[tenant] -= 1
                webhook_left[webhook] -= 1
                webhooks.append(webhook)
            if not webhooks or tenant_left[tenant] <= 0:
                del turns[tenant]
    return dict(taken)


@dataclass(frozen=True)
class Room:
    """Attempts in flight per webhook and per tenant at one moment, against the bounds."""

    per_webhook: int
    per_tenant: int
    webhooks: dict[str, int]
    tenants: dict[str, int]

    def webhook_room(self, webhook_id: str, bound: int | None = None) -> int:
        """Room under ``bound`` (default: the endpoint bound, ``per_webhook``)."""
        return (self.per_webhook if bound is None else bound) - self.webhooks.get(webhook_id, 0)

    def tenant_room(self, tenant_id: str) -> int:
        return self.per_tenant - self.tenants.get(tenant_id, 0)

    def full_webhooks(self) -> list[str]:
        return [webhook for webhook, n in self.webhooks.items() if n >= self.per_webhook]

    def full_tenants(self) -> list[str]:
        return [tenant for tenant, n in self.tenants.items() if n >= self.per_tenant]

    def with_taken(self, taken: Iterable[tuple[str, str]]) -> Room:
        """The room once these (tenant, webhook) attempts are in flight too."""
        pairs = list(taken)
        return self.with_held(
            Counter(webhook_id for _, webhook_id in pairs),
            Counter(tenant_id for tenant_id, _ in pairs),
        )

    def with_held(self, webhooks: Counter[str], tenants: Counter[str]) -> Room:
        """The room once these attempts per webhook and per tenant count too (another
        process's, say)."""
        return Room(
            self.per_webhook,
            self.per_tenant,
            dict(Counter(self.webhooks) + webhooks),
            dict(Counter(self.tenants) + tenants),
        )


class Slots:
    """Attempts in flight in this process, in total, per webhook and per tenant."""

    def __init__(self, *, total: int, per_webhook: int, per_tenant: int) -> None:
        self.total = total
        self.per_webhook = per_webhook
        self.per_tenant = per_tenant
        self.in_flight = 0
        self.freed = asyncio.Event()  # set whenever a slot is released
        self._webhooks: Counter[str] = Counter()
        self._tenants: Counter[str] = Counter()
        self._waiting: deque[tuple[str, asyncio.Future[None]]] = deque()

    def webhook_room(self, webhook_id: str) -> int:
        return self.per_webhook - self._webhooks[webhook_id]

    def tenant_room(self, tenant_id: str) -> int:
        return self.per_tenant - self._tenants[tenant_id]

    def snapshot(self) -> Room:
        """The room as it is now, to read from another thread (the SQLite writer's)."""
        return Room(
            per_webhook=self.per_webhook,
            per_tenant=self.per_tenant,
            webhooks=dict(self._webhooks),
            tenants=dict(self._tenants),
        )

    def fits(self, tenant_id: str, webhook_id: str) -> bool:
        return (
            self.in_flight < self.total
            and self.webhook_room(webhook_id) > 0
            and self.tenant_room(tenant_id) > 0
        )

    def take(self, tenant_id: str, webhook_id: str) -> None:
        self.in_flight += 1
        self._webhooks[webhook_id] += 1
        self._tenants[tenant_id] += 1

    def release(self, tenant_id: str, webhook_id: str) -> None:
        self.in_flight -= 1
        for counts, key in ((self._webhooks, webhook_id), (self._tenants, tenant_id)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]
        self.freed.set()
        if self._waiting:
            self._wake(webhook_id)

    def _wake(self, webhook_id: str) -> None:
        """Wake the first waiter for this webhook and the first of all (who may have been
        waiting for its tenant's or the total's room): O(1) per release, however many
        wait."""
        first = self._waiting[0]
        same = next((item for item in self._waiting if item[0] == webhook_id), first)
        for _, waiter in {id(item): item for item in (first, same)}.values():
            if not waiter.done():
                waiter.set_result(None)

    async def take_within(self, tenant_id: str, webhook_id: str, seconds: float) -> bool:
        """Take a slot once one is free, waiting up to ``seconds``; False if none came."""
        try:
            async with asyncio.timeout(seconds):
                while not self.fits(tenant_id, webhook_id):
                    item = (webhook_id, asyncio.get_running_loop().create_future())
                    self._waiting.append(item)
                    try:
                        await item[1]
                    finally:
                        self._waiting.remove(item)
        except TimeoutError:
            return False
        self.take(tenant_id, webhook_id)
        return True


class Gate:
    """At most ``per_key`` API requests with one key at a time in this process; the rest
    wait their turn, holding no connection: a storm of requests queues behind itself, not
    in front of everyone's database connections."""

    def __init__(self, per_key: int) -> None:
        self._per_key = per_key
        self._turns: dict[str, asyncio.Semaphore] = {}
        self._holders: Counter[str] = Counter()

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        turns = self._turns.setdefault(key, asyncio.Semaphore(self._per_key))
        self._holders[key] += 1
        try:
            async with turns:
                yield
        finally:
            self._holders[key] -= 1
            if not self._holders[key]:  # memory stays bounded by the keys active now
                del self._holders[key], self._turns[key]
