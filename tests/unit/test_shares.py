"""How a claim shares its deliveries: round-robin over tenants, then over each tenant's
webhooks, never past the limit or a webhook's or tenant's room."""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hookline.shares import Head, Room, allocate

ROOMY = 1_000


def _heads(*pairs: str) -> list[Head]:
    """Heads from "tenant/webhook" names, in the order given (longest due first)."""
    return [Head(webhook_id=pair, tenant_id=pair.split("/")[0]) for pair in pairs]


def _roomy(_: str) -> int:
    return ROOMY


def _per_tenant(shares: dict[str, int]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for webhook, count in shares.items():
        totals[webhook.split("/")[0]] += count
    return totals


def test_turns_go_round_the_tenants_then_each_tenants_webhooks() -> None:
    heads = _heads("a/1", "a/2", "a/3", "b/1")
    assert allocate(heads, 6, _roomy, _roomy) == {"a/1": 1, "a/2": 1, "a/3": 1, "b/1": 3}


def test_the_first_turns_go_to_the_longest_due() -> None:
    heads = _heads("a/1", "b/1", "a/2", "c/1")
    assert allocate(heads, 3, _roomy, _roomy) == {"a/1": 1, "b/1": 1, "c/1": 1}
    assert allocate(heads, 1, _roomy, _roomy) == {"a/1": 1}


def test_a_webhook_never_gets_more_than_its_room() -> None:
    heads = _heads("a/1", "a/2")
    rooms = {"a/1": 1, "a/2": 2}
    assert allocate(heads, 10, rooms.__getitem__, _roomy) == {"a/1": 1, "a/2": 2}


def test_a_tenant_never_gets_more_than_its_room() -> None:
    heads = _heads("a/1", "a/2", "b/1")
    rooms = {"a": 3, "b": 1}
    assert _per_tenant(allocate(heads, 10, _roomy, rooms.__getitem__)) == {"a": 3, "b": 1}


def test_nothing_to_share() -> None:
    assert allocate([], 10, _roomy, _roomy) == {}
    assert allocate(_heads("a/1"), 0, _roomy, _roomy) == {}
    assert allocate(_heads("a/1"), 5, lambda _: 0, _roomy) == {}
    assert allocate(_heads("a/1"), 5, _roomy, lambda _: -1) == {}


def test_a_full_webhook_first_in_line_costs_its_tenant_no_turn() -> None:
    heads = _heads("a/1", "b/full", "b/2", "c/1")
    rooms = {"a/1": 5, "b/full": 0, "b/2": 5, "c/1": 5}
    assert _per_tenant(allocate(heads, 3, rooms.__getitem__, _roomy)) == {"a": 1, "b": 1, "c": 1}


def test_a_room_snapshot_says_how_much_room_is_left() -> None:
    room = Room(per_webhook=3, per_tenant=5, webhooks={"a/1": 3, "a/2": 1}, tenants={"a": 4})
    assert (room.webhook_room("a/1"), room.webhook_room("a/2"), room.webhook_room("b/1")) == (
        0,
        2,
        3,
    )
    assert (room.tenant_room("a"), room.tenant_room("b")) == (1, 5)
    assert (room.full_webhooks(), room.full_tenants()) == (["a/1"], [])


def test_a_room_counts_what_is_taken_and_what_others_hold_against_the_bounds() -> None:
    room = Room(per_webhook=3, per_tenant=5, webhooks={"a/1": 1}, tenants={"a": 1})
    taken = room.with_taken([("a", "a/1"), ("a", "a/2")])
    assert (taken.webhook_room("a/1"), taken.webhook_room("a/2"), taken.tenant_room("a")) == (
        1,
        2,
        2,
    )
    held = taken.with_held(Counter({"a/2": 2, "b/1": 1}), Counter({"a": 2, "b": 1}))
    assert (held.webhook_room("a/2"), held.webhook_room("b/1")) == (0, 2)
    assert (held.tenant_room("a"), held.tenant_room("b")) == (0, 4)
    assert (held.full_webhooks(), held.full_tenants()) == (["a/2"], ["a"])


_problems = st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(-1, 6)), max_size=25).flatmap(
    lambda webhooks: st.tuples(
        st.just([(f"{tenant}/{n}", room) for n, (tenant, room) in enumerate(webhooks)]),
        st.dictionaries(st.sampled_from("abcdef"), st.integers(-1, 10)),
        st.integers(0, 40),
    )
)


@settings(max_examples=300)
@given(_problems)
@example(([("a/0", 3), ("b/1", 0), ("b/2", 3), ("c/3", 3)], {}, 3))
def test_allocation_keeps_every_bound_and_gives_every_tenant_with_room_a_turn(
    problem: tuple[list[tuple[str, int]], dict[str, int], int],
) -> None:
    webhooks, tenant_rooms, limit = problem
    heads = _heads(*(name for name, _ in webhooks))
    webhook_room = dict(webhooks)

    def tenant_room(tenant: str) -> int:
        return tenant_rooms.get(tenant, 3)

    shares = allocate(heads, limit, webhook_room.__getitem__, tenant_room)

    assert sum(shares.values()) <= limit
    assert all(0 < count <= webhook_room[name] for name, count in shares.items())
    per_tenant = _per_tenant(shares)
    assert all(count <= tenant_room(tenant) for tenant, count in per_tenant.items())
    # as much as the bounds let through
    capacity = Counter[str]()
    for name, room in webhooks:
        capacity[name.split("/")[0]] += max(room, 0)
    can_take = {
        tenant: min(total, max(tenant_room(tenant), 0)) for tenant, total in capacity.items()
    }
    assert sum(shares.values()) == min(limit, sum(can_take.values()))
    # a turn for every tenant that can take one, when there are turns enough
    waiting = {tenant for tenant, room in can_take.items() if room > 0}
    if limit >= len(waiting):
        assert waiting <= set(per_tenant)
