"""Claims in storage: fair between tenants, within the room a process has, and every due
delivery found again (a lease run out, a retry come due, a release), through
``due_webhooks``. Both databases."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from hookline.deliveries import Claimed
from hookline.shares import Room
from hookline.store import Store
from hookline.store.base import Expansion
from tests.store.conftest import Clock
from tests.store.factories import event, new_delivery, outcome
from tests.store.queueing import (
    POLICY,
    ROOMY,
    another_store,
    claim,
    history,
    hook,
    publish,
    tenant,
)

postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _per(claimed: list[Claimed], key: str) -> Counter[str]:
    return Counter(getattr(item, key) for item in claimed)


async def test_a_tenant_with_one_due_delivery_gets_a_turn_beside_one_with_thousands(
    store: Store,
) -> None:
    big = await tenant(store, "big")
    small = await tenant(store, "small")
    for number in range(100):
        await hook(store, big, number)
    await publish(store, big, *(event(big, f"a{n}") for n in range(50)))  # 5,000 deliveries
    await hook(store, small)
    await publish(store, small, event(small, "b1"))  # due last of all

    claimed = await claim(store, limit=20)
    assert len(claimed) == 20
    assert _per(claimed, "tenant_id")[small] == 1


async def test_a_webhook_with_fewer_due_than_its_share_leaves_the_rest_to_others(
    store: Store,
) -> None:
    small = await tenant(store, "small")
    big = await tenant(store, "big")
    await hook(store, small)
    busy = await hook(store, big)
    await publish(store, small, event(small, "s1"))
    await publish(store, big, *(event(big, f"b{n}") for n in range(12)))

    claimed = await claim(store, limit=10)
    assert _per(claimed, "tenant_id") == {small: 1, big: 9}
    assert [item.webhook_id for item in await claim(store, limit=10)] == [busy.id] * 3


async def test_a_claim_spreads_over_the_webhooks_of_a_tenant(store: Store) -> None:
    tenant_id = await tenant(store)
    hooks = [await hook(store, tenant_id, number) for number in range(4)]
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(10)))

    claimed = await claim(store, limit=8)
    assert _per(claimed, "webhook_id") == {target.id: 2 for target in hooks}


async def test_a_claim_never_exceeds_the_room_per_webhook_and_per_tenant(store: Store) -> None:
    first = await tenant(store, "first")
    second = await tenant(store, "second")
    firsts = [await hook(store, first, number) for number in range(3)]
    seconds = [await hook(store, second, number) for number in range(3)]
    await publish(store, first, *(event(first, f"e{n}") for n in range(10)))
    await publish(store, second, *(event(second, f"e{n}") for n in range(10)))
    busy, calm = firsts[0], seconds[0]
    room = Room(
        per_webhook=4,
        per_tenant=6,
        webhooks={busy.id: 3, calm.id: 1},
        tenants={first: 3, second: 1},
    )

    claimed = await claim(store, limit=100, room=room)
    per_webhook = _per(claimed, "webhook_id")
    per_tenant = _per(claimed, "tenant_id")
    assert per_tenant == {first: 3, second: 5}  # each up to its tenant's room
    for target in firsts + seconds:
        assert per_webhook[target.id] + room.webhooks.get(target.id, 0) <= 4
    assert per_webhook[busy.id] <= 1
    assert per_webhook[calm.id] <= 3


async def test_full_webhooks_and_tenants_are_skipped_and_the_rest_served(store: Store) -> None:
    first = await tenant(store, "first")
    second = await tenant(store, "second")
    full_hook, open_hook = await hook(store, first, 1), await hook(store, first, 2)
    others = await hook(store, second, 3)
    for tenant_id in (first, second):
        await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(2)))
    room = Room(per_webhook=2, per_tenant=5, webhooks={full_hook.id: 2}, tenants={second: 5})

    claimed = await claim(store, limit=100, room=room)
    assert _per(claimed, "webhook_id") == {open_hook.id: 2}
    assert await claim(store, limit=100, room=room) == []
    rest = await claim(store, limit=100)
    assert _per(rest, "webhook_id") == {full_hook.id: 2, others.id: 2}


async def test_deliveries_whose_lease_ran_out_are_claimable_again(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, 1)
    await hook(store, tenant_id, 2)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(3)))

    crashed = await claim(store, lease_seconds=30, owner="crashed")
    assert len(crashed) == 6
    assert await claim(store, owner="survivor") == []
    store_clock.advance(31)
    again = await claim(store, owner="survivor")
    assert sorted(item.delivery_id for item in again) == sorted(
        item.delivery_id for item in crashed
    )
    assert await claim(store, owner="another") == []


async def test_a_retry_is_claimed_once_it_is_due(store: Store, store_clock: Clock) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    [first] = await claim(store, lease_seconds=30)
    await store.record(
        [outcome(first, next_attempt_at=store_clock.now() + timedelta(minutes=5))], POLICY
    )

    store_clock.advance(60)  # past the lease, not the retry
    assert await claim(store) == []
    store_clock.advance(5 * 60)
    [again] = await claim(store)
    assert (again.delivery_id, again.attempt_count) == (first.delivery_id, 1)


async def test_a_later_delivery_of_a_webhook_is_claimed_when_it_comes_due(
    store: Store, store_clock: Clock
) -> None:
    """A webhook whose earliest due delivery is in the future waits, then is found."""
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await store.publish(tenant_id, [event(tenant_id, "soon"), event(tenant_id, "later")])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=60)
    at = store_clock.now()
    minutes = {"soon": 0, "later": 10}
    await store.expand(
        pending.lease,
        [
            Expansion(
                item,
                [
                    new_delivery(
                        item,
                        target,
                        triggered_at=at,
                        next_attempt_at=at + timedelta(minutes=minutes[item.id]),
                    )
                ],
            )
            for item in pending.events
        ],
    )
    [soon] = await claim(store, lease_seconds=3600)
    assert soon.event_id == "soon"
    assert await claim(store) == []
    store_clock.advance(10 * 60)
    assert [item.event_id for item in await claim(store)] == ["later"]


async def test_release_makes_leased_deliveries_due_at_once_for_another_owner(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    first, second = await claim(store, owner="stopping")

    await store.release([first.delivery_id, second.delivery_id], "someone-else")
    assert await claim(store, owner="other") == []  # only the owner's leases are released
    await store.release([first.delivery_id], "stopping")
    assert [item.delivery_id for item in await claim(store, owner="other")] == [first.delivery_id]
    assert await claim(store, owner="other") == []


async def test_once_every_delivery_has_ended_nothing_is_due(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, 1)
    await hook(store, tenant_id, 2)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(3)))
    for _ in range(3):
        claimed = await claim(store, limit=2, lease_seconds=30)
        assert len(claimed) == 2
        await store.record([outcome(item, status="success") for item in claimed], POLICY)
    assert await claim(store) == []
    assert (await store.queue_stats()).pending == 0
    # due_webhooks is a lower bound: an entry left at the end of the last lease goes
    # with the first claim after it
    store_clock.advance(31)
    assert await claim(store) == []
    stats = await store.queue_stats()
    assert (stats.pending, stats.oldest_due_at) == (0, None)


async def test_claims_of_a_room_roomy_enough_take_up_to_the_limit(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(5)))
    assert len(await claim(store, limit=3, room=ROOMY)) == 3
    assert len(await claim(store, limit=3, room=ROOMY)) == 2


async def test_a_webhooks_bound_counts_the_leases_other_processes_hold(
    store: Store, store_clock: Clock
) -> None:
    """Per-webhook concurrency holds across processes: a claim takes only what the
    webhook's bound leaves beyond this process's attempts in flight (its room) and the
    leases other processes hold now (not those run out)."""
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    other = await hook(store, tenant_id, 1)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(10)))
    bound = Room(per_webhook=4, per_tenant=100, webhooks={}, tenants={})

    first = await claim(store, owner="worker-a", room=bound, lease_seconds=30)
    assert _per(first, "webhook_id") == {target.id: 4, other.id: 4}
    assert await claim(store, owner="worker-b", room=bound) == []

    done = [item for item in first if item.webhook_id == target.id][:3]
    await store.record([outcome(item, status="success") for item in done], POLICY)
    second = await claim(store, owner="worker-b", room=bound, lease_seconds=120)
    assert _per(second, "webhook_id") == {target.id: 3}

    store_clock.advance(31)  # worker-a's leases ran out: they count no more
    in_flight = Room(per_webhook=4, per_tenant=100, webhooks={target.id: 3}, tenants={})
    third = await claim(store, owner="worker-b", room=in_flight, lease_seconds=120)
    assert _per(third, "webhook_id") == {target.id: 1, other.id: 4}


@pytest.mark.parametrize(
    "pacing",
    [{}, {"rate_limit": 1000}],
    ids=["plain", "rate-limited"],  # (on PostgreSQL: the one-statement claim, the other)
)
async def test_a_tenants_bound_counts_the_leases_other_processes_hold(
    store: Store, store_clock: Clock, pacing: dict[str, Any]
) -> None:
    """Per-tenant concurrency holds across processes: a claim takes only what the tenant's
    bound leaves beyond this process's attempts in flight of the tenant (its room) and the
    leases other processes hold on the tenant's deliveries now, on any of its webhooks
    (not those run out)."""
    busy = await tenant(store, "busy")
    calm = await tenant(store, "calm")
    for number in range(3):
        await hook(store, busy, number, **pacing)
    await hook(store, calm, 9, **pacing)
    await publish(store, busy, *(event(busy, f"b{n}") for n in range(4)))  # 12 deliveries
    await publish(store, calm, *(event(calm, f"c{n}") for n in range(3)))
    bound = Room(per_webhook=100, per_tenant=5, webhooks={}, tenants={})

    # Two other processes, their names on either side of this one's ("worker-b").
    first = await claim(store, owner="worker-a", room=dataclasses.replace(bound, per_tenant=3))
    assert _per(first, "tenant_id") == {busy: 3, calm: 3}
    second = await claim(store, owner="worker-c", room=bound, lease_seconds=30)
    assert _per(second, "tenant_id") == {busy: 2}
    assert await claim(store, owner="worker-b", room=bound) == []

    done = [item for item in first if item.tenant_id == busy][:2]
    await store.record([outcome(item, status="success") for item in done], POLICY)
    third = await claim(store, owner="worker-b", room=bound, lease_seconds=120)
    assert _per(third, "tenant_id") == {busy: 2}

    store_clock.advance(31)  # worker-c's leases ran out: they count no more
    in_flight = dataclasses.replace(bound, tenants={busy: 2})
    fourth = await claim(store, owner="worker-b", room=in_flight, lease_seconds=120)
    assert _per(fourth, "tenant_id") == {busy: 2}  # 5, less worker-a's one and its own two


@postgres_only
async def test_a_claim_leaves_a_tenant_another_claim_is_taking_from(
    store: Store, database_url: str
) -> None:
    """Two claims never share a tenant's room, each blind to the leases the other takes
    (they are committed at its end): while one holds the tenant, the other takes from the
    rest. Both claims of PostgreSQL's store, the one-statement one and the general one (a
    rate-limited webhook's)."""
    held = await tenant(store, "held")
    other = await tenant(store, "other")
    for tenant_id in (held, other):
        await hook(store, tenant_id, 1)
        await hook(store, tenant_id, 2, rate_limit=1000)
        await publish(store, tenant_id, event(tenant_id, "e1"))

    claiming = await asyncpg.connect(database_url)
    try:
        async with claiming.transaction():
            await claiming.execute("SELECT FROM tenants WHERE id = $1 FOR NO KEY UPDATE", held)
            assert _per(await claim(store), "tenant_id") == {other: 2}
    finally:
        await claiming.close()
    assert _per(await claim(store), "tenant_id") == {held: 2}


