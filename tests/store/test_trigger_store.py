"""What made each delivery (its trigger), and test sends in storage: the example event kept
with its delivery and never fanned out, claims that carry the trigger, and the failure
policy that never counts a test. The same on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hookline import envelopes
from hookline.clock import now
from hookline.deliveries import Claimed, FailurePolicy, NewDelivery, Trigger
from hookline.events import Event
from hookline.store import Store
from hookline.webhooks import Webhook
from tests.store.conftest import Clock
from tests.store.factories import event, new_delivery, outcome
from tests.store.queueing import LEASE, POLICY, claim, history, hook, only, publish, tenant

FAILING_TWICE = FailurePolicy(threshold=2, window_seconds=3600)


def _added(made: Event, target: Webhook, trigger: Trigger) -> NewDelivery:
    at = now()
    sent = new_delivery(made, target, triggered_at=at, next_attempt_at=at)
    return dataclasses.replace(sent, trigger=trigger)


async def _test_send(store: Store, target: Webhook, number: int) -> Claimed:
    """A test send whose process died before its attempt: stored with its example event and
    leased for no time, so the next claim takes it."""
    example = event(target.tenant_id, f"example-{number}", source="hookline/test")
    await store.add_delivery(
        _added(example, target, "test"), owner="api-1", lease_seconds=0, example=example
    )
    [claimed] = await claim(store)
    return claimed


async def _enabled(store: Store, target: Webhook) -> bool:
    got = await store.get_webhook(target.tenant_id, target.id)
    assert got is not None
    return got.enabled


async def test_fanned_out_deliveries_are_made_by_an_event_and_resends_say_so(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    published = event(tenant_id, "e1")
    await publish(store, tenant_id, published)
    first = await only(store, tenant_id, target.id)
    resent = _added(published, target, "resend")

    await store.add_delivery(resent, owner="api-1", lease_seconds=LEASE)

    got = await store.get_delivery(tenant_id, target.id, resent.id)
    assert got is not None
    assert (first.trigger, got.trigger) == ("event", "resend")
    assert {item.id: item.trigger for item in await history(store, tenant_id, target.id)} == {
        first.id: "event",
        resent.id: "resend",
    }


async def test_a_test_sends_example_event_is_stored_with_it_and_never_fanned_out(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, enable_cloud_event_delivery=True)
    example = event(tenant_id, "example-1", data={"id": "app-1"}, source="hookline/test")
    sent = dataclasses.replace(_added(example, target, "test"), cloud_events=True)

    await store.add_delivery(sent, owner="api-1", lease_seconds=LEASE, example=example)

    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    assert pending.events == []
    got = await store.get_delivery(tenant_id, target.id, sent.id)
    assert got is not None
    assert (got.trigger, got.event_id, got.status) == ("test", "example-1", "pending")
    assert got.body == envelopes.render(example, cloud_events=True).decode()
    assert await claim(store) == []  # leased to the sending process


async def test_a_claimed_test_delivery_says_it_is_a_test_and_others_do_not(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"), due=timedelta(seconds=30))

    tested = await _test_send(store, target, 1)
    store_clock.advance(31)
    [ordinary] = await claim(store)

    assert (tested.test, tested.event_id) == (True, "example-1")
    assert (ordinary.test, ordinary.event_id) == (False, "e1")


async def test_failed_tests_never_disable_a_webhook_nor_count_toward_it(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    for number in range(3):
        claimed = await _test_send(store, target, number)
        failed = dataclasses.replace(outcome(claimed), test=True)
        await store.record([failed], FAILING_TWICE)
    assert await _enabled(store, target)

    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    first, second = await claim(store)
    await store.record([outcome(first)], FAILING_TWICE)
    assert await _enabled(store, target)  # one counted failure of the two needed
    await store.record([outcome(second)], FAILING_TWICE)
    assert not await _enabled(store, target)


async def test_a_failed_test_on_a_webhook_enabled_again_leaves_it_enabled(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    await store.record([outcome(item) for item in await claim(store)], FAILING_TWICE)
    assert not await _enabled(store, target)
    enabled_again = await store.get_webhook(tenant_id, target.id)
    assert enabled_again is not None
    await store.update_webhook(
        dataclasses.replace(
            enabled_again, enabled=True, disabled_reason=None, disabled_reason_code=None
        )
    )

    claimed = await _test_send(store, target, 1)
    await store.record([dataclasses.replace(outcome(claimed), test=True)], FAILING_TWICE)

    assert await _enabled(store, target)
    tested = await store.get_delivery(tenant_id, target.id, claimed.delivery_id)
    assert tested is not None
    assert (tested.status, tested.next_attempt_at, tested.attempt_count) == ("fail", None, 1)


async def test_a_successful_test_is_recorded_like_any_delivery(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)

    claimed = await _test_send(store, target, 1)
    await store.record([outcome(claimed, status="success")], POLICY)

    [tested] = await history(store, tenant_id, target.id, status="success")
    assert (tested.id, tested.trigger, tested.attempt_count) == (claimed.delivery_id, "test", 1)
