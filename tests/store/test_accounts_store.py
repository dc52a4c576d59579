"""Tenants, users and API keys, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from hookline.auth import Principal, Role
from hookline.clock import now
from hookline.errors import InvalidInput
from hookline.store import ApiKey, Store


async def test_a_tenant_is_found_by_id_and_by_name(store: Store) -> None:
    tenant = await store.create_tenant("acme")
    assert await store.get_tenant(tenant.id) == tenant
    assert await store.find_tenant("acme") == tenant
    assert await store.find_tenant("other") is None


async def test_tenant_names_are_unique(store: Store) -> None:
    await store.create_tenant("acme")
    with pytest.raises(InvalidInput, match="exists already"):
        await store.create_tenant("acme")
    assert [t.name for t in await store.list_tenants()] == ["acme"]


async def test_tenants_are_listed_by_name(store: Store) -> None:
    for name in ("b", "c", "a"):
        await store.create_tenant(name)
    assert [t.name for t in await store.list_tenants()] == ["a", "b", "c"]


async def test_ensuring_a_user_twice_keeps_one(store: Store) -> None:
    tenant = await store.create_tenant("acme")
    await store.ensure_user(tenant.id, "alice")
    await store.ensure_user(tenant.id, "alice")
    assert await store.user_exists(tenant.id, "alice")
    assert not await store.user_exists(tenant.id, "bob")


async def test_users_belong_to_one_tenant(store: Store) -> None:
    acme = await store.create_tenant("acme")
    other = await store.create_tenant("other")
    await store.ensure_user(acme.id, "alice")
    assert not await store.user_exists(other.id, "alice")


def _key(role: Role, tenant_id: str | None, user_id: str | None) -> ApiKey:
    return ApiKey(str(uuid.uuid4()), uuid.uuid4().hex, role, tenant_id, user_id, now())


async def test_a_key_is_found_by_its_digest_until_revoked(store: Store) -> None:
    tenant = await store.create_tenant("acme")
    key = _key(Role.USER, tenant.id, "alice")
    assert not await store.has_api_keys()
    await store.add_api_key(key)
    assert await store.has_api_keys()
    expected = Principal(key.id, Role.USER, tenant.id, "alice")
    assert await store.find_principal(key.digest) == expected
    assert await store.revoke_api_key(key.id)
    assert await store.find_principal(key.digest) is None
    assert not await store.revoke_api_key(key.id)


async def test_keys_are_listed_per_tenant(store: Store) -> None:
    acme = await store.create_tenant("acme")
    other = await store.create_tenant("other")
    mine = _key(Role.TENANT_ADMIN, acme.id, "admin")
    await store.add_api_key(mine)
    await store.add_api_key(_key(Role.PUBLISHER, other.id, "svc"))
    await store.add_api_key(_key(Role.OPERATOR, None, None))
    assert [k.id for k in await store.list_api_keys(acme.id)] == [mine.id]
    assert len(await store.list_api_keys(None)) == 3