@postgres_only
async def test_claims_of_two_processes_at_the_same_moment_never_share_a_tenants_room(
    store: Store, database_url: str
) -> None:
    """Two processes claim at once, again and again, the second a moment after the first
    (up to a millisecond): together they never lease more than the tenant's bound,
    though neither sees the leases the other commits at its end (the claim's locks, see
    hookline.store.postgres_delivery)."""
    tenant_id = await tenant(store)
    for number in range(4):
        await hook(store, tenant_id, number)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(10)))
    bound = Room(per_webhook=16, per_tenant=3, webhooks={}, tenants={})
    moments = random.Random(7)
    async with another_store(database_url) as other:
        for _ in range(300):
            first, second = await asyncio.gather(
                claim(store, owner="worker-a", room=bound),
                _after(moments.random() / 1000, claim(other, owner="worker-b", room=bound)),
            )
            assert len(first) + len(second) <= 3
            await store.release([item.delivery_id for item in first], "worker-a")
            await store.release([item.delivery_id for item in second], "worker-b")


async def _after(seconds: float, claiming: Awaitable[list[Claimed]]) -> list[Claimed]:
    await asyncio.sleep(seconds)
    return await claiming


async def test_a_renewal_extends_only_the_leases_its_owner_still_holds(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    first, second = await claim(store, owner="worker-a", lease_seconds=30)
    await store.record([outcome(first, status="success")], POLICY)

    store_clock.advance(20)
    await store.renew([first.delivery_id, second.delivery_id], "worker-b", 30)  # not its own
    store_clock.advance(11)  # past the first lease: due again
    assert [item.delivery_id for item in await claim(store, owner="worker-b")] == [
        second.delivery_id
    ]
    await store.renew([first.delivery_id, second.delivery_id], "worker-b", 300)
    store_clock.advance(60)
    assert await claim(store, owner="worker-c") == []
    recorded = {d.id: d for d in await history(store, tenant_id, target.id)}
    assert recorded[first.delivery_id].status == "success"
    assert recorded[first.delivery_id].next_attempt_at is None
