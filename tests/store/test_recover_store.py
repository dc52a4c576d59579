"""Recover tasks in storage (hookline.recover): caps, claims in turns with leases, the walk of
a window with each event's latest delivery, and steps that store deliveries and move the
cursor together or not at all; the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from hookline.errors import LimitReached, NotFound
from hookline.recover import (
    Latest,
    Looked,
    Only,
    Step,
    Task,
    TaskCaps,
    Window,
    delivery,
    new_task,
    next_step,
)
from hookline.store import Store
from tests.store.conftest import Clock
from tests.store.factories import event, outcome
from tests.store.queueing import POLICY, another_store, claim, history, hook, publish, tenant

CAPS = TaskCaps(per_webhook=1, per_tenant=5)
LEASE = 60.0
HOUR = timedelta(hours=1)


async def created(
    store: Store,
    tenant_id: str,
    webhook_id: str,
    at: datetime,
    *,
    only: Only = "failed",
    since: datetime | None = None,
) -> Task:
    """A new task of the webhook, made at ``at``, for the hour before (or from ``since``)."""
    made = new_task(tenant_id, webhook_id, "admin", only, Window(since or at - HOUR, at), at)
    await store.create_task(made, CAPS)
    return made


async def leased(store: Store, owner: str = "runner-1") -> list[Task]:
    return await store.claim_tasks(owner=owner, limit=100, lease_seconds=LEASE)


def step_all(task: Task, looked: list[Looked], owner: str = "runner-1", batch: int = 100) -> Step:
    """A step that sends every event it looked at."""
    at = task.window.until
    made = [delivery(task, item, False, at) for item in looked]
    return next_step(task, owner, looked=looked, deliveries=made, total=len(looked), batch=batch)


# Making tasks -------------------------------------------------------------------------------


async def test_a_task_reads_back_only_through_its_tenant_and_webhook(
    store: Store, store_clock: Clock
) -> None:
    tenant_id, other_id = await tenant(store), await tenant(store, "other")
    target = await hook(store, tenant_id)
    made = await created(store, tenant_id, target.id, store_clock.now(), only="all")

    assert await store.get_task(tenant_id, target.id, made.id) == made
    assert await store.get_task(other_id, target.id, made.id) is None
    assert await store.get_task(tenant_id, "another-webhook", made.id) is None
    assert await store.list_tasks(tenant_id, target.id, 10) == [made]
    assert await store.list_tasks(other_id, target.id, 10) == []


async def test_a_webhook_has_one_unfinished_task_and_a_tenant_a_few(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    hooks = [await hook(store, tenant_id, number) for number in range(7)]
    at = store_clock.now()
    first = await created(store, tenant_id, hooks[0].id, at)

    with pytest.raises(LimitReached, match=first.id):
        await created(store, tenant_id, hooks[0].id, at)
    for target in hooks[1:5]:
        await created(store, tenant_id, target.id, at)
    with pytest.raises(LimitReached, match="5 recovers queued or running"):
        await created(store, tenant_id, hooks[5].id, at)

    other = await tenant(store, "other")
    await created(store, other, (await hook(store, other, 9)).id, at)  # caps are per tenant


async def test_a_finished_task_frees_its_place(store: Store, store_clock: Clock) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    first = await created(store, tenant_id, target.id, store_clock.now())
    [claimed] = await leased(store)
    assert await store.step_task(step_all(claimed, []), LEASE)  # an empty window: done

    finished = await store.get_task(tenant_id, target.id, first.id)
    assert finished is not None
    assert finished.status == "done"
    await created(store, tenant_id, target.id, store_clock.now())


async def test_a_task_for_a_deleted_webhook_is_not_made(store: Store, store_clock: Clock) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await store.delete_webhook(tenant_id, target.id)

    with pytest.raises(NotFound):
        await created(store, tenant_id, target.id, store_clock.now())


async def test_deleting_the_webhook_deletes_its_tasks(store: Store, store_clock: Clock) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    made = await created(store, tenant_id, target.id, store_clock.now())
    [claimed] = await leased(store)

    await store.delete_webhook(tenant_id, target.id)

    assert await store.get_task(tenant_id, target.id, made.id) is None
    assert not await store.step_task(step_all(claimed, []), LEASE)
    assert await leased(store) == []


# Claims ------------------------------------------------------------------------------------


async def test_claims_take_one_task_of_each_tenant_in_turns(
    store: Store, store_clock: Clock
) -> None:
    store_clock.stop()
    busy, quiet = await tenant(store), await tenant(store, "quiet")
    first = await created(store, busy, (await hook(store, busy, 1)).id, store_clock.now())
    store_clock.advance(1)
    second = await created(store, busy, (await hook(store, busy, 2)).id, store_clock.now())
    store_clock.advance(1)
    theirs = await created(store, quiet, (await hook(store, quiet, 3)).id, store_clock.now())

    round_one = await leased(store)
    assert [task.id for task in round_one] == [first.id, theirs.id]
    assert {task.status for task in round_one} == {"running"}
    for task in round_one:  # a step moves each one's turn to the back
        store_clock.advance(1)
        assert await store.step_task(step_all(task, [], batch=0), LEASE)  # not done yet
    assert [task.id for task in await leased(store)] == [second.id, theirs.id]


async def test_a_leased_task_waits_for_its_lease_to_run_out(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    made = await created(store, tenant_id, (await hook(store, tenant_id)).id, store_clock.now())
    assert [task.id for task in await leased(store, "runner-1")] == [made.id]

    assert await leased(store, "runner-2") == []
    assert [task.id for task in await leased(store, "runner-1")] == [made.id]  # its own again
    store_clock.advance(LEASE + 1)
    [taken] = await leased(store, "runner-2")
    assert taken.id == made.id

    # The first runner's step, late, stores nothing: the task is no longer its own.
    assert not await store.step_task(step_all(taken, [], owner="runner-1"), LEASE)
    assert await store.step_task(step_all(taken, [], owner="runner-2"), LEASE)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_processes_never_claim_the_same_task(
    store: Store, database_url: str, store_clock: Clock
) -> None:
    at = store_clock.now()
    for number in range(20):
        tenant_id = await tenant(store, f"t{number}")
        await created(store, tenant_id, (await hook(store, tenant_id, number)).id, at)
    async with another_store(database_url) as second:
        one, two = await asyncio.gather(
            store.claim_tasks(owner="a", limit=15, lease_seconds=LEASE),
            second.claim_tasks(owner="b", limit=15, lease_seconds=LEASE),
        )
    assert len(one) + len(two) == 20
    assert not {task.id for task in one} & {task.id for task in two}


# The walk ----------------------------------------------------------------------------------


async def test_a_step_looks_at_the_windows_events_in_order_with_their_latest_delivery(
    store: Store, store_clock: Clock
) -> None:
    store_clock.stop()
    tenant_id, other_id = await tenant(store), await tenant(store, "other")
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, event(tenant_id, "before"))
    store_clock.advance(60)
    since = store_clock.now()
    await publish(store, tenant_id, event(tenant_id, "b-failed"), event(tenant_id, "a-retrying"))
    await publish(store, other_id, event(other_id, "theirs"))
    store_clock.advance(1)
    await publish(store, tenant_id, event(tenant_id, "succeeded"))
    await store.publish(tenant_id, [event(tenant_id, "waiting")])  # not fanned out yet
    store_clock.advance(1)
    target_claims = {item.event_id: item for item in await claim(store)}
    await store.record(
        [
            outcome(target_claims["b-failed"]),
            outcome(target_claims["a-retrying"], next_attempt_at=store_clock.now() + HOUR),
            outcome(target_claims["succeeded"], status="success"),
        ],
        POLICY,
    )
    store_clock.advance(60)
    until = store_clock.now()
    await store.publish(tenant_id, [event(tenant_id, "after")])
    await created(store, tenant_id, target.id, until, since=since)
    [task] = await leased(store)

    looked = await store.look(task, target.id, 100)

    # In the order hookline took them (within a publish, its list's); not the events
    # still waiting for fan-out ("waiting", and the operational events the outcomes
    # raised), which are fan-out's to deliver.
    assert [(item.position.event_id, item.latest) for item in looked] == [
        ("b-failed", Latest("fail", True)),
        ("a-retrying", Latest("fail", False)),
        ("succeeded", Latest("success", True)),
    ]
    assert looked[0].position.received_at == since
    assert await store.count_window(task) == 3


async def test_a_step_goes_on_after_the_cursor_and_ends_the_task_with_a_short_batch(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    since = store_clock.now()
    await publish(store, tenant_id, *(event(tenant_id, f"e{n}") for n in range(5)), due=None)
    store_clock.advance(1)
    made = await created(store, tenant_id, target.id, store_clock.now(), since=since)

    [task] = await leased(store)
    first = await store.look(task, target.id, 3)
    assert await store.step_task(step_all(task, first, batch=3), LEASE)
    [task] = await leased(store)
    assert task.cursor == first[-1].position
    assert (task.done, task.recovered, task.total, task.status) == (3, 3, 3, "running")
    rest = await store.look(task, target.id, 3)
    assert [item.position.event_id for item in rest] == ["e3", "e4"]
    assert await store.step_task(step_all(task, rest, batch=3), LEASE)

    finished = await store.get_task(tenant_id, target.id, made.id)
    assert finished is not None
    assert (finished.status, finished.done, finished.recovered) == ("done", 5, 5)
    assert finished.finished_at is not None
    assert await leased(store) == []
    recovered = [item for item in await history(store, tenant_id, target.id) if item.task_id]
    assert sorted(item.event_id for item in recovered) == [f"e{n}" for n in range(5)]
    assert {item.task_id for item in recovered} == {made.id}
    assert all(item.status == "pending" and item.next_attempt_at for item in recovered)
    assert sorted(item.event_id for item in await claim(store)) == [f"e{n}" for n in range(5)]


async def test_a_step_from_a_stale_cursor_stores_nothing(store: Store, store_clock: Clock) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    since = store_clock.now()
    await publish(store, tenant_id, event(tenant_id, "e1"), event(tenant_id, "e2"), due=None)
    store_clock.advance(1)
    await created(store, tenant_id, target.id, store_clock.now(), since=since)
    [task] = await leased(store)
    looked = await store.look(task, target.id, 1)
    assert await store.step_task(step_all(task, looked, batch=1), LEASE)

    # The same step again (a runner that lost track, say) finds the cursor moved on.
    assert not await store.step_task(step_all(task, looked, batch=1), LEASE)

    assert [item.task_id is not None for item in await history(store, tenant_id, target.id)].count(
        True
    ) == 1


async def test_the_backlog_counts_deliveries_with_a_due_time_up_to_a_bound(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    await publish(store, tenant_id, *(event(tenant_id) for _ in range(4)))
    await publish(store, tenant_id, event(tenant_id), due=None)

    assert await store.backlog(target.id, 100) == 4
    assert await store.backlog(target.id, 3) == 3


async def test_events_of_reads_the_tenants_events(store: Store) -> None:
    tenant_id, other_id = await tenant(store), await tenant(store, "other")
    mine = event(tenant_id, "e1", data={"id": "app-1"})
    await store.publish(tenant_id, [mine])
    await store.publish(other_id, [event(other_id, "e2")])

    assert await store.events_of(tenant_id, ["e1", "e2", "e3"]) == [mine]
    assert await store.events_of(tenant_id, []) == []


async def test_finished_tasks_are_purged_after_the_retention(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id)
    done = await created(store, tenant_id, target.id, store_clock.now())
    [task] = await leased(store)
    assert await store.step_task(step_all(task, []), LEASE)
    unfinished = await created(store, tenant_id, target.id, store_clock.now())

    assert await store.purge_tasks(store_clock.now() - HOUR, 100) == 0
    assert await store.purge_tasks(store_clock.now() + HOUR, 100) == 1
    assert await store.get_task(tenant_id, target.id, done.id) is None
    assert await store.get_task(tenant_id, target.id, unfinished.id) is not None


async def test_a_recover_of_an_ordered_webhook_queues_in_the_windows_order(
    store: Store, store_clock: Clock
) -> None:
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, ordering="fifo")
    since = store_clock.now()
    names = ["m", "c", "x", "a"]
    await publish(store, tenant_id, *(event(tenant_id, name) for name in names), due=None)
    store_clock.advance(1)
    await created(store, tenant_id, target.id, store_clock.now(), since=since)

    [task] = await leased(store)
    assert await store.step_task(step_all(task, await store.look(task, target.id, 10)), LEASE)
    sent: list[str] = []
    while claimed := await claim(store):
        assert len(claimed) == 1  # one at a time
        sent += [item.event_id for item in claimed]
        await store.record([outcome(item, status="success") for item in claimed], POLICY)
    assert sent == names
