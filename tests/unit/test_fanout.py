"""Fan-out's decisions, on a store that only answers: which deliveries each leased event
makes, in which envelope, and which user a deletion names."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import cast

from hookline.events import Event
from hookline.fanout import Expander, FanoutLimits, deleted_owner, delivery
from hookline.store import Store
from hookline.store.base import Expansion, Pending
from hookline.webhooks import Webhook
from tests.store.factories import webhook

AT = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = AT + timedelta(minutes=2)
APP_CREATED = "com.qlik.v1.app.created"
USER_DELETED = "com.qlik.v1.user.deleted"
DEFAULTS = FanoutLimits()


def _event(event_id: str, type_: str = APP_CREATED, owner_id: str | None = None) -> Event:
    return Event(
        id=event_id,
        tenant_id="t1",
        type=type_,
        time=AT,
        source="s",
        data={"id": "a"},
        owner_id=owner_id,
    )


class _Answering:
    """The three calls fan-out makes, answered from memory; what ``expand`` got is kept."""

    def __init__(self, events: list[Event], hooks: list[Webhook]) -> None:
        self.events = events
        self.hooks = hooks
        self.expanded: list[tuple[datetime, list[Expansion]]] = []
        self.skipped: list[str] = []

    async def claim_fanout(
        self, *, limit: int, per_tenant: int, lease_seconds: float, skip: Collection[str] = ()
    ) -> Pending:
        self.skipped = list(skip)
        waiting = [event for event in self.events if event.tenant_id not in skip]
        leased = waiting[:limit]
        self.events = [event for event in self.events if event not in leased]
        return Pending(leased, LEASE)

    async def subscribed(self, tenant_id: str, types: Collection[str]) -> list[Webhook]:
        return [hook for hook in self.hooks if set(hook.event_types) & set(types)]

    async def expand(self, lease: datetime, expansions: list[Expansion]) -> int:
        self.expanded.append((lease, expansions))
        return sum(len(item.deliveries) for item in expansions)


async def _expand(
    events: list[Event], hooks: list[Webhook], limits: FanoutLimits = DEFAULTS
) -> _Answering:
    store = _Answering(events, hooks)
    assert await Expander(cast(Store, store), limits).expand_some() == min(
        len(events), limits.events_per_round
    )
    return store


async def test_each_event_makes_one_due_delivery_per_webhook_it_reaches() -> None:
    legacy = webhook("t1", 1)
    cloud = webhook("t1", 2, enable_cloud_event_delivery=True)
    someone_elses = webhook("t1", 3, level="user", owner_id="bob")
    filtered_out = webhook("t1", 4, filter='id eq "other"')
    published = _event("e1", owner_id="alice")
    store = await _expand([published], [legacy, cloud, someone_elses, filtered_out])

    [(lease, [expansion])] = store.expanded
    assert lease == LEASE
    assert expansion.event == published
    assert expansion.deleted_owner is None
    by_hook = {made.webhook_id: made for made in expansion.deliveries}
    assert sorted(by_hook) == sorted([legacy.id, cloud.id])
    assert (by_hook[legacy.id].cloud_events, by_hook[cloud.id].cloud_events) == (False, True)
    for made in expansion.deliveries:
        assert (made.tenant_id, made.event_id, made.event_type) == ("t1", "e1", APP_CREATED)
        assert made.next_attempt_at == made.triggered_at


async def test_a_big_fan_out_is_stored_in_bounded_groups_under_one_lease() -> None:
    hooks = [webhook("t1", n) for n in range(3)]
    events = [_event(f"e{n}") for n in range(5)]
    store = await _expand(events, hooks, FanoutLimits(rows_per_transaction=6))

    assert [lease for lease, _ in store.expanded] == [LEASE] * 3
    assert [[item.event.id for item in group] for _, group in store.expanded] == [
        ["e0", "e1"],
        ["e2", "e3"],
        ["e4"],
    ]


async def test_a_tenant_past_its_deliveries_a_second_waits_and_the_others_go_on() -> None:
    hooks = [webhook("t1", n) for n in range(10)]
    store = _Answering([_event(f"e{n}") for n in range(5)], hooks)
    limits = FanoutLimits(events_per_round=2, tenant_deliveries_per_second=1)  # burst: 10
    expander = Expander(cast(Store, store), limits)

    assert await expander.expand_some() == 2  # 20 deliveries: 10 more than its burst
    assert await expander.expand_some() == 0  # t1's events wait
    assert store.skipped == ["t1"]


async def test_nothing_waiting_stores_nothing() -> None:
    store = await _expand([], [webhook("t1")])
    assert store.expanded == []


async def test_a_user_deletion_names_the_user_whose_webhooks_go() -> None:
    store = await _expand([_event("e1", USER_DELETED)], [])
    [(_, [expansion])] = store.expanded
    assert (expansion.deleted_owner, expansion.deliveries) == ("a", [])
    assert deleted_owner(_event("e2")) is None


def test_a_delivery_is_due_when_it_is_triggered() -> None:
    hook = webhook("t1", enable_cloud_event_delivery=True)
    made = delivery(_event("e1"), hook, AT)
    assert (made.webhook_id, made.cloud_events, made.triggered_at, made.next_attempt_at) == (
        hook.id,
        True,
        AT,
        AT,
    )
    assert made.id != delivery(_event("e1"), hook, AT).id
