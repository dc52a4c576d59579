"""Every documented operation × {the caller's own tenant's ids, another tenant's ids} × each
role: the status SPEC names, and never a leak.

Each case builds a fresh pair of tenants, A (the caller's) and B (another), each with a
tenant-level webhook that has one delivery. The caller holds a key of its role in A (an
operator key belongs to no tenant). "own" aims the operation at A's ids, "other" at B's.
A response may never show what the caller could not already know: the name or URL of a
webhook it may not see, or its delivery's request body. After a refused operation
nothing has changed, and B's webhook never changes.

The operations come from the app's OpenAPI document: a new route without a row in
EXPECTED fails `test_every_documented_operation_has_a_row`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.helpers import APP_CREATED, WEBHOOKS, create, get, webhook_body
from tests.servers import Client, RunningServer, Tenant, eventually

ROLES = ("tenant-admin", "user", "publisher", "operator")
SCOPES = ("own", "other")
Statuses = dict[str, tuple[int, int]]  # role -> (status on own ids, status on other ids)

ADMIN_ONLY = {"tenant-admin": (200, 404), "user": (404, 404), "publisher": (403, 403)}
OPERATOR_ONLY = {"tenant-admin": (403, 403), "user": (403, 403), "publisher": (403, 403)}
PUBLIC = dict.fromkeys(ROLES, (200, 200))

# (method, path) -> role -> (own, other). Webhook routes: TenantAdmin only; a User sees no
# tenant-level webhook (404, as a foreign id); publisher and operator keys are refused (403).
EXPECTED: dict[tuple[str, str], Statuses] = {
    ("GET", "/api/v1/webhooks"): {
        "tenant-admin": (200, 200),
        "user": (200, 200),
        "publisher": (403, 403),
        "operator": (403, 403),
    },
    ("POST", "/api/v1/webhooks"): {
        # other: a user-level webhook for B's user, who is unknown in A
        "tenant-admin": (201, 400),
        "user": (201, 403),
        "publisher": (403, 403),
        "operator": (403, 403),
    },
    ("GET", "/api/v1/webhooks/event-types"): {
        "tenant-admin": (200, 200),
        "user": (200, 200),
        "publisher": (200, 200),
        "operator": (200, 200),
    },
    ("GET", "/api/v1/webhooks/{id}"): {**ADMIN_ONLY, "operator": (403, 403)},
    ("PUT", "/api/v1/webhooks/{id}"): {**ADMIN_ONLY, "operator": (403, 403)},
    ("PATCH", "/api/v1/webhooks/{id}"): {
        **ADMIN_ONLY,
        "tenant-admin": (204, 404),
        "operator": (403, 403),
    },
    ("DELETE", "/api/v1/webhooks/{id}"): {
        **ADMIN_ONLY,
        "tenant-admin": (204, 404),
        "operator": (403, 403),
    },
    ("GET", "/api/v1/webhooks/{id}/deliveries"): {**ADMIN_ONLY, "operator": (403, 403)},
    ("GET", "/api/v1/webhooks/{id}/deliveries/{deliveryId}"): {
        **ADMIN_ONLY,
        "operator": (403, 403),
    },
    ("GET", "/api/v1/webhooks/{id}/stats"): {**ADMIN_ONLY, "operator": (403, 403)},
    ("POST", "/api/v1/webhooks/{id}/deliveries/{deliveryId}/actions/resend"): {
        **ADMIN_ONLY,
        "tenant-admin": (201, 404),
        "operator": (403, 403),
    },
    ("POST", "/api/v1/webhooks/{id}/actions/rotate-secret"): {
        **ADMIN_ONLY,
        "operator": (403, 403),
    },
    ("POST", "/api/v1/webhooks/{id}/actions/test"): {
        **ADMIN_ONLY,
        "tenant-admin": (201, 404),
        "operator": (403, 403),
    },
    ("POST", "/api/v1/webhooks/{id}/actions/recover"): {
        **ADMIN_ONLY,
        "tenant-admin": (202, 404),
        "operator": (403, 403),
    },
    ("GET", "/api/v1/webhooks/{id}/tasks"): {**ADMIN_ONLY, "operator": (403, 403)},
    ("GET", "/api/v1/webhooks/{id}/tasks/{taskId}"): {**ADMIN_ONLY, "operator": (403, 403)},
    ("POST", "/api/v1/events"): {
        # a tenant key always publishes into its own tenant, whatever ?tenantId says
        "tenant-admin": (202, 202),
        "user": (403, 403),
        "publisher": (202, 202),
        "operator": (202, 202),
    },
    ("GET", "/api/v1/users/me"): PUBLIC,
    ("GET", "/api/v1/tenants"): {**OPERATOR_ONLY, "operator": (200, 200)},
    ("POST", "/api/v1/tenants"): {**OPERATOR_ONLY, "operator": (201, 201)},
    ("POST", "/api/v1/tenants/{tenantId}/api-keys"): {**OPERATOR_ONLY, "operator": (201, 201)},
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
}


@dataclass
class Side:
    """One tenant of a case: its admin, its tenant-level webhook and that one's delivery."""

    tenant: Tenant
    admin: Client
    webhook: dict[str, Any]
    delivery_id: str
    user_id: str
    task_id: str | None = None  # a recover task of the webhook, made on first use

    def task(self) -> str:
        """The id of a recover task of the webhook (of a window before its event)."""
        if self.task_id is None:
            until = datetime.now(UTC) - timedelta(minutes=5)
            window = {"since": (until - timedelta(hours=1)).isoformat(), "until": until.isoformat()}
            made = self.admin.post(f"{WEBHOOKS}/{self.webhook['id']}/actions/recover", json=window)
            assert made.status_code == 202, made.text
            self.task_id = made.json()["id"]
        return self.task_id

    @property
    def secrets(self) -> list[str]:
        """What only those who may see the webhook know."""
        return [self.webhook["name"], self.webhook["url"], self.delivery_id]


