"""Rate limits and ordered delivery in the queue (hookline.pacing), on both databases: what
a claim may take of a paced webhook, alone and beside another process's claims."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hookline.deliveries import Claimed, NewDelivery
from hookline.store import Store
from hookline.webhooks import Webhook
from tests.store.conftest import Clock
from tests.store.factories import event, new_delivery, outcome
from tests.store.queueing import (
    POLICY,
    another_store,
    claim,
    event_ids,
    expansions,
    history,
    hook,
    publish,
    tenant,
)


async def _succeed(store: Store, *claimed: Claimed) -> None:
    await store.record([outcome(item, status="success") for item in claimed], POLICY)


async def _ordered(store: Store, events: int) -> tuple[str, Webhook]:
    tenant_id = await tenant(store)
    made = await hook(store, tenant_id, ordering="fifo")
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(1, events + 1)))
    return tenant_id, made


# Rate limits ---------------------------------------------------------------------------


async def test_a_claim_takes_no_more_than_the_rate_limit_within_a_window(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    limited = await hook(store, tenant_id, 1, rate_limit=3)
    free = await hook(store, tenant_id, 2)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(10)))
    store_clock.stop()

    first = await claim(store)
    assert sum(item.webhook_id == limited.id for item in first) == 3
    assert sum(item.webhook_id == free.id for item in first) == 10
    # Each must start within a tenth of a second of the claim, or go back unsent.
    assert {item.send_by for item in first if item.webhook_id == limited.id} == {
        store_clock.now() + timedelta(seconds=0.1)
    }
    assert {item.send_by for item in first if item.webhook_id == free.id} == {None}
    await _succeed(store, *first)
    store_clock.advance(1.1)  # within the window of 1.2 s
    assert await claim(store) == []
    store_clock.advance(0.2)
    assert len(await claim(store)) == 3


async def test_the_rate_limit_holds_across_processes(
    store: Store, database_url: str, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, rate_limit=4)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(10)))
    store_clock.stop()

    async with another_store(database_url) as other:
        assert len(await claim(store, limit=3, owner="one")) == 3
        assert len(await claim(other, owner="two")) == 1
        assert await claim(store, owner="one") == []


async def test_a_resend_counts_against_the_rate_limit_and_waits_in_the_queue_past_it(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    limited = await hook(store, tenant_id, rate_limit=2)
    [sent] = await publish(store, tenant_id, event(tenant_id, "e1"))
    store_clock.stop()
    assert len(await claim(store)) == 1

    def resend() -> NewDelivery:
        return new_delivery(
            sent, limited, triggered_at=store_clock.now(), next_attempt_at=store_clock.now()
        )

    assert await store.add_delivery(resend(), owner="api", lease_seconds=60) is True
    queued = resend()
    assert await store.add_delivery(queued, owner="api", lease_seconds=60) is False
    assert await claim(store) == []
    store_clock.advance(1.3)
    [later] = await claim(store)
    assert later.delivery_id == queued.id


# Ordered delivery ----------------------------------------------------------------------


async def test_an_ordered_webhook_has_one_attempt_at_a_time_in_publish_order(
    store: Store,
) -> None:
    _, _ = await _ordered(store, 4)
    sent: list[str] = []
    while claimed := await claim(store):
        assert len(claimed) == 1
        assert await claim(store) == []  # the next waits until this one has ended
        sent += event_ids(claimed)
        await _succeed(store, *claimed)
    assert sent == ["e1", "e2", "e3", "e4"]


async def test_events_of_one_publish_go_in_the_order_of_its_list(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, ordering="fifo")
    names = ["m", "c", "x", "a", "q"]
    await publish(store, tenant_id, *(event(tenant_id, name) for name in names))
    sent: list[str] = []
    while claimed := await claim(store):
        sent += event_ids(claimed)
        await _succeed(store, *claimed)
    assert sent == names


async def test_a_retry_holds_the_deliveries_behind_it_until_it_ends(
    store: Store, store_clock: Clock
) -> None:
    await _ordered(store, 3)
    store_clock.stop()
    [first] = await claim(store)
    retry_at = store_clock.now() + timedelta(minutes=5)
    await store.record([outcome(first, next_attempt_at=retry_at)], POLICY)

    store_clock.advance(60)
    assert await claim(store) == []  # e2 and e3 are due, but e1 goes first
    store_clock.advance(5 * 60)
    [again] = await claim(store)
    assert again.delivery_id == first.delivery_id
    await store.record([outcome(again, number=2)], POLICY)  # no retry left: it ended
    [second] = await claim(store)
    assert second.event_id == "e2"


async def test_an_ordered_webhook_has_one_attempt_in_flight_across_processes(
    store: Store, database_url: str
) -> None:
    await _ordered(store, 3)
    async with another_store(database_url) as other:
        [first] = await claim(store, owner="one")
        assert await claim(other, owner="two") == []
        await _succeed(store, first)
        [second] = await claim(other, owner="two")
    assert (first.event_id, second.event_id) == ("e1", "e2")


async def test_an_earlier_event_still_to_fan_out_goes_first(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, ordering="fifo")
    await store.publish(tenant_id, [event(tenant_id, "early")])
    await store.publish(tenant_id, [event(tenant_id, "late")])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=60)
    early, late = sorted(pending.events, key=lambda item: item.id)
    await store.expand(pending.lease, await expansions(store, [late]))

    assert await claim(store) == []  # "early" may still make a delivery that goes first
    await store.expand(pending.lease, await expansions(store, [early]))
    sent: list[str] = []
    while claimed := await claim(store):
        sent += event_ids(claimed)
        await _succeed(store, *claimed)
    assert sent == ["early", "late"]


async def test_a_resend_to_an_ordered_webhook_goes_last_in_its_queue(
    store: Store, store_clock: Clock
) -> None:
    tenant_id, ordered = await _ordered(store, 2)
    [first] = await claim(store)
    await _succeed(store, first)
    [sent] = [item for item in await history(store, tenant_id, ordered.id) if item.event_id == "e1"]
    resent = new_delivery(
        event(tenant_id, "e1"),
        ordered,
        triggered_at=store_clock.now(),
        next_attempt_at=store_clock.now(),
    )
    assert await store.add_delivery(resent, owner="api", lease_seconds=60) is False
    order: list[str] = []
    while claimed := await claim(store):
        order += [item.delivery_id for item in claimed]
        await _succeed(store, *claimed)
    assert order[-1] == resent.id
    assert len(order) == 2
    assert sent.status == "success"


async def test_changing_the_ordering_applies_to_the_deliveries_already_queued(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    made = await hook(store, tenant_id)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(4)))

    assert await store.update_webhook(dataclasses.replace(made, ordering="fifo"))
    [first] = await claim(store)
    assert await claim(store) == []
    await _succeed(store, first)

    assert await store.update_webhook(dataclasses.replace(made, ordering="none"))
    assert len(await claim(store)) == 3
