"""Operational events in storage: the record of outcomes follows each webhook's failing run
and raises hookline.delivery.exhausted and hookline.webhook.recovered in its own
transaction, the same on SQLite and PostgreSQL (its one-statement record included)."""

from __future__ import annotations

import dataclasses

from hookline.clock import now
from hookline.deliveries import Claimed, Disable, FailurePolicy
from hookline.events import WEBHOOK_DISABLED, Event
from hookline.operational import DELIVERY_EXHAUSTED, WEBHOOK_RECOVERED
from hookline.store import Store
from tests.store.conftest import Clock
from tests.store.factories import event, new_delivery, outcome
from tests.store.queueing import LEASE, claim, expansions, hook, publish, tenant

INTERVAL = 600.0
POLICY = FailurePolicy(threshold=1000, exhausted_interval_seconds=INTERVAL)
OPERATIONAL = (DELIVERY_EXHAUSTED, WEBHOOK_RECOVERED)


async def raised(store: Store) -> list[Event]:
    """The events hookline raised since the last call, fanned out (to the webhooks
    subscribed to them)."""
    pending = await store.claim_fanout(limit=100, per_tenant=100, lease_seconds=LEASE)
    await store.expand(pending.lease, await expansions(store, pending.events))
    return pending.events


async def delivered(store: Store, tenant_id: str, number: int = 1) -> list[Claimed]:
    """Publish ``number`` events and claim their deliveries."""
    await publish(store, tenant_id, *(event(tenant_id) for _ in range(number)))
    return await claim(store)


async def fail(store: Store, *claimed: Claimed) -> None:
    await store.record([outcome(item) for item in claimed], POLICY)


async def succeed(store: Store, *claimed: Claimed) -> None:
    await store.record([outcome(item, status="success") for item in claimed], POLICY)


async def test_a_delivery_that_fails_its_last_retry_raises_exhausted(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, owner_id="alice")
    [claimed] = await delivered(store, tenant_id)
    await store.record([outcome(claimed, next_attempt_at=now())], POLICY)
    assert await raised(store) == [], "a failure with retries left raises nothing"

    [retried] = await claim(store)
    await store.record([outcome(retried, number=2)], POLICY)
    [exhausted] = await raised(store)
    assert (exhausted.type, exhausted.tenant_id, exhausted.owner_id) == (
        DELIVERY_EXHAUSTED,
        tenant_id,
        "alice",
    )
    assert exhausted.data == {
        "id": target.id,
        "name": target.name,
        "url": target.url,
        "deliveryId": claimed.delivery_id,
        "eventId": claimed.event_id,
        "eventType": "com.qlik.v1.app.created",
        "attempts": 2,
        "lastStatusCode": 500,
        "statusMessage": "attempt 2 answered 500",
        "exhaustedDeliveries": 1,
        "failingSince": exhausted.data["failingSince"],
    }


