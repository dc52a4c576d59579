"""Who sees and changes what: tenants, roles, owners, and keys that are missing or wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.helpers import (
    APP_CREATED,
    WEBHOOKS,
    assert_error,
    create,
    get,
    listed_ids,
    webhook_body,
)
from tests.servers import Client, Tenant

EVENT_TYPES = f"{WEBHOOKS}/event-types"
Operation = Callable[[Client, str], httpx.Response]


def _put(client: Client, webhook_id: str) -> httpx.Response:
    body = {"name": "taken", "url": "https://evil.example.com/x", "eventTypes": [APP_CREATED]}
    return client.put(f"{WEBHOOKS}/{webhook_id}", json=body)


def _patch(client: Client, webhook_id: str) -> httpx.Response:
    operations = [{"op": "replace", "path": "/name", "value": "taken"}]
    return client.patch(f"{WEBHOOKS}/{webhook_id}", json=operations)


# Every operation on one webhook, by name.
ON_ONE: dict[str, Operation] = {
    "get": lambda client, webhook_id: client.get(f"{WEBHOOKS}/{webhook_id}"),
    "put": _put,
    "patch": _patch,
    "delete": lambda client, webhook_id: client.delete(f"{WEBHOOKS}/{webhook_id}"),
    "rotate-secret": lambda client, webhook_id: client.post(
        f"{WEBHOOKS}/{webhook_id}/actions/rotate-secret", json={}
    ),
    "stats": lambda client, webhook_id: client.get(f"{WEBHOOKS}/{webhook_id}/stats"),
    "test": lambda client, webhook_id: client.post(
        f"{WEBHOOKS}/{webhook_id}/actions/test", json={}
    ),
    "recover": lambda client, webhook_id: client.post(
        f"{WEBHOOKS}/{webhook_id}/actions/recover",
        json={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    ),
    "tasks": lambda client, webhook_id: client.get(f"{WEBHOOKS}/{webhook_id}/tasks"),
}
# Every webhook operation (the id is used where the operation needs one).
EVERY: dict[str, Operation] = {
    "list": lambda client, _: client.get(WEBHOOKS),
    "create": lambda client, _: client.post(WEBHOOKS, json=webhook_body(level="user")),
    **ON_ONE,
}


class TestAnotherTenant:
    @pytest.mark.parametrize("operation", ON_ONE)
    def test_a_foreign_webhook_id_is_a_404_and_nothing_changes(
        self, tenant: Tenant, operation: str
    ) -> None:
        owner = tenant.client()
        webhook = create(owner)
        stranger = tenant.server.new_tenant().client()

        response = ON_ONE[operation](stranger, webhook["id"])

        assert_error(response, 404, code="not-found")
        assert get(owner, webhook["id"]) == webhook

    def test_a_list_shows_only_the_callers_tenant(self, tenant: Tenant) -> None:
        mine = create(tenant.client("tenant-admin", "admin"))
        other = tenant.server.new_tenant()
        theirs = create(other.client("tenant-admin", "admin"))

        assert listed_ids(tenant.client()) == [mine["id"]]
        assert listed_ids(other.client()) == [theirs["id"]]
        assert listed_ids(tenant.client(), ownerId="admin") == [mine["id"]]

    def test_a_user_of_the_same_name_in_another_tenant_sees_nothing(self, tenant: Tenant) -> None:
        webhook = create(tenant.client("user", "bob"), level="user")
        other_bob = tenant.server.new_tenant().client("user", "bob")

        assert listed_ids(other_bob) == []
        assert_error(other_bob.get(f"{WEBHOOKS}/{webhook['id']}"), 404)

    def test_an_owner_from_another_tenant_is_an_unknown_user(self, tenant: Tenant) -> None:
        tenant.server.new_tenant().key("user", "outsider")

        response = tenant.client().post(
            WEBHOOKS, json=webhook_body(level="user", ownerId="outsider")
        )

        assert_error(response, 400, pointer="/ownerId")


class TestAuthentication:
    @pytest.mark.parametrize("key", [None, "hlk_not-a-real-key"], ids=["no-key", "garbage-key"])
    @pytest.mark.parametrize("operation", [*EVERY, "event-types"])
    def test_a_missing_or_unknown_key_is_a_401(
        self, tenant: Tenant, key: str | None, operation: str
    ) -> None:
        webhook = create(tenant.client())
        anonymous = tenant.server.client(key)

        if operation == "event-types":
            response = anonymous.get(EVENT_TYPES)
        else:
            response = EVERY[operation](anonymous, webhook["id"])

        assert_error(response, 401, code="unauthorized")
        assert get(tenant.client(), webhook["id"]) == webhook

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer", "Basic dXNlcjpwYXNz", "hlk_no-scheme", "Bearer a b"],
    )
    def test_a_malformed_authorization_header_is_a_401(
        self, tenant: Tenant, authorization: str
    ) -> None:
        response = tenant.server.client(None).get(
            WEBHOOKS, headers={"Authorization": authorization}
        )

        assert_error(response, 401, code="unauthorized")

    def test_the_key_of_another_tenant_works_only_there(self, tenant: Tenant) -> None:
        other = tenant.server.new_tenant()
        key = other.key("tenant-admin")
        create(tenant.client())

        assert listed_ids(tenant.server.client(key)) == []


class TestUserKey:
    def test_a_user_cannot_create_a_tenant_level_webhook(self, tenant: Tenant) -> None:
        bob = tenant.client("user", "bob")

        for body in (webhook_body(), webhook_body(level="tenant")):
            assert_error(bob.post(WEBHOOKS, json=body), 403, code="forbidden", detail="tenant")
        assert listed_ids(tenant.client()) == []

    def test_a_user_creates_its_own_user_level_webhook(self, tenant: Tenant) -> None:
        bob = tenant.client("user", "bob")

        webhook = create(bob, level="user")

        assert webhook["level"] == "user"
        assert webhook["ownerId"] == "bob"
        assert webhook["createdByUserId"] == "bob"
        assert get(bob, webhook["id"]) == webhook

    def test_a_user_cannot_create_a_webhook_for_another_user(self, tenant: Tenant) -> None:
        tenant.key("user", "carol")
        bob = tenant.client("user", "bob")

        response = bob.post(WEBHOOKS, json=webhook_body(level="user", ownerId="carol"))

        assert_error(response, 403, code="forbidden")

    @pytest.mark.parametrize("whose", ["tenant", "other-user", "admin-user-level"])
    @pytest.mark.parametrize("operation", ON_ONE)
    def test_a_user_cannot_reach_a_webhook_it_does_not_own(
        self, tenant: Tenant, whose: str, operation: str
    ) -> None:
        admin = tenant.client("tenant-admin", "alice")
        if whose == "tenant":
            webhook = create(admin)
        elif whose == "other-user":
            webhook = create(tenant.client("user", "carol"), level="user")
        else:
            webhook = create(admin, level="user")
        bob = tenant.client("user", "bob")

        response = ON_ONE[operation](bob, webhook["id"])

        assert_error(response, 404, code="not-found")
        assert get(admin, webhook["id"]) == webhook

    def test_a_users_list_shows_only_its_own_webhooks(self, tenant: Tenant) -> None:
        admin = tenant.client("tenant-admin", "alice")
        create(admin)
        create(admin, level="user")
        create(tenant.client("user", "carol"), level="user")
        bob = tenant.client("user", "bob")
        own = create(bob, level="user")
        made_for_bob = create(admin, level="user", ownerId="bob")

        assert sorted(listed_ids(bob)) == sorted([own["id"], made_for_bob["id"]])
        assert listed_ids(bob, level="tenant") == []
        assert listed_ids(bob, ownerId="carol") == []
        assert listed_ids(bob, createdByUserId="alice") == [made_for_bob["id"]]

    def test_a_user_manages_its_own_webhook(self, tenant: Tenant) -> None:
        bob = tenant.client("user", "bob")
        webhook = create(bob, level="user")

        assert _patch(bob, webhook["id"]).status_code == 204
        replaced = _put(bob, webhook["id"])
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["ownerId"] == "bob"
        assert bob.delete(f"{WEBHOOKS}/{webhook['id']}").status_code == 204


class TestTenantAdmin:
    def test_an_admin_sees_and_manages_its_users_webhooks(self, tenant: Tenant) -> None:
        bob = tenant.client("user", "bob")
        webhook = create(bob, level="user")
        admin = tenant.client("tenant-admin", "alice")

        assert listed_ids(admin) == [webhook["id"]]
        assert listed_ids(admin, level="user", ownerId="bob") == [webhook["id"]]
        assert get(admin, webhook["id"]) == webhook
        assert _patch(admin, webhook["id"]).status_code == 204
        patched = get(bob, webhook["id"])
        assert patched["name"] == "taken"
        assert patched["updatedByUserId"] == "alice"
        assert patched["ownerId"] == "bob"
        assert admin.delete(f"{WEBHOOKS}/{webhook['id']}").status_code == 204
        assert listed_ids(bob) == []

    def test_an_admin_creating_for_an_unknown_owner_is_a_400(self, tenant: Tenant) -> None:
        response = tenant.client().post(WEBHOOKS, json=webhook_body(level="user", ownerId="nobody"))

        assert_error(response, 400, code="invalid-input", pointer="/ownerId", detail="nobody")
        assert listed_ids(tenant.client()) == []


@pytest.mark.parametrize("role", ["publisher", "operator"])
@pytest.mark.parametrize("operation", EVERY)
def test_publisher_and_operator_keys_cannot_manage_webhooks(
    tenant: Tenant, role: str, operation: str
) -> None:
    admin = tenant.client()
    webhook = create(admin)
    if role == "operator":
        client = tenant.server.client(tenant.server.operator_key)
    else:
        client = tenant.client(role)

    response = EVERY[operation](client, webhook["id"])

    assert_error(response, 403, code="forbidden")
    assert listed_ids(admin) == [webhook["id"]]
    assert get(admin, webhook["id"]) == webhook
