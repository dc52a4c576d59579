"""A secret rotation in storage (the previous secret, sealed, and the end of the grace
period), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hookline.clock import now
from hookline.store import Store
from tests.store.factories import event
from tests.store.queueing import claim, hook, publish, tenant

UNTIL = datetime(2026, 3, 4, 5, 6, 7, 891_000, tzinfo=UTC)


async def test_a_rotating_webhook_reads_back_unchanged(store: Store) -> None:
    tenant_id = await tenant(store)
    stored = await hook(
        store,
        tenant_id,
        sealed_secret="sealed-new",
        sealed_previous_secret="sealed-old",
        secret_rotating_until=UNTIL,
    )

    found = await store.get_webhook(tenant_id, stored.id)

    assert found == stored
    assert found is not None
    assert found.secret_rotating_until == UNTIL
    assert found.secret_rotating_until.tzinfo is not None


async def test_an_update_sets_and_clears_the_rotation(store: Store) -> None:
    tenant_id = await tenant(store)
    stored = await hook(store, tenant_id, sealed_secret="sealed-old")
    rotating = dataclasses.replace(
        stored,
        sealed_secret="sealed-new",
        sealed_previous_secret="sealed-old",
        secret_rotating_until=UNTIL,
    )

    assert await store.update_webhook(rotating)
    assert await store.get_webhook(tenant_id, stored.id) == rotating

    ended = dataclasses.replace(rotating, sealed_previous_secret=None, secret_rotating_until=None)
    assert await store.update_webhook(ended)
    assert await store.get_webhook(tenant_id, stored.id) == ended


async def test_end_rotations_drops_only_the_previous_secrets_whose_grace_ended(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    other_tenant = await tenant(store, "other")
    at = now()
    ended = [
        await hook(
            store,
            owner,
            number,
            sealed_secret=f"sealed-new-{number}",
            sealed_previous_secret=f"sealed-old-{number}",
            secret_rotating_until=at - timedelta(seconds=seconds),
        )
        for number, (owner, seconds) in enumerate([(tenant_id, 1), (other_tenant, 0)])
    ]
    running = await hook(
        store,
        tenant_id,
        5,
        sealed_secret="sealed-new-5",
        sealed_previous_secret="sealed-old-5",
        secret_rotating_until=at + timedelta(milliseconds=1),
    )
    plain = await hook(store, tenant_id, 6, sealed_secret="sealed-6")

    assert await store.end_rotations(at) == 2

    for webhook in ended:
        assert await store.get_webhook(webhook.tenant_id, webhook.id) == dataclasses.replace(
            webhook, sealed_previous_secret=None, secret_rotating_until=None
        )
    assert await store.get_webhook(tenant_id, running.id) == running
    assert await store.get_webhook(tenant_id, plain.id) == plain
    assert await store.end_rotations(at) == 0


async def test_a_claim_carries_the_previous_secret_and_the_end_of_the_rotation(
    store: Store,
) -> None:
    tenant_id = await tenant(store)
    rotating = await hook(
        store,
        tenant_id,
        sealed_secret="sealed-new",
        sealed_previous_secret="sealed-old",
        secret_rotating_until=UNTIL,
    )
    plain = await hook(store, tenant_id, 1, sealed_secret="sealed-plain")
    await publish(store, tenant_id, event(tenant_id, "e1"))

    claimed = {item.webhook_id: item for item in await claim(store)}

    assert claimed[rotating.id].sealed_secret == "sealed-new"
    assert claimed[rotating.id].sealed_previous_secret == "sealed-old"
    assert claimed[rotating.id].secret_rotating_until == UNTIL
    assert claimed[plain.id].sealed_previous_secret is None
    assert claimed[plain.id].secret_rotating_until is None
