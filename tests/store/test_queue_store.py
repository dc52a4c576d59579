"""The delivery queue in storage (publish, claim, record, history, purge, wake-ups), the same
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import pytest

from hookline.clock import now
from hookline.deliveries import Claimed, Delivery, Disable, FailurePolicy, NewDelivery, Result
from hookline.events import Event
from hookline.paging import Sort
from hookline.publishing import plan, plan_now
from hookline.settings import load_settings
from hookline.store import Caps, Store, open_store
from hookline.store.base import DeliveryQuery, Plan, Planner
from hookline.webhooks import Webhook
from tests.databases import TEST_SECRET_KEY
from tests.store.factories import APP_CREATED, event, new_delivery, outcome, webhook

ROOMY = Caps(per_tenant=1000, per_user=1000)
APP_DELETED = "com.qlik.v1.app.deleted"
USER_DELETED = "com.qlik.v1.user.deleted"
POLICY = FailurePolicy(threshold=1000, window_seconds=24 * 3600)
NOW = timedelta(0)
LEASE = 60.0
postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


# Helpers -------------------------------------------------------------------------------


async def _tenant(store: Store, name: str = "acme") -> str:
    return (await store.create_tenant(name)).id


async def _hook(store: Store, tenant_id: str, number: int = 0, **fields: Any) -> Webhook:
    hook = webhook(tenant_id, number, **fields)
    await store.insert_webhook(hook, ROOMY)
    return hook


def timed(triggered_at: datetime | None = None, due: timedelta | None = NOW) -> Planner:
    """A planner that sends every new event to every candidate subscribed to its type,
    triggered at ``triggered_at`` (default: now) and due ``due`` from now (None: ended)."""

    def make(new: list[Event], hooks: list[Webhook]) -> Plan:
        at = now()
        return Plan(
            [
                new_delivery(
                    item,
                    hook,
                    triggered_at=triggered_at or at,
                    next_attempt_at=None if due is None else at + due,
                )
                for item in new
                for hook in hooks
                if item.type in hook.event_types
            ]
        )

    return make


class Recorder:
    """A planner that plans nothing and remembers what it was given."""

    def __init__(self, result: Plan | None = None) -> None:
        self.calls: list[tuple[list[Event], list[Webhook]]] = []
        self.result = result or Plan()

    def __call__(self, new: list[Event], hooks: list[Webhook]) -> Plan:
        self.calls.append((new, hooks))
        return self.result


async def _publish(
    store: Store,
    tenant_id: str,
    *events: Event,
    triggered_at: datetime | None = None,
    due: timedelta | None = NOW,
) -> list[Event]:
    return await store.publish(tenant_id, list(events), timed(triggered_at, due))


async def _claim(
    store: Store,
    *,
    limit: int = 100,
    lease_seconds: float = LEASE,
    exclude: tuple[str, ...] = (),
    owner: str = "worker-1",
) -> list[Claimed]:
    return await store.claim(owner=owner, limit=limit, lease_seconds=lease_seconds, exclude=exclude)


async def _history(store: Store, tenant_id: str, webhook_id: str, **query: Any) -> list[Delivery]:
    page = await store.list_deliveries(DeliveryQuery(tenant_id, webhook_id, limit=100, **query))
    return page.items


async def _only(store: Store, tenant_id: str, webhook_id: str) -> Delivery:
    [delivery] = await _history(store, tenant_id, webhook_id)
    return delivery


@asynccontextmanager
async def _another_store(database_url: str) -> AsyncIterator[Store]:
    """A second store on the same database, as another hookline process would open."""
    opened = open_store(load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY))
    try:
        yield opened
    finally:
        await opened.close()


def _events(claimed: list[Claimed]) -> list[str]:
    return [item.event_id for item in claimed]


# Publishing ----------------------------------------------------------------------------


async def test_an_event_id_is_stored_and_delivered_once_per_tenant(store: Store) -> None:
    tenant_id = await _tenant(store)
    other_id = await _tenant(store, "other")
    hook = await _hook(store, tenant_id)
    other_hook = await _hook(store, other_id)
    first, second = event(tenant_id, "e1"), event(tenant_id, "e2")

    assert await _publish(store, tenant_id, first, event(tenant_id, "e1"), second) == [
        first,
        second,
    ]
    assert await _publish(store, tenant_id, event(tenant_id, "e1")) == []
    assert await _publish(store, tenant_id, event(tenant_id, "e2"), event(tenant_id, "e1")) == []
    delivered = await _history(store, tenant_id, hook.id)
    assert sorted(item.event_id for item in delivered) == ["e1", "e2"]

    elsewhere = event(other_id, "e1")
    assert await _publish(store, other_id, elsewhere) == [elsewhere]
    assert [item.event_id for item in await _history(store, other_id, other_hook.id)] == ["e1"]
    assert len(await _history(store, tenant_id, hook.id)) == 2


async def test_a_repeated_id_in_one_batch_keeps_the_first_event(store: Store) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id, event_types=(APP_CREATED, APP_DELETED))
    first = event(tenant_id, "e1", type=APP_CREATED)
    assert await _publish(store, tenant_id, first, event(tenant_id, "e1", type=APP_DELETED)) == [
        first
    ]


async def test_the_planner_gets_the_new_events_and_the_enabled_subscribed_webhooks_of_the_tenant(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    other_id = await _tenant(store, "other")
    created = await _hook(store, tenant_id, 1)
    both = await _hook(store, tenant_id, 2, event_types=(APP_CREATED, APP_DELETED))
    deleted = await _hook(store, tenant_id, 3, event_types=(APP_DELETED,))
    await _hook(store, tenant_id, 4, enabled=False, disabled_reason_code="endpoint-gone")
    await _hook(store, tenant_id, 5, event_types=(USER_DELETED,))
    await _hook(store, other_id, 6, event_types=(APP_CREATED, APP_DELETED))
    await _publish(store, tenant_id, event(tenant_id, "old"))

    recorder = Recorder()
    fresh = [event(tenant_id, "new-1"), event(tenant_id, "new-2", type=APP_DELETED)]
    assert await store.publish(tenant_id, [event(tenant_id, "old"), *fresh], recorder) == fresh

    [(new, hooks)] = recorder.calls
    assert new == fresh
    assert sorted(hooks, key=lambda hook: hook.id) == sorted(
        [created, both, deleted], key=lambda hook: hook.id
    )


async def test_the_planner_is_not_asked_when_no_event_is_new(store: Store) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id)
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    recorder = Recorder()
    assert await store.publish(tenant_id, [event(tenant_id, "e1")], recorder) == []
    assert recorder.calls == []


async def test_planned_deliveries_are_stored_pending_and_due(store: Store) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    at = now()
    plans: list[Plan] = []

    def planner(new: list[Event], hooks: list[Webhook]) -> Plan:
        plans.append(plan(new, hooks, at))
        return plans[-1]

    published = event(tenant_id, "e1", data={"id": "app-1"})
    await store.publish(tenant_id, [published], planner)

    [made] = plans[0].deliveries
    assert (made.webhook_id, made.event_id) == (hook.id, "e1")
    assert await _history(store, tenant_id, hook.id) == [
        Delivery(
            id=made.id,
            tenant_id=tenant_id,
            webhook_id=hook.id,
            event_id="e1",
            event_type=APP_CREATED,
            triggered_at=at,
            status="pending",
            status_message="",
            body=made.body,
            attempt_count=0,
            next_attempt_at=at,
            request_url=None,
            request_headers=None,
            response_status=None,
            response_headers=None,
            response_body=None,
            attempts=(),
        )
    ]
    assert await store.get_delivery(tenant_id, hook.id, made.id) == (
        await _only(store, tenant_id, hook.id)
    )


async def test_a_failing_planner_stores_neither_events_nor_deliveries(store: Store) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)

    def broken(new: list[Event], hooks: list[Webhook]) -> Plan:
        raise RuntimeError("the planner broke")

    with pytest.raises(RuntimeError, match="the planner broke"):
        await store.publish(tenant_id, [event(tenant_id, "e1"), event(tenant_id, "e2")], broken)
    assert await _history(store, tenant_id, hook.id) == []
    assert await _claim(store) == []

    again = [event(tenant_id, "e1"), event(tenant_id, "e2")]
    assert await _publish(store, tenant_id, *again) == again
    assert len(await _history(store, tenant_id, hook.id)) == 2


async def test_a_plan_with_deleted_owners_disables_only_their_user_level_webhooks(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    other_id = await _tenant(store, "other")
    alices = [
        await _hook(store, tenant_id, 1, level="user", owner_id="alice"),
        await _hook(
            store, tenant_id, 2, level="user", owner_id="alice", event_types=(APP_DELETED,)
        ),
    ]
    untouched = [
        await _hook(store, tenant_id, 3, level="tenant", owner_id="alice"),
        await _hook(store, tenant_id, 4, level="user", owner_id="bob"),
        await _hook(store, other_id, 5, level="user", owner_id="alice"),
    ]
    recorder = Recorder(Plan(deleted_owners=frozenset({"alice"})))
    await store.publish(tenant_id, [event(tenant_id, type=USER_DELETED)], recorder)

    for hook in alices:
        got = await store.get_webhook(tenant_id, hook.id)
        assert got is not None
        assert got.disabled_reason is not None
        assert "alice" in got.disabled_reason
        assert got == dataclasses.replace(
            hook,
            enabled=False,
            disabled_reason_code="owner-deleted",
            disabled_reason=got.disabled_reason,
            updated_at=got.updated_at,
        )
    for hook in untouched:
        assert await store.get_webhook(hook.tenant_id, hook.id) == hook


async def test_a_published_user_deleted_event_disables_that_users_webhooks(store: Store) -> None:
    tenant_id = await _tenant(store)
    owned = await _hook(store, tenant_id, 1, level="user", owner_id="alice")
    bobs = await _hook(store, tenant_id, 2, level="user", owner_id="bob")
    deleted = event(tenant_id, type=USER_DELETED, data={"id": "alice"})
    await store.publish(tenant_id, [deleted], lambda new, hooks: plan(new, hooks, now()))

    got = await store.get_webhook(tenant_id, owned.id)
    assert got is not None
    assert (got.enabled, got.disabled_reason_code) == (False, "owner-deleted")
    assert await store.get_webhook(tenant_id, bobs.id) == bobs


# Claiming ------------------------------------------------------------------------------


async def test_claim_leases_the_longest_due_deliveries_first_up_to_the_limit(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id)
    for name, due in [("m1", -1), ("m3", -3), ("later", 60), ("m2", -2)]:
        await _publish(store, tenant_id, event(tenant_id, name), due=timedelta(minutes=due))
    await _publish(store, tenant_id, event(tenant_id, "ended"), due=None)

    assert sorted(_events(await _claim(store, limit=2))) == ["m2", "m3"]
    assert _events(await _claim(store, limit=2)) == ["m1"]
    assert await _claim(store) == []


async def test_claimed_deliveries_come_oldest_due_first(store: Store) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id)
    # stored oldest due first, with ids that sort the other way
    schedule = {"m3": ("d-3", -3), "m2": ("d-2", -2), "m1": ("d-1", -1)}

    def scheduled(new: list[Event], hooks: list[Webhook]) -> Plan:
        [hook] = hooks
        at = now()
        return Plan(
            [
                dataclasses.replace(
                    new_delivery(item, hook, triggered_at=at, next_attempt_at=None),
                    id=schedule[item.id][0],
                    next_attempt_at=at + timedelta(minutes=schedule[item.id][1]),
                )
                for item in new
            ]
        )

    for name in schedule:
        await store.publish(tenant_id, [event(tenant_id, name)], scheduled)
    assert _events(await _claim(store, limit=3)) == ["m3", "m2", "m1"]


async def test_claim_never_returns_deliveries_of_excluded_webhooks(store: Store) -> None:
    tenant_id = await _tenant(store)
    busy = await _hook(store, tenant_id, 1)
    idle = await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))

    claimed = await _claim(store, exclude=(busy.id,))
    assert {(item.webhook_id, item.event_id) for item in claimed} == {
        (idle.id, "e1"),
        (idle.id, "e2"),
    }
    assert await _claim(store, exclude=(busy.id,)) == []
    assert {item.webhook_id for item in await _claim(store)} == {busy.id}


async def test_a_leased_delivery_is_claimable_again_once_its_lease_has_passed(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id)
    await _publish(store, tenant_id, event(tenant_id, "e1"))

    [first] = await _claim(store, lease_seconds=0.3, owner="crashed")
    assert await _claim(store, owner="survivor") == []
    await asyncio.sleep(0.5)
    [again] = await _claim(store, owner="survivor")
    assert again == first
    assert await _claim(store, owner="another") == []


async def test_concurrent_claims_on_one_store_never_share_a_delivery(store: Store) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id, 1)
    await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(15)))

    seen: list[str] = []
    for _ in range(20):  # 30 deliveries, at least one each round
        rounds = await asyncio.gather(
            *(_claim(store, limit=4, owner=f"worker-{n}") for n in range(4))
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
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id, 1)
    await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(15)))

    seen: list[str] = []
    async with _another_store(database_url) as other:
        for _ in range(20):
            rounds = await asyncio.gather(
                _claim(store, limit=3, owner="a1"),
                _claim(other, limit=3, owner="b1"),
                _claim(store, limit=3, owner="a2"),
                _claim(other, limit=3, owner="b2"),
            )
            claimed = [item.delivery_id for batch in rounds for item in batch]
            if not claimed:
                break
            seen += claimed
    assert len(seen) == 30
    assert len(set(seen)) == 30


async def test_a_claim_carries_the_webhooks_current_settings(store: Store) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id, url="https://old.example.com/in", headers={"X-Old": "1"})
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    [made] = await _history(store, tenant_id, hook.id)
    changed = dataclasses.replace(
        hook,
        url="https://new.example.com/in",
        headers={"X-New": "2"},
        sealed_secret="sealed-secret-2",
        sealed_encrypted_headers="sealed-headers-2",
        encrypted_header_names=("X-Tok",),
        enabled=False,
        disabled_reason="switched off",
        disabled_reason_code="manual",
        updated_at=hook.updated_at + timedelta(seconds=1),
    )
    assert await store.update_webhook(changed)

    assert await _claim(store) == [
        Claimed(
            delivery_id=made.id,
            tenant_id=tenant_id,
            webhook_id=hook.id,
            event_id="e1",
            triggered_at=made.triggered_at,
            body=made.body,
            attempt_count=0,
            webhook_enabled=False,
            url="https://new.example.com/in",
            headers={"X-New": "2"},
            sealed_secret="sealed-secret-2",
            sealed_encrypted_headers="sealed-headers-2",
            encrypted_header_names=("X-Tok",),
        )
    ]


# Recording outcomes --------------------------------------------------------------------


async def test_record_writes_the_outcome_and_the_attempt_and_ends_the_lease(store: Store) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    [claimed] = await _claim(store)
    pending = await _only(store, tenant_id, hook.id)

    retry = outcome(claimed.delivery_id, hook.id, next_attempt_at=now() - timedelta(seconds=1))
    await store.record([retry], POLICY, plan_now)
    assert await _only(store, tenant_id, hook.id) == _after(pending, retry)
    # the lease ended with the outcome: the retry, due already, is claimable at once
    [again] = await _claim(store)
    assert (again.delivery_id, again.attempt_count) == (claimed.delivery_id, 1)

    success = outcome(
        claimed.delivery_id,
        hook.id,
        number=2,
        status="success",
        started_at=retry.attempt.started_at + timedelta(seconds=5),
    )
    await store.record([success], POLICY, plan_now)
    assert await store.get_delivery(tenant_id, hook.id, claimed.delivery_id) == _after(
        pending, retry, success
    )
    assert await _claim(store) == []


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
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    await _publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    first, second = await _claim(store)
    before = {item.id: item for item in await _history(store, tenant_id, hook.id)}

    once = outcome(first.delivery_id, hook.id)
    await store.record([once], POLICY, plan_now)
    repeated = dataclasses.replace(once, attempt=dataclasses.replace(once.attempt, error="again"))
    other = outcome(second.delivery_id, hook.id, status="success")
    await store.record([repeated, other, repeated], POLICY, plan_now)

    got = await store.get_delivery(tenant_id, hook.id, first.delivery_id)
    assert got is not None
    assert got.attempts == (once.attempt,)
    assert await store.get_delivery(tenant_id, hook.id, second.delivery_id) == _after(
        before[second.delivery_id], other
    )


async def test_a_result_for_a_deleted_webhooks_delivery_is_skipped(store: Store) -> None:
    tenant_id = await _tenant(store)
    gone = await _hook(store, tenant_id, 1)
    kept = await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    claimed = {item.webhook_id: item for item in await _claim(store)}
    pending = await _only(store, tenant_id, kept.id)
    assert await store.delete_webhook(tenant_id, gone.id)

    late = outcome(claimed[gone.id].delivery_id, gone.id, disable=Disable(gone.id, "x", "y"))
    recorded = outcome(claimed[kept.id].delivery_id, kept.id, status="success")
    await store.record([late, recorded], POLICY, plan_now)

    assert await _only(store, tenant_id, kept.id) == _after(pending, recorded)
    assert await store.get_delivery(tenant_id, gone.id, late.delivery_id) is None
    await store.record([late], POLICY, plan_now)  # alone in its batch, too


@postgres_only
async def test_a_result_racing_with_the_deletion_of_its_webhook_is_skipped(
    store: Store, database_url: str
) -> None:
    tenant_id = await _tenant(store)
    gone = await _hook(store, tenant_id, 1)
    kept = await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    claimed = {item.webhook_id: item for item in await _claim(store)}
    late = outcome(claimed[gone.id].delivery_id, gone.id)
    recorded = outcome(claimed[kept.id].delivery_id, kept.id, status="success")

    deleter = await asyncpg.connect(database_url)
    try:
        deleting = deleter.transaction()
        await deleting.start()
        await deleter.execute("DELETE FROM webhooks WHERE id = $1", gone.id)
        recording = asyncio.create_task(store.record([late, recorded], POLICY, plan_now))
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
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        if task.done() or await conn.fetchval(waiting):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("record never waited for the deleting transaction")


async def test_a_result_that_disables_disables_its_webhook(store: Store) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    [claimed] = await _claim(store)
    gone = Disable(hook.id, "endpoint-gone", "the endpoint answered 410 Gone")
    await store.record([outcome(claimed.delivery_id, hook.id, disable=gone)], POLICY, plan_now)

    got = await store.get_webhook(tenant_id, hook.id)
    assert got is not None
    assert got == dataclasses.replace(
        hook,
        enabled=False,
        disabled_reason="the endpoint answered 410 Gone",
        disabled_reason_code="endpoint-gone",
        updated_at=got.updated_at,
    )


async def _failing(store: Store, count: int) -> tuple[str, Webhook, Webhook, list[Claimed]]:
    """A tenant with two webhooks, ``count`` events delivered to both and claimed."""
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id, 1)
    neighbour = await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(count)))
    return tenant_id, hook, neighbour, await _claim(store)


async def _enabled(store: Store, tenant_id: str, hook: Webhook) -> bool:
    got = await store.get_webhook(tenant_id, hook.id)
    assert got is not None
    return got.enabled


async def test_a_webhook_is_disabled_after_threshold_final_failures_without_success(
    store: Store,
) -> None:
    tenant_id, hook, neighbour, claimed = await _failing(store, 3)
    mine = [item.delivery_id for item in claimed if item.webhook_id == hook.id]
    theirs = [item.delivery_id for item in claimed if item.webhook_id == neighbour.id]
    policy = FailurePolicy(threshold=3, window_seconds=3600)
    retry_later = now() + timedelta(hours=1)

    await store.record(
        [outcome(d, hook.id, next_attempt_at=retry_later) for d in mine], policy, plan_now
    )
    await store.record([outcome(d, neighbour.id, number=1) for d in theirs[:2]], policy, plan_now)
    await store.record([outcome(d, hook.id, number=2) for d in mine[:2]], policy, plan_now)
    assert await _enabled(store, tenant_id, hook)

    await store.record([outcome(mine[2], hook.id, number=2)], policy, plan_now)
    got = await store.get_webhook(tenant_id, hook.id)
    assert got is not None
    assert (got.enabled, got.disabled_reason_code) == (False, "delivery-failures")
    assert got.disabled_reason
    assert await _enabled(store, tenant_id, neighbour)


async def test_one_success_in_the_window_keeps_a_failing_webhook_enabled(store: Store) -> None:
    tenant_id, hook, _, claimed = await _failing(store, 4)
    mine = [item.delivery_id for item in claimed if item.webhook_id == hook.id]
    policy = FailurePolicy(threshold=3, window_seconds=3600)

    await store.record([outcome(mine[0], hook.id, status="success")], policy, plan_now)
    await store.record([outcome(d, hook.id) for d in mine[1:]], policy, plan_now)
    assert await _enabled(store, tenant_id, hook)


async def test_final_failures_ending_in_the_window_count_however_old_their_event(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    events = [event(tenant_id, f"e{n}") for n in range(3)]
    await _publish(store, tenant_id, *events, triggered_at=now() - timedelta(hours=2))
    claimed = await _claim(store)
    policy = FailurePolicy(threshold=3, window_seconds=3600)

    await store.record([outcome(item.delivery_id, hook.id) for item in claimed], policy, plan_now)
    assert not await _enabled(store, tenant_id, hook)


# Resends and reading -------------------------------------------------------------------


async def test_an_added_delivery_is_leased_to_its_owner(store: Store) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    at = now()
    resent = NewDelivery(
        id="11111111-2222-3333-4444-555555555555",
        tenant_id=tenant_id,
        webhook_id=hook.id,
        event_id="e1",
        event_type=APP_CREATED,
        body='{"eventId":"e1"}',
        triggered_at=at,
        next_attempt_at=at,
    )
    await store.add_delivery(resent, owner="resend-1", lease_seconds=0.5)

    assert await _claim(store) == []
    got = await store.get_delivery(tenant_id, hook.id, resent.id)
    assert got is not None
    assert (got.status, got.attempt_count) == ("pending", 0)
    assert got.next_attempt_at is not None
    assert got.next_attempt_at > at  # when the lease ends
    await asyncio.sleep(0.7)  # the resending process died: the lease runs out
    assert [item.delivery_id for item in await _claim(store)] == [resent.id]


async def test_get_delivery_sees_only_the_tenants_webhooks_deliveries(store: Store) -> None:
    tenant_id = await _tenant(store)
    other_id = await _tenant(store, "other")
    hook = await _hook(store, tenant_id, 1)
    sibling = await _hook(store, tenant_id, 2)
    await _hook(store, other_id, 3)
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    made = await _only(store, tenant_id, hook.id)

    assert await store.get_delivery(tenant_id, hook.id, made.id) == made
    assert await store.get_delivery(other_id, hook.id, made.id) is None
    assert await store.get_delivery(tenant_id, sibling.id, made.id) is None
    assert await store.get_delivery(tenant_id, hook.id, "no-such-delivery") is None


async def _mixed_history(store: Store) -> tuple[str, Webhook, list[Delivery]]:
    """Seven deliveries of one webhook: two event types, three statuses, triggered at
    different times (two at the same time)."""
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id, event_types=(APP_CREATED, APP_DELETED))
    start = now() - timedelta(days=1)
    minutes = [5, 1, 3, 1, 0, 6, 2]
    for number, minute in enumerate(minutes):
        kind = APP_DELETED if number % 3 == 0 else APP_CREATED
        await _publish(
            store,
            tenant_id,
            event(tenant_id, f"e{number}", type=kind),
            triggered_at=start + timedelta(minutes=minute),
        )
    by_event = {item.event_id: item for item in await _claim(store)}
    outcomes: dict[str, Literal["success", "fail"]] = {
        "e0": "success",
        "e1": "fail",
        "e3": "success",
        "e4": "fail",
        "e6": "fail",
    }
    await store.record(
        [
            outcome(by_event[name].delivery_id, hook.id, status=status)
            for name, status in outcomes.items()
        ],
        POLICY,
        plan_now,
    )
    return tenant_id, hook, await _history(store, tenant_id, hook.id)


async def test_list_deliveries_filters_by_event_type_and_status(store: Store) -> None:
    tenant_id, hook, every = await _mixed_history(store)
    assert len(every) == 7

    async def events(**query: Any) -> set[str]:
        return {item.event_id for item in await _history(store, tenant_id, hook.id, **query)}

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
    tenant_id, hook, every = await _mixed_history(store)
    key: Callable[[Delivery], tuple[Any, str]] = (
        (lambda item: (item.status, item.id))
        if sort.key == "status"
        else (lambda item: (item.triggered_at, item.id))
    )
    expected = [item.id for item in sorted(every, key=key, reverse=sort.descending)]

    def query(cursor: Any = None) -> DeliveryQuery:
        return DeliveryQuery(tenant_id, hook.id, sort=sort, limit=3, cursor=cursor)

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
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    old = [event(tenant_id, f"old-{n}") for n in range(5)]
    await _publish(store, tenant_id, *old, triggered_at=now() - timedelta(days=10))
    await _publish(
        store,
        tenant_id,
        event(tenant_id, "new-1"),
        event(tenant_id, "new-2"),
        triggered_at=now() - timedelta(days=1),
    )
    claimed = await _claim(store)
    await store.record([outcome(item.delivery_id, hook.id) for item in claimed], POLICY, plan_now)
    assert await _count_attempt_rows(database_url) == 7

    cutoff = now() - timedelta(days=7)
    assert [(await store.purge(cutoff, 2)).deliveries for _ in range(4)] == [2, 2, 1, 0]

    left = await _history(store, tenant_id, hook.id)
    assert sorted(item.event_id for item in left) == ["new-1", "new-2"]
    assert all(item.attempts for item in left)
    assert await _count_attempt_rows(database_url) == 2
    for item in claimed:
        if item.event_id.startswith("old"):
            assert await store.get_delivery(tenant_id, hook.id, item.delivery_id) is None


async def test_purge_ends_the_deduplication_of_events_received_before_the_cutoff(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    hook = await _hook(store, tenant_id)
    tomorrow = now() + timedelta(days=1)  # deliveries that outlive the cutoff
    await _publish(store, tenant_id, event(tenant_id, "early"), triggered_at=tomorrow)
    await asyncio.sleep(0.02)
    cutoff = now()
    await asyncio.sleep(0.02)
    await _publish(store, tenant_id, event(tenant_id, "late"), triggered_at=tomorrow)

    assert (await store.purge(cutoff, 10)).deliveries == 0
    again = [event(tenant_id, "early"), event(tenant_id, "late")]
    assert await _publish(store, tenant_id, *again) == again[:1]
    assert sorted(item.event_id for item in await _history(store, tenant_id, hook.id)) == [
        "early",
        "early",
        "late",
    ]


async def test_purging_until_a_short_batch_removes_every_old_event(store: Store) -> None:
    tenant_id = await _tenant(store)
    ids = [f"e{n}" for n in range(5)]
    await _publish(store, tenant_id, *(event(tenant_id, name) for name in ids))  # no webhooks
    await asyncio.sleep(0.02)
    cutoff = now()
    for _ in range(10):
        purged = await store.purge(cutoff, 2)
        if max(purged.deliveries, purged.events) < 2:
            break
    again = [event(tenant_id, name) for name in ids]
    assert await _publish(store, tenant_id, *again) == again


async def test_deleting_a_webhook_removes_its_deliveries(store: Store) -> None:
    tenant_id = await _tenant(store)
    gone = await _hook(store, tenant_id, 1)
    kept = await _hook(store, tenant_id, 2)
    await _publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"))
    doomed = await _history(store, tenant_id, gone.id)
    assert len(doomed) == 2

    assert await store.delete_webhook(tenant_id, gone.id)
    assert await _history(store, tenant_id, gone.id) == []
    for item in doomed:
        assert await store.get_delivery(tenant_id, gone.id, item.id) is None
    assert {item.webhook_id for item in await _claim(store)} == {kept.id}


# Waking up workers ---------------------------------------------------------------------


async def test_wait_for_work_returns_soon_after_a_publish_that_made_deliveries(
    store: Store,
) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id)
    await store.wait_for_work(0.01)
    waiting = asyncio.create_task(store.wait_for_work(60))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await _publish(store, tenant_id, event(tenant_id, "e1"))
    await asyncio.wait_for(waiting, 5)


@postgres_only
async def test_wait_for_work_wakes_on_a_publish_by_another_process(
    store: Store, database_url: str
) -> None:
    tenant_id = await _tenant(store)
    await _hook(store, tenant_id)
    async with _another_store(database_url) as worker:
        await worker.wait_for_work(0.01)  # listening from now on
        waiting = asyncio.create_task(worker.wait_for_work(60))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await _publish(store, tenant_id, event(tenant_id, "e1"))
        await asyncio.wait_for(waiting, 5)


async def test_wait_for_work_returns_after_at_most_seconds_without_work(store: Store) -> None:
    started = time.monotonic()
    await store.wait_for_work(0.3)
    assert 0.2 <= time.monotonic() - started < 5
