"""Fan-out in storage: fair between tenants, exactly once per event whatever crashes, and
events kept as long as their deliveries may need them. Both databases."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta

from hookline.clock import now
from hookline.store import Store
from hookline.store.base import Expansion
from hookline.store.queue import EVENT_MARGIN
from tests.store.conftest import Clock
from tests.store.factories import event
from tests.store.queueing import (
    LEASE,
    claim,
    end_of_day,
    expand_waiting,
    expansions,
    history,
    hook,
    publish,
    tenant,
)


async def test_a_fan_out_claim_takes_a_few_events_of_each_tenant(store: Store) -> None:
    big = await tenant(store, "big")
    small = await tenant(store, "small")
    await store.publish(big, [event(big, f"a{n:04d}") for n in range(1000)])
    await store.publish(small, [event(small, "b1")])

    pending = await store.claim_fanout(limit=10, per_tenant=5, lease_seconds=LEASE)
    assert Counter(item.tenant_id for item in pending.events) == {big: 5, small: 1}


async def test_the_limit_of_a_fan_out_claim_holds_across_tenants(store: Store) -> None:
    tenants = [await tenant(store, f"t{n}") for n in range(4)]
    for tenant_id in tenants:
        await store.publish(tenant_id, [event(tenant_id, f"e{n}") for n in range(3)])

    pending = await store.claim_fanout(limit=6, per_tenant=2, lease_seconds=LEASE)
    counts = Counter(item.tenant_id for item in pending.events)
    # a turn for every tenant before anyone's second
    assert (len(pending.events), set(counts), max(counts.values())) == (6, set(tenants), 2)


async def test_a_fan_out_claim_skips_the_tenants_it_is_told_to(store: Store) -> None:
    busy = await tenant(store, "busy")
    other = await tenant(store, "other")
    await store.publish(busy, [event(busy, "a1")])
    await store.publish(other, [event(other, "b1")])

    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE, skip=[busy])
    assert [(item.tenant_id, item.id) for item in pending.events] == [(other, "b1")]


async def test_leased_events_are_not_claimed_twice(store: Store) -> None:
    tenant_id = await tenant(store)
    await store.publish(tenant_id, [event(tenant_id, f"e{n}") for n in range(3)])
    first = await store.claim_fanout(limit=2, per_tenant=2, lease_seconds=LEASE)
    second = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    assert [item.id for item in first.events] == ["e0", "e1"]
    assert [item.id for item in second.events] == ["e2"]
    assert (await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)).events == []


async def test_a_crashed_expanders_events_are_claimable_once_their_lease_runs_out(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    await store.publish(tenant_id, [event(tenant_id, "e1"), event(tenant_id, "e2")])
    crashed = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=30)
    assert [item.id for item in crashed.events] == ["e1", "e2"]

    assert (await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=30)).events == []
    store_clock.advance(31)
    again = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=30)
    assert again.events == crashed.events
    assert again.lease > crashed.lease


async def test_an_expansion_under_a_lease_that_ran_out_and_was_retaken_makes_nothing(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    owned = await hook(store, tenant_id, 2, level="user", owner_id="alice", event_types=("x",))
    await store.publish(tenant_id, [event(tenant_id, "e1")])
    slow = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=30)
    late = await expansions(store, slow.events)
    late = [dataclasses.replace(item, deleted_owner="alice") for item in late]
    store_clock.advance(31)
    retaken = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=30)
    assert retaken.events == slow.events

    assert await store.expand(slow.lease, late) == 0
    assert await history(store, tenant_id, target.id) == []
    assert (await store.get_webhook(tenant_id, owned.id)) == owned  # not disabled either

    assert await store.expand(retaken.lease, await expansions(store, retaken.events)) == 1
    assert len(await history(store, tenant_id, target.id)) == 1


async def test_expanding_twice_under_one_lease_makes_the_deliveries_once(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await store.publish(tenant_id, [event(tenant_id, "e1"), event(tenant_id, "e2")])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    made = await expansions(store, pending.events)

    assert await store.expand(pending.lease, made) == 2
    again = await expansions(store, pending.events)  # the same events, fresh delivery ids
    assert await store.expand(pending.lease, again) == 0
    assert await store.expand(pending.lease, made[:1]) == 0
    assert sorted(item.id for item in await history(store, tenant_id, target.id)) == sorted(
        new.id for item in made for new in item.deliveries
    )
    assert (await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)).events == []
    assert len(await claim(store)) == 2


async def test_an_expansion_stores_only_the_events_it_names(store: Store) -> None:
    """The expander stores a big fan-out in groups: each group marks its own events done,
    the rest stay leased until their group comes."""
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await store.publish(tenant_id, [event(tenant_id, f"e{n}") for n in range(3)])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    made = await expansions(store, pending.events)

    assert await store.expand(pending.lease, made[:2]) == 2
    assert await store.expand(pending.lease, made[2:]) == 1
    assert len(await history(store, tenant_id, target.id)) == 3


async def test_an_event_reaching_no_webhook_is_done_all_the_same(store: Store) -> None:
    tenant_id = await tenant(store)
    await store.publish(tenant_id, [event(tenant_id, "e1")])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=1)
    assert await store.expand(pending.lease, [Expansion(pending.events[0])]) == 0
    assert (await store.queue_stats()).fanout_pending == 0


async def test_a_webhook_deleted_during_fan_out_gets_no_delivery_and_the_rest_do(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    gone = await hook(store, tenant_id, 1)
    kept = await hook(store, tenant_id, 2)
    await store.publish(tenant_id, [event(tenant_id, "e1")])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    made = await expansions(store, pending.events)  # matched while both existed
    assert await store.delete_webhook(tenant_id, gone.id)

    assert await store.expand(pending.lease, made) == 1
    assert [item.webhook_id for item in await claim(store)] == [kept.id]
    assert (await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)).events == []


async def test_queue_stats_count_the_events_waiting_for_fan_out(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await store.publish(tenant_id, [event(tenant_id, f"e{n}") for n in range(3)])
    assert (await store.queue_stats()).fanout_pending == 3
    await expand_waiting(store)
    stats = await store.queue_stats()
    assert (stats.fanout_pending, stats.pending) == (0, 3)


# Purging -------------------------------------------------------------------------------


async def test_purge_keeps_events_a_margin_longer_than_their_deliveries(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    again = [event(tenant_id, "e1")]
    received = now()
    await publish(store, tenant_id, *again)
    [made] = await history(store, tenant_id, target.id)
    after = end_of_day(received)

    await store.purge(after, 10)
    assert await store.get_delivery(tenant_id, target.id, made.id) is None
    await store.purge(received + EVENT_MARGIN, 10)
    assert await store.publish(tenant_id, again) == []  # still known
    await store.purge(after + EVENT_MARGIN, 10)
    assert await store.publish(tenant_id, again) == again


async def test_purge_never_removes_an_event_waiting_for_fan_out(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    published = [event(tenant_id, "waiting"), event(tenant_id, "leased")]
    await store.publish(tenant_id, published)
    leased = await store.claim_fanout(limit=1, per_tenant=1, lease_seconds=LEASE)
    assert [item.id for item in leased.events] == ["waiting"]
    far = now() + EVENT_MARGIN + timedelta(days=30)

    await store.purge(far, 10)
    assert await store.expand(leased.lease, await expansions(store, leased.events)) == 1
    assert await expand_waiting(store) == 1
    assert {item.event_id for item in await history(store, tenant_id, target.id)} == {
        "waiting",
        "leased",
    }
    await store.purge(far, 10)
    assert await history(store, tenant_id, target.id) == []
    assert await store.publish(tenant_id, published) == published
