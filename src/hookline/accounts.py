"""Tenants, users and API keys: the operator's side, shared by the CLI and the operator API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hookline.auth import Principal, Role, digest, new_api_key
from hookline.clock import now
from hookline.errors import InvalidInput, NotFound, Unauthenticated
from hookline.store import ApiKey, Store, Tenant

BOOTSTRAP_TENANT = "default"
BOOTSTRAP_USER = "admin"
MAX_TENANT_NAME_LENGTH = 200


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``key`` is shown once and never stored."""

    id: str
    key: str
    role: Role
    tenant_id: str | None
    user_id: str | None


async def create_tenant(store: Store, name: str) -> Tenant:
    if len(name) > MAX_TENANT_NAME_LENGTH or not (name := name.strip()):
        raise InvalidInput.one(
            "/name", f"a tenant name is 1 to {MAX_TENANT_NAME_LENGTH} characters"
        )
    return await store.create_tenant(name)


async def issue_key(
    store: Store, role: Role, tenant: Tenant | None = None, user_id: str | None = None
) -> IssuedKey:
    """A new API key for ``role``; tenant keys get a user (created if new, named if not given)."""
    if role is Role.OPERATOR:
        if tenant is not None or user_id is not None:
            raise InvalidInput.one("/role", "an operator key belongs to no tenant or user")
    elif tenant is None:
        raise InvalidInput.one("/tenant", f"a {role} key needs a tenant")
    else:
        user_id = _valid_user_id(user_id or f"{role}-{uuid.uuid4().hex[:12]}")
        await store.ensure_user(tenant.id, user_id)
    key = new_api_key()
    record = ApiKey(
        str(uuid.uuid4()), digest(key), role, tenant.id if tenant else None, user_id, now()
    )
    await store.add_api_key(record)
    return IssuedKey(record.id, key, role, record.tenant_id, user_id)


def _valid_user_id(user_id: str) -> str:
    if not 1 <= len(user_id) <= 200 or not user_id.isprintable() or user_id != user_id.strip():
        raise InvalidInput.one("/userId", "a user id is 1 to 200 printable characters")
    return user_id


async def tenant_by_name(store: Store, name: str) -> Tenant:
    tenant = await store.find_tenant(name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}")
    return tenant


async def authenticate(store: Store, key: str | None) -> Principal:
    if not key:
        raise Unauthenticated("an API key is required (Authorization: Bearer <key>)")
    principal = await store.find_principal(digest(key))
    if principal is None:
        raise Unauthenticated("the API key is unknown or revoked")
    return principal


async def bootstrap(store: Store) -> IssuedKey | None:
    """On a database with no keys yet, create the default tenant and its first admin key.
    Of several processes starting together on one database, one does."""
    if await store.has_api_keys():
        return None
    try:
        tenant = await store.create_tenant(BOOTSTRAP_TENANT)
    except InvalidInput:  # another process made it, or an operator did
        return None
    return await issue_key(store, Role.TENANT_ADMIN, tenant, BOOTSTRAP_USER)