async def test_exhausted_events_of_a_webhook_are_one_per_interval_and_count_the_rest(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    failing = await hook(store, tenant_id, 1)
    neighbour = await hook(store, tenant_id, 2)
    claimed = await delivered(store, tenant_id, 4)
    store_clock.stop()  # from now on, time passes by advance only
    mine = [item for item in claimed if item.webhook_id == failing.id]
    theirs = [item for item in claimed if item.webhook_id == neighbour.id]

    await fail(store, mine[0])
    await fail(store, mine[1])
    await fail(store, *theirs[:2])
    first = await raised(store)
    assert [(item.data["id"], item.data["exhaustedDeliveries"]) for item in first] == [
        (failing.id, 1),
        (neighbour.id, 1),
    ]
    store_clock.advance(INTERVAL - 1)
    await fail(store, mine[2])
    assert await raised(store) == []

    store_clock.advance(1)
    await fail(store, mine[3])
    [later] = await raised(store)
    assert (later.data["id"], later.data["deliveryId"]) == (failing.id, mine[3].delivery_id)
    assert later.data["exhaustedDeliveries"] == 3
    assert later.data["failingSince"] == first[0].data["failingSince"]


async def test_a_success_after_a_reported_run_raises_recovered_once(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, owner_id="alice")
    await fail(store, *await delivered(store, tenant_id, 3))
    [exhausted] = await raised(store)
    assert exhausted.data["exhaustedDeliveries"] == 1

    claimed = await delivered(store, tenant_id, 2)
    assert all(item.may_recover for item in claimed)
    await succeed(store, *claimed)
    [recovered] = await raised(store)
    assert (recovered.type, recovered.owner_id) == (WEBHOOK_RECOVERED, "alice")
    assert recovered.data == {
        "id": target.id,
        "name": target.name,
        "url": target.url,
        "failedDeliveries": 3,
        "failingSince": exhausted.data["failingSince"],
    }

    [next_one] = await delivered(store, tenant_id)
    assert not next_one.may_recover
    await succeed(store, next_one)
    assert await raised(store) == []


async def test_a_success_outside_a_run_raises_nothing(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await succeed(store, *await delivered(store, tenant_id, 2))
    assert await raised(store) == []


async def test_a_run_held_back_by_the_interval_ends_without_recovered(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    found = []
    for _ in range(3):  # the endpoint flaps: a failed delivery, then a delivered one
        await fail(store, *await delivered(store, tenant_id))
        found += await raised(store)
        await succeed(store, *await delivered(store, tenant_id))
        found += await raised(store)
        store_clock.advance(60)
    assert [item.type for item in found] == list(OPERATIONAL)


async def test_hooklines_own_events_failing_raise_nothing_more(store: Store) -> None:
    """A webhook subscribed to the operational events whose endpoint is down: their
    deliveries failing raise no further event, and leave its run alone."""
    tenant_id = await tenant(store)
    await hook(store, tenant_id, 1)
    watcher = await hook(store, tenant_id, 2, event_types=OPERATIONAL)
    await fail(store, *await delivered(store, tenant_id))
    [exhausted] = await raised(store)
    [to_watcher] = await claim(store)
    assert to_watcher.webhook_id == watcher.id

    await fail(store, to_watcher)
    assert await raised(store) == []
    assert exhausted.data["id"] != watcher.id


async def test_a_webhook_failing_its_own_events_is_not_recovered_by_hooklines(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    both = await hook(store, tenant_id, event_types=("com.qlik.v1.app.created", *OPERATIONAL))
    await fail(store, *await delivered(store, tenant_id))
    await raised(store)  # its own exhausted event, delivered to itself
    [own] = await claim(store)
    assert (own.webhook_id, own.may_recover) == (both.id, True)

    await succeed(store, own)
    assert await raised(store) == [], "a hookline.* delivery ends no run"
    await succeed(store, *await delivered(store, tenant_id))
    assert [item.type for item in await raised(store)] == [WEBHOOK_RECOVERED]


async def test_recording_an_outcome_again_raises_nothing_again(store: Store) -> None:
    """The record of a batch tried again (its commit was not confirmed), or a worker
    whose lease ran out recording the same attempt: the run counts each delivery once."""
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    [claimed] = await delivered(store, tenant_id)
    await fail(store, claimed)
    await fail(store, claimed)
    [exhausted] = await raised(store)
    assert exhausted.data["exhaustedDeliveries"] == 1

    [success] = await delivered(store, tenant_id)
    await succeed(store, success)
    await succeed(store, success)
    assert [item.data["failedDeliveries"] for item in await raised(store)] == [1]


async def test_one_batch_follows_a_run_in_the_order_of_its_outcomes(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    first, second = await delivered(store, tenant_id, 2)
    await store.record([outcome(first), outcome(second, status="success")], POLICY)
    assert [item.type for item in await raised(store)] == list(OPERATIONAL)


async def test_a_success_claimed_before_the_run_began_leaves_it_to_the_next(
    store: Store,
) -> None:
    """Which successes may end a run is known from the claim (no statement more for
    the others): one claimed while the webhook was not failing does not end it."""
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    early, failed = await delivered(store, tenant_id, 2)
    await fail(store, failed)
    await raised(store)
    await succeed(store, early)
    assert await raised(store) == []

    await succeed(store, *await delivered(store, tenant_id))
    [recovered] = await raised(store)
    assert recovered.data["failedDeliveries"] == 1


async def test_a_resend_that_succeeds_ends_the_run(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    published = event(tenant_id)
    await publish(store, tenant_id, published)
    [claimed] = await claim(store)
    await fail(store, claimed)
    await raised(store)

    at = now()
    new = new_delivery(published, target, triggered_at=at, next_attempt_at=at)
    await store.add_delivery(new, owner="resend-1", lease_seconds=LEASE)
    # As hookline.history makes a resend: its success checks the run.
    resent = dataclasses.replace(claimed, delivery_id=new.id, attempt_count=0, may_recover=True)
    await succeed(store, resent)
    assert [item.type for item in await raised(store)] == [WEBHOOK_RECOVERED]


async def test_a_deleted_webhooks_run_is_gone_with_it(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    [claimed] = await delivered(store, tenant_id)
    assert await store.delete_webhook(tenant_id, target.id)
    await fail(store, claimed)
    assert await raised(store) == []


async def test_the_interval_is_the_policys(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    claimed = await delivered(store, tenant_id, 3)
    every = dataclasses.replace(POLICY, exhausted_interval_seconds=0)
    await store.record([outcome(item) for item in claimed], every)
    found = await raised(store)
    assert [item.data["exhaustedDeliveries"] for item in found] == [1, 1, 1]


async def test_a_delivery_ended_by_a_gone_endpoint_is_exhausted_too(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    [claimed] = await delivered(store, tenant_id)
    gone = Disable(target.id, "endpoint-gone", "the endpoint answered 410 Gone")
    await store.record([outcome(claimed, disable=gone)], POLICY)
    found = await raised(store)
    assert [item.type for item in found] == [DELIVERY_EXHAUSTED, WEBHOOK_DISABLED]
