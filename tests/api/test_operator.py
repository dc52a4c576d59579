"""The operator API: /api/v1/tenants and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.api.helpers import WEBHOOKS, assert_error, create
from tests.servers import Client, RunningServer, Tenant

TENANTS = "/api/v1/tenants"


def operator(server: RunningServer) -> Client:
    return server.client(server.operator_key)


def unique_name() -> str:
    return f"tenant-{uuid.uuid4().hex[:10]}"


def test_operator_creates_a_tenant_with_201(server: RunningServer) -> None:
    name = unique_name()

    response = operator(server).post(TENANTS, json={"name": name})

    assert response.status_code == 201, response.text
    tenant = response.json()
    assert set(tenant) == {"id", "name", "createdAt"}
    uuid.UUID(tenant["id"])
    assert tenant["name"] == name
    datetime.fromisoformat(tenant["createdAt"])


def test_operator_lists_the_tenants_it_created(server: RunningServer) -> None:
    names = [unique_name(), unique_name()]
    created = [operator(server).post(TENANTS, json={"name": n}).json() for n in names]

    response = operator(server).get(TENANTS)

    assert response.status_code == 200
    listed = response.json()["data"]
    for tenant in created:
        assert tenant in listed


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "   "}, "/name"),
        ({"name": "n" * 201}, "/name"),
        ({"name": " " + "n" * 200}, "/name"),  # counted as sent, as its schema says
        ({"name": 5}, "/name"),
    ],
)
def test_an_invalid_tenant_name_is_a_400(
    server: RunningServer, body: dict[str, object], pointer: str
) -> None:
    response = operator(server).post(TENANTS, json=body)

    assert_error(response, 400, code="invalid-input", pointer=pointer)


def test_a_tenant_name_already_taken_is_a_400(server: RunningServer) -> None:
    name = unique_name()
    assert operator(server).post(TENANTS, json={"name": name}).status_code == 201

    response = operator(server).post(TENANTS, json={"name": name})

    assert_error(response, 400, pointer="/name", detail=name)


@pytest.mark.parametrize("role", ["tenant-admin", "user", "publisher"])
def test_operator_creates_a_key_for_each_tenant_role(tenant: Tenant, role: str) -> None:
    response = operator(tenant.server).post(
        f"{TENANTS}/{tenant.id}/api-keys", json={"role": role, "userId": "someone"}
    )

    assert response.status_code == 201, response.text
    issued = response.json()
    assert set(issued) == {"id", "key", "role", "tenantId", "userId"}
    assert issued["role"] == role
    assert issued["tenantId"] == tenant.id
    assert issued["userId"] == "someone"
    assert issued["key"]


def test_a_new_key_works_at_once_and_is_bound_to_its_user(tenant: Tenant) -> None:
    issued = operator(tenant.server).post(
        f"{TENANTS}/{tenant.id}/api-keys", json={"role": "tenant-admin", "userId": "alice"}
    )
    client = tenant.server.client(issued.json()["key"])

    assert create(client)["ownerId"] == "alice"


def test_a_key_without_a_user_gets_a_generated_user(tenant: Tenant) -> None:
    first = operator(tenant.server).post(f"{TENANTS}/{tenant.id}/api-keys", json={"role": "user"})
    second = operator(tenant.server).post(f"{TENANTS}/{tenant.id}/api-keys", json={"role": "user"})

    assert first.status_code == 201, first.text
    assert first.json()["userId"]
    assert first.json()["userId"] != second.json()["userId"]
    assert first.json()["key"] != second.json()["key"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"role": "admin"}, "/role"),
        ({"role": "operator"}, "/role"),
        ({"role": "TENANT-ADMIN"}, "/role"),
        ({}, "/role"),
        ({"role": "user", "userId": " padded "}, "/userId"),
        ({"role": "user", "userId": "u" * 201}, "/userId"),
    ],
)
def test_an_invalid_key_request_is_a_400(
    tenant: Tenant, body: dict[str, object], pointer: str
) -> None:
    response = operator(tenant.server).post(f"{TENANTS}/{tenant.id}/api-keys", json=body)

    assert_error(response, 400, code="invalid-input", pointer=pointer)


def test_a_key_for_an_unknown_tenant_is_a_404(server: RunningServer) -> None:
    response = operator(server).post(
        f"{TENANTS}/00000000-0000-4000-8000-000000000000/api-keys", json={"role": "user"}
    )

    assert_error(response, 404, code="not-found")


@pytest.mark.parametrize("role", ["tenant-admin", "user", "publisher"])
def test_a_tenant_key_cannot_use_the_operator_api(tenant: Tenant, role: str) -> None:
    client = tenant.client(role)

    responses = [
        client.get(TENANTS),
        client.post(TENANTS, json={"name": unique_name()}),
        client.post(f"{TENANTS}/{tenant.id}/api-keys", json={"role": "tenant-admin"}),
    ]

    for response in responses:
        assert_error(response, 403, code="forbidden")
    assert unique_name() not in str(operator(tenant.server).get(TENANTS).json())


def test_the_operator_api_needs_a_key(server: RunningServer) -> None:
    anonymous = server.client(None)

    assert_error(anonymous.get(TENANTS), 401, code="unauthorized")
    assert_error(anonymous.post(TENANTS, json={"name": unique_name()}), 401)
    assert_error(anonymous.post(f"{TENANTS}/x/api-keys", json={"role": "user"}), 401)


def test_an_operator_key_manages_no_webhooks(server: RunningServer) -> None:
    assert_error(operator(server).get(WEBHOOKS), 403, code="forbidden")


def test_a_tenant_name_with_a_nul_character_is_a_400(server: RunningServer) -> None:
    response = operator(server).post(TENANTS, json={"name": f"bad\x00{unique_name()}"})

    assert_error(response, 400, pointer="/name")


@pytest.mark.parametrize("role", ["tenant-admin", "user", "publisher"])
def test_users_me_says_who_a_key_belongs_to(tenant: Tenant, role: str) -> None:
    me = tenant.client(role, "zoe").get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json() == {"id": "zoe", "tenantId": tenant.id, "role": role}


def test_users_me_for_an_operator_has_no_user_or_tenant(server: RunningServer) -> None:
    me = server.client(server.operator_key).get("/api/v1/users/me").json()
    assert me == {"id": None, "tenantId": None, "role": "operator"}
    assert server.client(None).get("/api/v1/users/me").status_code == 401
