"""The delivery queue in storage (publish, fan-out, claim, record, history, purge,
wake-ups), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from typing import Any, Literal

import asyncpg
import pytest

from hookline import envelopes
from hookline.clock import now
from hookline.deliveries import Claimed, Delivery, Disable, FailurePolicy, Result
from hookline.events import WEBHOOK_DISABLED
from hookline.paging import Sort
from hookline.shares import Room
from hookline.store import Store
from hookline.store.base import DeliveryQuery, Expansion
from hookline.store.queue import EVENT_MARGIN
from hookline.webhooks import Webhook
from tests.store.conftest import Clock
from tests.store.factories import APP_CREATED, event, new_delivery, outcome
from tests.store.queueing import (
    LEASE,
    POLICY,
    another_store,
    claim,
    end_of_day,
    event_ids,
    expand_waiting,
    expansions,
    history,
    hook,
    only,
    publish,
    tenant,
)

APP_DELETED = "com.qlik.v1.app.deleted"
USER_DELETED = "com.qlik.v1.user.deleted"
postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


# Publishing ----------------------------------------------------------------------------


async def test_an_event_id_is_stored_and_delivered_once_per_tenant(store: Store) -> None:
    tenant_id = await tenant(store)
    other_id = await tenant(store, "other")
    mine = await hook(store, tenant_id)
    theirs = await hook(store, other_id)
    first, second = event(tenant_id, "e1"), event(tenant_id, "e2")

    assert await publish(store, tenant_id, first, event(tenant_id, "e1"), second) == [
        first,
        second,
    ]
    assert await publish(store, tenant_id, event(tenant_id, "e1")) == []
    assert await publish(store, tenant_id, event(tenant_id, "e2"), event(tenant_id, "e1")) == []
    delivered = await history(store, tenant_id, mine.id)
    assert sorted(item.event_id for item in delivered) == ["e1", "e2"]

    elsewhere = event(other_id, "e1")
    assert await publish(store, other_id, elsewhere) == [elsewhere]
    assert [item.event_id for item in await history(store, other_id, theirs.id)] == ["e1"]
    assert len(await history(store, tenant_id, mine.id)) == 2


async def test_a_repeated_id_in_one_batch_keeps_the_first_event(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, event_types=(APP_CREATED, APP_DELETED))
    first = event(tenant_id, "e1", type=APP_CREATED, data={"n": 1})
    assert await store.publish(tenant_id, [first, event(tenant_id, "e1", type=APP_DELETED)]) == [
        first
    ]
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    assert pending.events == [first]


async def test_published_events_wait_for_fan_out_as_they_were_published(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    published = event(
        tenant_id,
        "e1",
        time=now(),
        data={"id": "app-1", "nested": {"b": [1, 2], "a": None}},
        user_id="u1",
        owner_id="o1",
        space_id="s1",
        top_level_resource_id="r1",
        extensions={"myExtension": {"x": 1}},
    )
    assert await store.publish(tenant_id, [published]) == [published]
    assert await history(store, tenant_id, target.id) == []  # no deliveries before fan-out

    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    assert pending.events == [published]
    assert pending.lease > now()


async def test_republishing_a_seen_id_leaves_nothing_to_fan_out(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    assert await store.publish(tenant_id, [event(tenant_id, "e1")]) == []
    assert (await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)).events == []


async def test_subscribed_gives_the_enabled_webhooks_of_the_tenant_subscribed_to_the_types(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    other_id = await tenant(store, "other")
    created = await hook(store, tenant_id, 1)
    both = await hook(store, tenant_id, 2, event_types=(APP_CREATED, APP_DELETED))
    deleted = await hook(store, tenant_id, 3, event_types=(APP_DELETED,))
    await hook(store, tenant_id, 4, enabled=False, disabled_reason_code="endpoint-gone")
    await hook(store, tenant_id, 5, event_types=(USER_DELETED,))
    await hook(store, other_id, 6, event_types=(APP_CREATED, APP_DELETED))

    def ids(hooks: list[Webhook]) -> list[str]:
        return sorted(item.id for item in hooks)

    found = await store.subscribed(tenant_id, [APP_CREATED, APP_DELETED])
    assert ids(found) == ids([created, both, deleted])
    assert {item.id: item for item in found}[both.id] == both
    assert ids(await store.subscribed(tenant_id, [APP_DELETED])) == ids([both, deleted])
    assert await store.subscribed(tenant_id, ["com.qlik.v1.nobody.listens"]) == []


async def test_expanded_deliveries_are_stored_pending_and_due_in_their_envelope(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    legacy = await hook(store, tenant_id, 1)
    cloud = await hook(store, tenant_id, 2, enable_cloud_event_delivery=True)
    published = event(tenant_id, "e1", data={"id": "app-1"}, owner_id="o1")
    await store.publish(tenant_id, [published])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    [expansion] = await expansions(store, pending.events)

    assert await store.expand(pending.lease, [expansion]) == 2
    by_hook = {made.webhook_id: made for made in expansion.deliveries}
    for target, cloud_events in ((legacy, False), (cloud, True)):
        made = by_hook[target.id]
        expected = Delivery(
            id=made.id,
            tenant_id=tenant_id,
            webhook_id=target.id,
            event_id="e1",
            event_type=APP_CREATED,
            triggered_at=made.triggered_at,
            status="pending",
            status_message="",
            body=envelopes.render(published, cloud_events=cloud_events).decode(),
            attempt_count=0,
            next_attempt_at=made.next_attempt_at,
            request_url=None,
            request_headers=None,
            response_status=None,
            response_headers=None,
            response_body=None,
            attempts=(),
            cloud_events=cloud_events,
        )
        assert await history(store, tenant_id, target.id) == [expected]
        assert await store.get_delivery(tenant_id, target.id, made.id) == expected


async def test_an_expansion_with_a_deleted_owner_disables_only_their_user_level_webhooks(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    other_id = await tenant(store, "other")
    alices = [
        await hook(store, tenant_id, 1, level="user", owner_id="alice"),
        await hook(store, tenant_id, 2, level="user", owner_id="alice", event_types=(APP_DELETED,)),
    ]
    untouched = [
        await hook(store, tenant_id, 3, level="tenant", owner_id="alice"),
        await hook(store, tenant_id, 4, level="user", owner_id="bob"),
        await hook(store, other_id, 5, level="user", owner_id="alice"),
    ]
    await store.publish(tenant_id, [event(tenant_id, type=USER_DELETED)])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    [deleted] = pending.events
    assert await store.expand(pending.lease, [Expansion(deleted, [], "alice")]) == 0

    for target in alices:
        got = await store.get_webhook(tenant_id, target.id)
        assert got is not None
        assert got.disabled_reason is not None
        assert "alice" in got.disabled_reason
        assert got == dataclasses.replace(
            target,
            enabled=False,
            disabled_reason_code="owner-deleted",
            disabled_reason=got.disabled_reason,
            updated_at=got.updated_at,
        )
    for target in untouched:
        assert await store.get_webhook(target.tenant_id, target.id) == target
    # each disabling raises its own event, waiting for fan-out in turn
    raised = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    assert sorted(item.data["id"] for item in raised.events) == sorted(t.id for t in alices)
    assert {item.type for item in raised.events} == {WEBHOOK_DISABLED}


async def test_a_published_user_deleted_event_disables_that_users_webhooks(store: Store) -> None:
    tenant_id = await tenant(store)
    owned = await hook(store, tenant_id, 1, level="user", owner_id="alice")
    bobs = await hook(store, tenant_id, 2, level="user", owner_id="bob")
    await publish(store, tenant_id, event(tenant_id, type=USER_DELETED, data={"id": "alice"}))

    got = await store.get_webhook(tenant_id, owned.id)
    assert got is not None
    assert (got.enabled, got.disabled_reason_code) == (False, "owner-deleted")
    assert await store.get_webhook(tenant_id, bobs.id) == bobs


# Claiming ------------------------------------------------------------------------------


async def test_claim_leases_the_longest_due_deliveries_first_up_to_the_limit(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    for name, due in [("m1", -1), ("m3", -3), ("later", 60), ("m2", -2)]:
        await publish(store, tenant_id, event(tenant_id, name), due=timedelta(minutes=due))
    await publish(store, tenant_id, event(tenant_id, "ended"), due=None)

    assert sorted(event_ids(await claim(store, limit=2))) == ["m2", "m3"]
    assert event_ids(await claim(store, limit=2)) == ["m1"]
    assert await claim(store) == []


async def test_claimed_deliveries_come_oldest_due_first(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    # stored oldest due first, with ids that sort the other way
    schedule = {"m3": ("d-3", -3), "m2": ("d-2", -2), "m1": ("d-1", -1)}
    await store.publish(tenant_id, [event(tenant_id, name) for name in schedule])
    pending = await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)
    at = now()
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
                        next_attempt_at=at + timedelta(minutes=schedule[item.id][1]),
                        delivery_id=schedule[item.id][0],
                    )
                ],
            )
            for item in pending.events
        ],
    )
    assert event_ids(await claim(store, limit=3)) == ["m3", "m2", "m1"]


async def test_claim_never_returns_deliveries_of_full_webhooks_or_tenants(store: Store) -> None:
    tenant_id = await tenant(store)
    other_id = await tenant(store, "other")
    busy = await hook(store, tenant_id, 1)
    idle = await hook(store, tenant_id, 2)
    elsewhere = await hook(store, other_id, 3)
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    await publish(store, other_id, event(other_id, "e1"))
    full = Room(per_webhook=5, per_tenant=10, webhooks={busy.id: 5}, tenants={other_id: 10})

    claimed = await claim(store, room=full)
    assert {(item.webhook_id, item.event_id) for item in claimed} == {
        (idle.id, "e1"),
        (idle.id, "e2"),
    }
    assert await claim(store, room=full) == []
    assert {item.webhook_id for item in await claim(store)} == {busy.id, elsewhere.id}


async def test_a_leased_delivery_is_claimable_again_once_its_lease_has_passed(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    store_clock.stop()  # from now on, time passes by advance only

    [first] = await claim(store, lease_seconds=30, owner="crashed")
    assert await claim(store, owner="survivor") == []
    store_clock.advance(29)
    assert await claim(store, owner="survivor") == []
    store_clock.advance(2)
    [again] = await claim(store, owner="survivor")
    assert again == first
    assert await claim(store, owner="another") == []


async def test_concurrent_claims_on_one_store_never_share_a_delivery(store: Store) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, 1)
    await hook(store, tenant_id, 2)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(15)))

    seen: list[str] = []
    for _ in range(20):  # 30 deliveries, at least one each round
        rounds = await asyncio.gather(
            *(claim(store, limit=4, owner=f"worker-{n}") for n in range(4))
        )
        claimed = [item.delivery_id for batch in rounds for item in batch]
        if not claimed:
            break
        seen += claimed
    assert len(seen) == 30
    assert len(set(seen)) == 30


async def test_claims_from_two_store_instances_never_share_a_delivery(
    store: Store, database_url: str
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id, 1)
    await hook(store, tenant_id, 2)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(15)))

    seen: list[str] = []
    async with another_store(database_url) as other:
        for _ in range(20):
            rounds = await asyncio.gather(
                claim(store, limit=3, owner="a1"),
                claim(other, limit=3, owner="b1"),
                claim(store, limit=3, owner="a2"),
                claim(other, limit=3, owner="b2"),
            )
            claimed = [item.delivery_id for batch in rounds for item in batch]
            if not claimed:
                break
            seen += claimed
    assert len(seen) == 30
    assert len(set(seen)) == 30


async def test_a_claim_carries_the_webhooks_current_settings_and_the_body(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, url="https://old.example.com/in", headers={"X-Old": "1"})
    published = event(tenant_id, "e1", data={"id": "app-1"})
    await publish(store, tenant_id, published)
    [made] = await history(store, tenant_id, target.id)
    changed = dataclasses.replace(
        target,
        url="https://new.example.com/in",
        headers={"X-New": "2"},
        sealed_secret="sealed-secret-2",
        sealed_encrypted_headers="sealed-headers-2",
        encrypted_header_names=("X-Tok",),
        enabled=False,
        disabled_reason="switched off",
        disabled_reason_code="manual",
        updated_at=target.updated_at + timedelta(seconds=1),
    )
    assert await store.update_webhook(changed)

    assert await claim(store) == [
        Claimed(
            delivery_id=made.id,
            tenant_id=tenant_id,
            webhook_id=target.id,
            event_id="e1",
            triggered_at=made.triggered_at,
            body=envelopes.render(published, cloud_events=False),
            attempt_count=0,
            webhook_enabled=False,
            url="https://new.example.com/in",
            headers={"X-New": "2"},
            sealed_secret="sealed-secret-2",
            sealed_encrypted_headers="sealed-headers-2",
            encrypted_header_names=("X-Tok",),
        )
    ]
    assert made.body.encode() == envelopes.render(published, cloud_events=False)


# Recording outcomes --------------------------------------------------------------------


async def test_record_writes_the_outcome_and_the_attempt_and_ends_the_lease(store: Store) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    [claimed] = await claim(store)
    pending = await only(store, tenant_id, target.id)

    retry = outcome(claimed, next_attempt_at=now() - timedelta(seconds=1))
    await store.record([retry], POLICY)
    assert await only(store, tenant_id, target.id) == _after(pending, retry)
    # the lease ended with the outcome: the retry, due already, is claimable at once
    [again] = await claim(store)
    assert (again.delivery_id, again.attempt_count) == (claimed.delivery_id, 1)

    success = outcome(
        claimed,
        number=2,
        status="success",
        started_at=retry.attempt.started_at + timedelta(seconds=5),
    )
    await store.record([success], POLICY)
    assert await store.get_delivery(tenant_id, target.id, claimed.delivery_id) == _after(
        pending, retry, success
    )
    assert await claim(store) == []


def _after(delivery: Delivery, *results: Result) -> Delivery:
    last = results[-1]
    return dataclasses.replace(
        delivery,
        status=last.status,
        status_message=last.status_message,
        attempt_count=last.attempt.number,
        next_attempt_at=last.next_attempt_at,
        request_url=last.request_url,
        request_headers=last.request_headers,
        response_status=last.response_status,
        response_headers=last.response_headers,
        response_body=last.response_body,
        attempts=tuple(result.attempt for result in results),
    )


async def test_recording_an_attempt_twice_keeps_the_first_and_the_rest_of_the_batch(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    first, second = await claim(store)
    before = {item.id: item for item in await history(store, tenant_id, target.id)}

    once = outcome(first)
    await store.record([once], POLICY)
    repeated = dataclasses.replace(once, attempt=dataclasses.replace(once.attempt, error="again"))
    other = outcome(second, status="success")
    await store.record([repeated, other, repeated], POLICY)

    got = await store.get_delivery(tenant_id, target.id, first.delivery_id)
    assert got is not None
    assert got.attempts == (once.attempt,)
    assert await store.get_delivery(tenant_id, target.id, second.delivery_id) == _after(
        before[second.delivery_id], other
    )


async def test_a_result_for_a_deleted_webhooks_delivery_is_skipped(store: Store) -> None:
    tenant_id = await tenant(store)
    gone = await hook(store, tenant_id, 1)
    kept = await hook(store, tenant_id, 2)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    claimed = {item.webhook_id: item for item in await claim(store)}
    pending = await only(store, tenant_id, kept.id)
    assert await store.delete_webhook(tenant_id, gone.id)

    late = outcome(claimed[gone.id], next_attempt_at=now(), disable=Disable(gone.id, "x", "y"))
    recorded = outcome(claimed[kept.id], status="success")
    await store.record([late, recorded], POLICY)

    assert await only(store, tenant_id, kept.id) == _after(pending, recorded)
    assert await store.get_delivery(tenant_id, gone.id, late.delivery_id) is None
    await store.record([late], POLICY)  # alone in its batch, too
    assert await claim(store) == []


@postgres_only
async def test_a_result_racing_with_the_deletion_of_its_webhook_is_skipped(
    store: Store, database_url: str
) -> None:
    tenant_id = await tenant(store)
    gone = await hook(store, tenant_id, 1)
    kept = await hook(store, tenant_id, 2)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    claimed = {item.webhook_id: item for item in await claim(store)}
    late = outcome(claimed[gone.id])
    recorded = outcome(claimed[kept.id], status="success")

    deleter = await asyncpg.connect(database_url)
    try:
        deleting = deleter.transaction()
        await deleting.start()
        await deleter.execute("DELETE FROM webhooks WHERE id = $1", gone.id)
        recording = asyncio.create_task(store.record([late, recorded], POLICY))
        await _until_a_query_waits_for_a_lock(deleter, recording)
        await deleting.commit()
        await recording
    finally:
        await deleter.close()
    got = await store.get_delivery(tenant_id, kept.id, recorded.delivery_id)
    assert got is not None
    assert got.status == "success"


async def _until_a_query_waits_for_a_lock(
    conn: asyncpg.Connection, task: asyncio.Task[None]
) -> None:
    # (in a transaction, pg_stat_activity answers the same snapshot until cleared)
    waiting = (
        "SELECT count(*) FROM pg_stat_activity, pg_stat_clear_snapshot()"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        if task.done() or await conn.fetchval(waiting):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("record never waited for the deleting transaction")


async def test_a_result_that_disables_disables_its_webhook_and_raises_the_event(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    [claimed] = await claim(store)
    gone = Disable(target.id, "endpoint-gone", "the endpoint answered 410 Gone")
    await store.record([outcome(claimed, disable=gone)], POLICY)

    got = await store.get_webhook(tenant_id, target.id)
    assert got is not None
    assert got == dataclasses.replace(
        target,
        enabled=False,
        disabled_reason="the endpoint answered 410 Gone",
        disabled_reason_code="endpoint-gone",
        updated_at=got.updated_at,
    )
    events = (await store.claim_fanout(limit=10, per_tenant=10, lease_seconds=LEASE)).events
    [raised] = [item for item in events if item.type == WEBHOOK_DISABLED]
    assert (raised.tenant_id, raised.type, raised.owner_id) == (
        tenant_id,
        WEBHOOK_DISABLED,
        "admin",
    )
    assert raised.data["id"] == target.id
    assert raised.data["disabledReasonCode"] == "endpoint-gone"


async def _failing(store: Store, count: int) -> tuple[str, Webhook, Webhook, list[Claimed]]:
    """A tenant with two webhooks, ``count`` events delivered to both and claimed."""
    tenant_id = await tenant(store)
    mine = await hook(store, tenant_id, 1)
    neighbour = await hook(store, tenant_id, 2)
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(count)))
    return tenant_id, mine, neighbour, await claim(store)


async def _enabled(store: Store, tenant_id: str, target: Webhook) -> bool:
    got = await store.get_webhook(tenant_id, target.id)
    assert got is not None
    return got.enabled


async def test_a_webhook_is_disabled_after_threshold_final_failures_without_success(
    store: Store,
) -> None:
    tenant_id, target, neighbour, claimed = await _failing(store, 3)
    mine = [item for item in claimed if item.webhook_id == target.id]
    theirs = [item for item in claimed if item.webhook_id == neighbour.id]
    policy = FailurePolicy(threshold=3, window_seconds=3600)
    retry_later = now() + timedelta(hours=1)

    await store.record([outcome(item, next_attempt_at=retry_later) for item in mine], policy)
    await store.record([outcome(item, number=1) for item in theirs[:2]], policy)
    await store.record([outcome(item, number=2) for item in mine[:2]], policy)
    assert await _enabled(store, tenant_id, target)

    await store.record([outcome(mine[2], number=2)], policy)
    got = await store.get_webhook(tenant_id, target.id)
    assert got is not None
    assert (got.enabled, got.disabled_reason_code) == (False, "delivery-failures")
    assert got.disabled_reason
    assert await _enabled(store, tenant_id, neighbour)


async def test_one_success_in_the_window_keeps_a_failing_webhook_enabled(store: Store) -> None:
    tenant_id, target, _, claimed = await _failing(store, 4)
    mine = [item for item in claimed if item.webhook_id == target.id]
    policy = FailurePolicy(threshold=3, window_seconds=3600)

    await store.record([outcome(mine[0], status="success")], policy)
    await store.record([outcome(item) for item in mine[1:]], policy)
    assert await _enabled(store, tenant_id, target)


async def test_final_failures_ending_in_the_window_count_however_old_their_event(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    events = [event(tenant_id, f"e{n}") for n in range(3)]
    await publish(store, tenant_id, *events, triggered_at=now() - timedelta(hours=2))
    claimed = await claim(store)
    policy = FailurePolicy(threshold=3, window_seconds=3600)

    await store.record([outcome(item) for item in claimed], policy)
    assert not await _enabled(store, tenant_id, target)


# Resends and reading -------------------------------------------------------------------


async def test_an_added_delivery_is_leased_to_its_owner(store: Store, store_clock: Clock) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    published = event(tenant_id, "e1")
    await publish(store, tenant_id, published)
    [first] = await claim(store)
    await store.record([outcome(first, status="success")], POLICY)
    store_clock.stop()  # from now on, time passes by advance only
    at = now()
    resent = new_delivery(published, target, triggered_at=at, next_attempt_at=at)
    await store.add_delivery(resent, owner="resend-1", lease_seconds=30)

    assert await claim(store) == []
    got = await store.get_delivery(tenant_id, target.id, resent.id)
    assert got is not None
    assert (got.status, got.attempt_count) == ("pending", 0)
    assert got.body == envelopes.render(published, cloud_events=False).decode()
    assert got.next_attempt_at is not None
    assert got.next_attempt_at > at  # when the lease ends
    store_clock.advance(29)
    assert await claim(store) == []
    store_clock.advance(2)  # the resending process died: the lease runs out
    assert [item.delivery_id for item in await claim(store)] == [resent.id]


async def test_get_delivery_sees_only_the_tenants_webhooks_deliveries(store: Store) -> None:
    tenant_id = await tenant(store)
    other_id = await tenant(store, "other")
    target = await hook(store, tenant_id, 1)
    sibling = await hook(store, tenant_id, 2)
    await hook(store, other_id, 3)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    made = await only(store, tenant_id, target.id)

    assert await store.get_delivery(tenant_id, target.id, made.id) == made
    assert await store.get_delivery(other_id, target.id, made.id) is None
    assert await store.get_delivery(tenant_id, sibling.id, made.id) is None
    assert await store.get_delivery(tenant_id, target.id, "no-such-delivery") is None


async def _mixed_history(store: Store) -> tuple[str, Webhook, list[Delivery]]:
    """Seven deliveries of one webhook: two event types, three statuses, triggered at
    different times (two at the same time)."""
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, event_types=(APP_CREATED, APP_DELETED))
    start = now() - timedelta(days=1)
    minutes = [5, 1, 3, 1, 0, 6, 2]
    for number, minute in enumerate(minutes):
        kind = APP_DELETED if number % 3 == 0 else APP_CREATED
        await publish(
            store,
            tenant_id,
            event(tenant_id, f"e{number}", type=kind),
            triggered_at=start + timedelta(minutes=minute),
        )
    by_event = {item.event_id: item for item in await claim(store)}
    outcomes: dict[str, Literal["success", "fail"]] = {
        "e0": "success",
        "e1": "fail",
        "e3": "success",
        "e4": "fail",
        "e6": "fail",
    }
    await store.record(
        [outcome(by_event[name], status=status) for name, status in outcomes.items()], POLICY
    )
    return tenant_id, target, await history(store, tenant_id, target.id)


async def test_list_deliveries_filters_by_event_type_and_status(store: Store) -> None:
    tenant_id, target, every = await _mixed_history(store)
    assert len(every) == 7

    async def events(**query: Any) -> set[str]:
        return {item.event_id for item in await history(store, tenant_id, target.id, **query)}

    assert await events(event_type=APP_DELETED) == {"e0", "e3", "e6"}
    assert await events(status="fail") == {"e1", "e4", "e6"}
    assert await events(status="pending") == {"e2", "e5"}
    assert await events(event_type=APP_DELETED, status="success") == {"e0", "e3"}
    assert await events(event_type=USER_DELETED) == set()


DELIVERY_SORTS = [
    Sort(key, descending) for key in ("status", "triggeredAt") for descending in (False, True)
]


@pytest.mark.parametrize("sort", DELIVERY_SORTS, ids=str)
async def test_delivery_pages_walk_every_delivery_once_in_order_both_ways(
    store: Store, sort: Sort
) -> None:
    tenant_id, target, every = await _mixed_history(store)
    key: Callable[[Delivery], tuple[Any, str]] = (
        (lambda item: (item.status, item.id))
        if sort.key == "status"
        else (lambda item: (item.triggered_at, item.id))
    )
    expected = [item.id for item in sorted(every, key=key, reverse=sort.descending)]

    def query(cursor: Any = None) -> DeliveryQuery:
        return DeliveryQuery(tenant_id, target.id, sort=sort, limit=3, cursor=cursor)

    page = await store.list_deliveries(query())
    assert page.prev is None
    forward: list[str] = []
    pages = 0
    while True:
        pages += 1
        forward += [item.id for item in page.items]
        if page.next is None:
            break
        page = await store.list_deliveries(query(page.next))
    assert forward == expected
    assert pages == 3

    backward: list[str] = []
    while page.prev is not None:
        page = await store.list_deliveries(query(page.prev))
        backward = [item.id for item in page.items] + backward
    assert backward == expected[:6]


async def test_the_default_delivery_order_is_newest_first(store: Store) -> None:
    _, _, every = await _mixed_history(store)
    names = [item.event_id for item in every]
    assert names[:4] == ["e5", "e0", "e2", "e6"]
    assert set(names[4:6]) == {"e1", "e3"}
    assert names[6] == "e4"


# Purging and deleting ------------------------------------------------------------------


def _attempt_rows(database_url: str) -> int:
    path = database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM delivery_attempts").fetchone()
    return int(count)


async def _count_attempt_rows(database_url: str) -> int:
    if database_url.startswith("sqlite"):
        return _attempt_rows(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM delivery_attempts"))
    finally:
        await conn.close()


async def test_purge_deletes_old_deliveries_and_their_attempts_in_bounded_batches(
    store: Store, database_url: str
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    old = [event(tenant_id, f"old-{n}") for n in range(5)]
    await publish(store, tenant_id, *old, triggered_at=now() - timedelta(days=10))
    await publish(
        store,
        tenant_id,
        event(tenant_id, "new-1"),
        event(tenant_id, "new-2"),
        triggered_at=now() - timedelta(days=1),
    )
    claimed = await claim(store)
    await store.record([outcome(item) for item in claimed], POLICY)
    assert await _count_attempt_rows(database_url) == 7

    cutoff = now() - timedelta(days=7)
    assert [(await store.purge(cutoff, 2)).deliveries for _ in range(4)] == [2, 2, 1, 0]

    left = await history(store, tenant_id, target.id)
    assert sorted(item.event_id for item in left) == ["new-1", "new-2"]
    assert all(item.attempts for item in left)
    assert await _count_attempt_rows(database_url) == 2
    for item in claimed:
        if item.event_id.startswith("old"):
            assert await store.get_delivery(tenant_id, target.id, item.delivery_id) is None


async def test_purge_ends_the_deduplication_of_events_received_a_margin_before_the_cutoff(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    later = now() + timedelta(days=5)  # deliveries that outlive the cutoff
    await publish(store, tenant_id, event(tenant_id, "early"), triggered_at=later)
    received_between = end_of_day(store_clock.now())
    store_clock.advance(24 * 3600)
    await publish(store, tenant_id, event(tenant_id, "late"), triggered_at=later)

    # events live EVENT_MARGIN longer than deliveries triggered at the same time
    await store.purge(received_between, 10)
    again = [event(tenant_id, "early"), event(tenant_id, "late")]
    assert await store.publish(tenant_id, again) == []
    await store.purge(received_between + EVENT_MARGIN, 10)
    assert await publish(store, tenant_id, *again) == again[:1]
    assert sorted(item.event_id for item in await history(store, tenant_id, target.id)) == [
        "early",
        "early",
        "late",
    ]


async def test_purging_until_a_short_batch_removes_every_old_event(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    ids = [f"e{n}" for n in range(5)]
    await publish(store, tenant_id, *(event(tenant_id, name) for name in ids))  # no webhooks
    cutoff = end_of_day(store_clock.now()) + EVENT_MARGIN
    for _ in range(10):
        purged = await store.purge(cutoff, 2)
        if max(purged.deliveries, purged.events) < 2:
            break
    again = [event(tenant_id, name) for name in ids]
    assert await publish(store, tenant_id, *again) == again


async def test_deleting_a_webhook_removes_its_deliveries(store: Store) -> None:
    tenant_id = await tenant(store)
    gone = await hook(store, tenant_id, 1)
    kept = await hook(store, tenant_id, 2)
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    doomed = await history(store, tenant_id, gone.id)
    assert len(doomed) == 2

    assert await store.delete_webhook(tenant_id, gone.id)
    assert await history(store, tenant_id, gone.id) == []
    for item in doomed:
        assert await store.get_delivery(tenant_id, gone.id, item.id) is None
    assert {item.webhook_id for item in await claim(store)} == {kept.id}


# Waking up workers and expanders -------------------------------------------------------


async def test_wait_for_events_returns_soon_after_a_publish(store: Store) -> None:
    tenant_id = await tenant(store)
    await store.wait_for_events(0.01)
    waiting = asyncio.create_task(store.wait_for_events(3600))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await store.publish(tenant_id, [event(tenant_id, "e1")])
    await asyncio.wait_for(waiting, 30)  # woken: far sooner than its hour


async def test_wait_for_work_returns_soon_after_an_expansion_that_made_deliveries(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    await store.publish(tenant_id, [event(tenant_id, "e1")])
    await store.wait_for_work(0.01)
    waiting = asyncio.create_task(store.wait_for_work(3600))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await expand_waiting(store)
    await asyncio.wait_for(waiting, 30)  # woken: far sooner than its hour


@postgres_only
async def test_waits_wake_on_a_publish_and_an_expansion_by_another_process(
    store: Store, database_url: str
) -> None:
    tenant_id = await tenant(store)
    await hook(store, tenant_id)
    async with another_store(database_url) as worker:
        await worker.wait_for_events(0.01)  # listening from now on
        await worker.wait_for_work(0.01)
        waiting = asyncio.create_task(worker.wait_for_events(3600))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await store.publish(tenant_id, [event(tenant_id, "e1")])
        await asyncio.wait_for(waiting, 30)  # woken: far sooner than its hour

        waiting = asyncio.create_task(worker.wait_for_work(3600))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await expand_waiting(store)
        await asyncio.wait_for(waiting, 30)  # woken: far sooner than its hour


async def test_waits_return_after_at_most_seconds_without_work(store: Store) -> None:
    for wait in (store.wait_for_work, store.wait_for_events):
        long = asyncio.create_task(wait(3600))
        await store.list_tenants()  # a round trip to the database, and turns of the loop
        await asyncio.sleep(0)
        assert not long.done()  # no work: it waits...
        long.cancel()
        await asyncio.wait_for(wait(0.3), 30)  # ...until its seconds are up (or this fails)