def _side(server: RunningServer) -> Side:
    tenant = server.new_tenant()
    admin = tenant.client()
    marker = uuid.uuid4().hex
    webhook = create(
        admin,
        name=f"private-{marker}",
        url=f"https://hooks.example.invalid/{marker}",
        eventTypes=[APP_CREATED],
    )
    published = admin.post("/api/v1/events", json={"type": APP_CREATED, "data": {"id": marker}})
    assert published.status_code == 202, published.text
    deliveries: list[dict[str, Any]] = []

    def fanned_out() -> bool:  # the fan-out comes a moment after the 202
        deliveries[:] = admin.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["data"]
        return bool(deliveries)

    assert eventually(fanned_out)
    user_id = f"user-{marker[:8]}"
    tenant.key("user", user_id)
    return Side(tenant, admin, webhook, deliveries[0]["id"], user_id)


@dataclass
class World:
    """The caller's tenant (``mine``), another (``theirs``), and a key of each role."""

    server: RunningServer
    mine: Side
    theirs: Side
    clients: dict[str, Client]


def _world(server: RunningServer) -> World:
    mine, theirs = _side(server), _side(server)
    clients = {
        role: server.client(server.operator_key)
        if role == "operator"
        else mine.tenant.client(role, mine.user_id if role == "user" else None)
        for role in ROLES
    }
    return World(server, mine, theirs, clients)


@pytest.fixture(scope="module")
def shared_world(server: RunningServer) -> World:
    """For the cases that change nothing: reused, which keeps the matrix fast."""
    return _world(server)


