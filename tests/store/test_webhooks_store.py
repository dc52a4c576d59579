"""Webhooks in storage, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from hookline.errors import LimitReached
from hookline.paging import Sort
from hookline.store import Caps, Store, WebhookQuery
from hookline.webhooks import Webhook
from tests.store.factories import webhook

ROOMY = Caps(per_tenant=1000, per_user=1000)


async def _tenant(store: Store, name: str = "acme") -> str:
    return (await store.create_tenant(name)).id


async def test_a_stored_webhook_reads_back_unchanged(store: Store) -> None:
    tenant_id = await _tenant(store)
    stored = webhook(
        tenant_id,
        headers={"X-A": "1", "x-b": "日本"},
        encrypted_header_names=("X-Tok",),
        sealed_secret="sealed-secret",
        sealed_encrypted_headers="sealed-headers",
        event_types=("com.qlik.v1.app.created", "com.qlik.v1.user.deleted"),
        filter='id eq "a1"',
        level="user",
        owner_id="alice",
        origin="management-console",
        enable_cloud_event_delivery=True,
        disabled_reason="the endpoint answered 410 Gone",
        disabled_reason_code="endpoint-gone",
        enabled=False,
    )
    await store.insert_webhook(stored, ROOMY)
    assert await store.get_webhook(tenant_id, stored.id) == stored


async def test_a_webhook_is_invisible_from_another_tenant(store: Store) -> None:
    tenant_id = await _tenant(store)
    other_id = await _tenant(store, "other")
    stored = webhook(tenant_id)
    await store.insert_webhook(stored, ROOMY)
    assert await store.get_webhook(other_id, stored.id) is None
    assert not await store.delete_webhook(other_id, stored.id)
    assert not await store.update_webhook(dataclasses.replace(stored, tenant_id=other_id))
    assert await store.get_webhook(tenant_id, stored.id) == stored


async def test_an_update_replaces_every_field_and_the_event_types(store: Store) -> None:
    tenant_id = await _tenant(store)
    stored = webhook(tenant_id)
    await store.insert_webhook(stored, ROOMY)
    changed = dataclasses.replace(
        stored,
        name="renamed",
        event_types=("com.qlik.v1.app.deleted",),
        headers={"X-New": "v"},
        updated_at=stored.updated_at + timedelta(seconds=1),
    )
    assert await store.update_webhook(changed)
    assert await store.get_webhook(tenant_id, stored.id) == changed
    page = await store.list_webhooks(
        WebhookQuery(tenant_id, event_types=("com.qlik.v1.app.created",))
    )
    assert page.items == []


async def test_a_webhook_subscribed_to_nothing_is_stored_and_reached_by_no_event(
    store: Store,
) -> None:
    """eventTypes left out (Qlik's types make it optional): no subscription rows, read back
    as none, and no event type fans out to it, until it is given some."""
    tenant_id = await _tenant(store)
    bare = webhook(tenant_id, event_types=())
    await store.insert_webhook(bare, ROOMY)
    every_type = ("com.qlik.v1.app.created", "com.qlik.v1.app.deleted")

    assert await store.get_webhook(tenant_id, bare.id) == bare
    assert await store.subscribed(tenant_id, every_type) == []
    given = dataclasses.replace(bare, event_types=every_type[:1])
    assert await store.update_webhook(given)
    assert [hook.id for hook in await store.subscribed(tenant_id, every_type)] == [bare.id]
    assert await store.update_webhook(bare)
    assert await store.get_webhook(tenant_id, bare.id) == bare
    assert await store.subscribed(tenant_id, every_type) == []


async def test_a_deleted_webhook_is_gone(store: Store) -> None:
    tenant_id = await _tenant(store)
    stored = webhook(tenant_id)
    await store.insert_webhook(stored, ROOMY)
    assert await store.delete_webhook(tenant_id, stored.id)
    assert await store.get_webhook(tenant_id, stored.id) is None
    assert not await store.delete_webhook(tenant_id, stored.id)
    assert (await store.list_webhooks(WebhookQuery(tenant_id))).items == []


async def test_the_tenant_cap_refuses_the_next_webhook(store: Store) -> None:
    tenant_id = await _tenant(store)
    caps = Caps(per_tenant=2, per_user=10)
    for number in range(2):
        await store.insert_webhook(webhook(tenant_id, number, owner_id=f"u{number}"), caps)
    with pytest.raises(LimitReached, match="at most 2 webhooks"):
        await store.insert_webhook(webhook(tenant_id, 3), caps)


async def test_the_user_cap_counts_only_that_users_webhooks(store: Store) -> None:
    tenant_id = await _tenant(store)
    caps = Caps(per_tenant=10, per_user=2)
    for number in range(2):
        await store.insert_webhook(webhook(tenant_id, number, owner_id="alice"), caps)
    with pytest.raises(LimitReached, match="user may own at most 2"):
        await store.insert_webhook(webhook(tenant_id, 3, owner_id="alice"), caps)
    await store.insert_webhook(webhook(tenant_id, 4, owner_id="bob"), caps)


async def test_concurrent_creates_never_pass_the_cap(store: Store) -> None:
    tenant_id = await _tenant(store)
    caps = Caps(per_tenant=5, per_user=100)
    outcomes = await asyncio.gather(
        *(store.insert_webhook(webhook(tenant_id, n), caps) for n in range(12)),
        return_exceptions=True,
    )
    refused = [outcome for outcome in outcomes if isinstance(outcome, LimitReached)]
    assert len(refused) == 7
    assert len((await store.list_webhooks(WebhookQuery(tenant_id, limit=100))).items) == 5


async def _stored(store: Store, tenant_id: str, hooks: list[Webhook]) -> None:
    for hook in hooks:
        await store.insert_webhook(hook, ROOMY)


async def _ids(store: Store, query: WebhookQuery) -> set[str]:
    return {hook.id for hook in (await store.list_webhooks(query)).items}


async def test_list_filters_each_narrow_the_result(store: Store) -> None:
    tenant_id = await _tenant(store)
    app_created, app_deleted = "com.qlik.v1.app.created", "com.qlik.v1.app.deleted"
    a = webhook(tenant_id, 1, name="Production Hook", url="https://PROD.example.com/x")
    b = webhook(
        tenant_id,
        2,
        enabled=False,
        event_types=(app_created, app_deleted),
        origin="automations",
        level="user",
        owner_id="alice",
        created_by_user_id="alice",
        updated_by_user_id="bob",
    )
    c = webhook(tenant_id, 3, name="100%_sure", event_types=(app_deleted,))
    await _stored(store, tenant_id, [a, b, c])
    q = WebhookQuery
    assert await _ids(store, q(tenant_id, name="prod")) == {a.id}
    assert await _ids(store, q(tenant_id, url="prod.EXAMPLE")) == {a.id}
    assert await _ids(store, q(tenant_id, name="%_")) == {c.id}
    assert await _ids(store, q(tenant_id, name="_")) == {c.id}
    assert await _ids(store, q(tenant_id, enabled=False)) == {b.id}
    assert await _ids(store, q(tenant_id, event_types=(app_created, app_deleted))) == {b.id}
    assert await _ids(store, q(tenant_id, event_types=(app_deleted,))) == {b.id, c.id}
    assert await _ids(store, q(tenant_id, level="user")) == {b.id}
    assert await _ids(store, q(tenant_id, origins=("automations", "management-console"))) == {b.id}
    assert await _ids(store, q(tenant_id, owner_id="alice")) == {b.id}
    assert await _ids(store, q(tenant_id, created_by_user_id="alice")) == {b.id}
    assert await _ids(store, q(tenant_id, updated_by_user_id="bob")) == {b.id}
    assert await _ids(store, q(tenant_id, only_owned_by="alice")) == {b.id}
    assert await _ids(store, q(tenant_id, only_owned_by="admin")) == set()


SORTS = [
    Sort(key, descending)
    for key in ("name", "url", "createdAt", "updatedAt")
    for descending in (False, True)
]


@pytest.mark.parametrize("sort", SORTS, ids=str)
async def test_pages_walk_every_webhook_once_in_order_both_ways(store: Store, sort: Sort) -> None:
    tenant_id = await _tenant(store)
    # names and urls sort differently from creation time; two share a creation time
    hooks = [
        webhook(
            tenant_id,
            number,
            name=f"Hook-{(number * 7) % 10}",
            url=f"https://x{(number * 3) % 10}.example.com",
        )
        for number in range(10)
    ]
    hooks.append(
        dataclasses.replace(webhook(tenant_id, 4), name="hook-x", url="https://y.example.com")
    )
    await _stored(store, tenant_id, hooks)
    expected = [hook.id for hook in sorted(hooks, key=_sort_key(sort), reverse=sort.descending)]

    forward: list[str] = []
    pages = []
    page = await store.list_webhooks(WebhookQuery(tenant_id, sort=sort, limit=3))
    assert page.prev is None
    while True:
        pages.append(page)
        forward += [hook.id for hook in page.items]
        if page.next is None:
            break
        page = await store.list_webhooks(
            WebhookQuery(tenant_id, sort=sort, limit=3, cursor=page.next)
        )
    assert forward == expected
    assert len(pages) == 4

    backward: list[str] = []
    while page.prev is not None:
        page = await store.list_webhooks(
            WebhookQuery(tenant_id, sort=sort, limit=3, cursor=page.prev)
        )
        backward = [hook.id for hook in page.items] + backward
    assert backward == expected[:9]


def _sort_key(sort: Sort) -> Callable[[Webhook], tuple[Any, str]]:
    attribute = {
        "name": "name",
        "url": "url",
        "createdAt": "created_at",
        "updatedAt": "updated_at",
    }[sort.key]

    def key(hook: Webhook) -> tuple[Any, str]:
        value = getattr(hook, attribute)
        return (value.lower() if isinstance(value, str) else value, hook.id)

    return key