def _request(client: Client, method: str, path: str, target: Side) -> httpx.Response:
    """The operation aimed at ``target``'s ids, with a body that is valid on its own."""
    url = path.format(
        id=target.webhook["id"],
        deliveryId=target.delivery_id,
        tenantId=target.tenant.id,
        taskId=target.task() if "{taskId}" in path else "",
    )
    params: dict[str, str] = {}
    body: Any = None
    if (method, path) == ("POST", WEBHOOKS):
        body = webhook_body(level="user", ownerId=target.user_id)
    elif method == "PUT":
        body = webhook_body(url="https://hooks.example.invalid/taken")
    elif method == "PATCH":
        body = [{"op": "replace", "path": "/name", "value": "taken"}]
    elif path == "/api/v1/events":
        body = {"type": APP_CREATED, "data": {"id": "isolation"}}
        params = {"tenantId": target.tenant.id}
    elif path == "/api/v1/tenants" and method == "POST":
        body = {"name": f"t-{uuid.uuid4().hex[:10]}"}
    elif path.endswith("/api-keys"):
        body = {"role": "tenant-admin"}
    elif path.endswith("/actions/recover"):
        body = {"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    elif path == WEBHOOKS:
        params = {"ownerId": target.user_id, "limit": "100"}
    return client.request(method, url, params=params, json=body)


CASES = [
    pytest.param(method, path, role, scope, id=f"{method} {path} {role} {scope}")
    for (method, path) in EXPECTED
    for role in ROLES
    for scope in SCOPES
]


@pytest.mark.parametrize(("method", "path", "role", "scope"), CASES)
def test_operation_status_and_no_leak(
    server: RunningServer, shared_world: World, method: str, path: str, role: str, scope: str
) -> None:
    expected = EXPECTED[(method, path)][role][SCOPES.index(scope)]
    changes_something = method != "GET" and expected < 300
    world = _world(server) if changes_something else shared_world
    mine, theirs = world.mine, world.theirs

    response = _request(world.clients[role], method, path, mine if scope == "own" else theirs)

    assert response.status_code == expected, response.text
    _assert_no_leak(response, _hidden_from(role, mine, theirs, scope))
    assert get(theirs.admin, theirs.webhook["id"]) == theirs.webhook
    if not (path == "/api/v1/events" and role == "operator" and scope == "other"):
        assert _deliveries(theirs) == [theirs.delivery_id]  # nothing published into B
    if not changes_something:
        assert get(mine.admin, mine.webhook["id"]) == mine.webhook
        assert _deliveries(mine) == [mine.delivery_id]


def _hidden_from(role: str, mine: Side, theirs: Side, scope: str) -> list[str]:
    """What the caller may not learn. The ids it sent itself it knows already."""
    hidden = [theirs.webhook["name"], theirs.webhook["url"]]
    if scope == "own":
        hidden.append(theirs.delivery_id)
    if role != "tenant-admin":
        hidden += [mine.webhook["name"], mine.webhook["url"]]
    return hidden


def _assert_no_leak(response: httpx.Response, hidden: list[str]) -> None:
    text = response.text
    leaked = [value for value in hidden if value in text]
    assert not leaked, f"{leaked} in {text[:2000]}"


def _deliveries(side: Side) -> list[str]:
    response = side.admin.get(f"{WEBHOOKS}/{side.webhook['id']}/deliveries")
    return [delivery["id"] for delivery in response.json()["data"]]


def test_every_documented_operation_has_a_row(server: RunningServer) -> None:
    document = server.client(None).get("/openapi.json").json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    assert documented == set(EXPECTED)


def test_a_user_key_lists_no_tenant_level_webhook_or_delivery(server: RunningServer) -> None:
    world = _world(server)
    mine, user = world.mine, world.clients["user"]
    own = create(user, level="user")

    listed = user.get(WEBHOOKS, params={"limit": 100}).json()["data"]
    tenant_level = user.get(WEBHOOKS, params={"level": "tenant"}).json()["data"]

    assert [webhook["id"] for webhook in listed] == [own["id"]]
    assert tenant_level == []
    deliveries = user.get(f"{WEBHOOKS}/{mine.webhook['id']}/deliveries")
    assert deliveries.status_code == 404
    _assert_no_leak(deliveries, mine.secrets)
