"""Limits that keep one caller from exhausting the server: body sizes, list lengths, and
the management API's rate limit per API key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from hookline.api.limits import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_DEPTH,
    MAX_BODY_BY_PATH,
    MAX_DEPTH_BY_PATH,
)
from tests.api.helpers import APP_CREATED, WEBHOOKS, assert_error, create, webhook_body
from tests.servers import RunningServer, Tenant, eventually

EVENTS = "/api/v1/events"
JSON = {"Content-Type": "application/json"}


def _padded_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head, tail = b'{"pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


# Every route that reads a body: (method, path template), where {id} is a webhook's id.
BODY_ROUTES = [
    ("POST", WEBHOOKS),
    ("PUT", WEBHOOKS + "/{id}"),
    ("PATCH", WEBHOOKS + "/{id}"),
    ("POST", EVENTS),
    ("POST", "/api/v1/tenants"),
    ("POST", "/api/v1/tenants/{tenant}/api-keys"),
]


@pytest.mark.parametrize(("method", "template"), BODY_ROUTES)
def test_every_body_over_its_cap_is_a_413(tenant: Tenant, method: str, template: str) -> None:
    webhook = create(tenant.client())
    path = template.format(id=webhook["id"], tenant=tenant.id)
    cap = MAX_BODY_BY_PATH.get(path, DEFAULT_MAX_BODY)
    key = tenant.server.operator_key if "tenants" in path else tenant.key("tenant-admin")
    client = tenant.server.client(key)

    response = client.request(method, path, content=_padded_body(cap + 1), headers=JSON)

    assert_error(response, 413, code="payload-too-large", detail=f"at most {cap} bytes")


@pytest.mark.parametrize(("method", "template"), BODY_ROUTES)
def test_a_body_of_exactly_its_cap_is_read(tenant: Tenant, method: str, template: str) -> None:
    webhook = create(tenant.client())
    path = template.format(id=webhook["id"], tenant=tenant.id)
    cap = MAX_BODY_BY_PATH.get(path, DEFAULT_MAX_BODY)
    key = tenant.server.operator_key if "tenants" in path else tenant.key("tenant-admin")
    client = tenant.server.client(key)

    response = client.request(method, path, content=_padded_body(cap), headers=JSON)

    assert response.status_code == 400, response.text  # read, then refused for its content


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("over", [1, 1000, 100_000])
@pytest.mark.parametrize(("method", "template"), BODY_ROUTES)
def test_every_body_nested_deeper_than_its_cap_is_a_400(
    tenant: Tenant, method: str, template: str, over: int
) -> None:
    webhook = create(tenant.client())
    path = template.format(id=webhook["id"], tenant=tenant.id)
    cap = MAX_DEPTH_BY_PATH.get(path, DEFAULT_MAX_DEPTH)
    key = tenant.server.operator_key if "tenants" in path else tenant.key("tenant-admin")
    client = tenant.server.client(key)

    response = client.request(method, path, content=_nested(cap + over), headers=JSON)

    [error] = assert_error(response, 400, code="invalid-input", pointer="/")
    assert error["detail"] == f"the request body must not be nested more than {cap} levels deep"


@pytest.mark.parametrize(("method", "template"), BODY_ROUTES)
def test_a_body_nested_as_deep_as_its_cap_is_read(
    tenant: Tenant, method: str, template: str
) -> None:
    webhook = create(tenant.client())
    path = template.format(id=webhook["id"], tenant=tenant.id)
    cap = MAX_DEPTH_BY_PATH.get(path, DEFAULT_MAX_DEPTH)
    key = tenant.server.operator_key if "tenants" in path else tenant.key("tenant-admin")
    client = tenant.server.client(key)

    response = client.request(method, path, content=_nested(cap), headers=JSON)

    assert response.status_code == 400, response.text  # read, then refused for its content
    assert "nested more than" not in response.text


def test_a_json_patch_value_nested_950_deep_is_a_400(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    value = "[" * 950 + '"x"' + "]" * 950
    body = '[{"op": "replace", "path": "/name", "value": ' + value + "}]"

    response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", content=body, headers=JSON)

    assert_error(response, 400, pointer="/", detail=f"more than {DEFAULT_MAX_DEPTH} levels")
    assert admin.get(f"{WEBHOOKS}/{webhook['id']}").json() == webhook


def test_a_deep_publish_without_a_key_is_a_401(tenant: Tenant) -> None:
    response = tenant.server.client(None).post(EVENTS, content=_nested(1000), headers=JSON)

    assert_error(response, 401)


def test_event_data_may_nest_100_levels_in_a_list_of_events(tenant: Tenant) -> None:
    data: object = "leaf"
    for _ in range(100):
        data = {"a": data}
    events = [{"type": APP_CREATED, "data": data}]

    response = tenant.client("publisher").post(EVENTS, json=events)

    assert response.status_code == 202, response.text


def _events(count: int) -> list[dict[str, object]]:
    return [{"type": APP_CREATED, "id": str(uuid.uuid4()), "data": {}} for _ in range(count)]


def test_a_publish_of_1000_events_is_accepted(tenant: Tenant) -> None:
    events = _events(1000)

    response = tenant.client("publisher").post(EVENTS, json=events)

    assert response.status_code == 202, response.text
    assert [item["id"] for item in response.json()["data"]] == [e["id"] for e in events]


def test_a_publish_of_1001_events_is_a_400_and_stores_none(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = tenant.client("publisher").post(EVENTS, json=_events(1001))

    assert_error(response, 400, code="invalid-input", detail="1000")
    assert eventually(tenant.server.fanned_out)  # whatever was stored has its deliveries
    deliveries = admin.get(f"{WEBHOOKS}/{webhook['id']}/deliveries")
    assert deliveries.json()["data"] == []


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1e9"])
def test_a_page_size_outside_1_to_100_is_a_400(tenant: Tenant, limit: str) -> None:
    response = tenant.client().get(WEBHOOKS, params={"limit": limit})

    assert_error(response, 400, code="invalid-input", parameter="limit")


# -- the rate limit per API key ------------------------------------------------------------


def _limited(make_server: Callable[..., RunningServer], rate: float, burst: int) -> Tenant:
    """A tenant of a server with this limit. The operator key is limited too: each test
    makes its keys (one operator request each) within the burst, before anything else."""
    return make_server(rate_limit=rate, rate_burst=burst).new_tenant()


def test_a_key_over_its_burst_gets_a_429_with_retry_after(
    make_server: Callable[..., RunningServer],
) -> None:
    tenant = _limited(make_server, rate=0.1, burst=3)
    admin = tenant.client()

    statuses = [admin.get(WEBHOOKS).status_code for _ in range(3)]
    refused = admin.get(WEBHOOKS)

    assert statuses == [200, 200, 200]
    retry_after = refused.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 10  # a token every 10 s
    assert_error(refused, 429, code="too-many-requests", detail=f"retry in {retry_after} s")


def test_the_limit_is_per_key(make_server: Callable[..., RunningServer]) -> None:
    tenant = _limited(make_server, rate=0.1, burst=3)
    first, second = tenant.client(), tenant.client()
    for _ in range(3):
        first.get(WEBHOOKS)

    assert first.get(WEBHOOKS).status_code == 429
    assert [second.get(WEBHOOKS).status_code for _ in range(3)] == [200, 200, 200]


def test_every_management_operation_counts_and_a_refused_one_changes_nothing(
    make_server: Callable[..., RunningServer],
) -> None:
    tenant = _limited(make_server, rate=0.1, burst=3)
    admin, observer = tenant.client(), tenant.client()
    webhook = create(admin)
    for _ in range(2):
        admin.get(f"{WEBHOOKS}/{webhook['id']}")

    refused = [
        admin.post(WEBHOOKS, json=webhook_body()),
        admin.delete(f"{WEBHOOKS}/{webhook['id']}"),
        admin.get("/api/v1/users/me"),
        admin.get(f"{WEBHOOKS}/event-types"),
    ]

    assert [response.status_code for response in refused] == [429] * 4
    assert observer.get(WEBHOOKS).json()["data"] == [webhook]


def test_publishing_is_not_limited(make_server: Callable[..., RunningServer]) -> None:
    tenant = _limited(make_server, rate=0.1, burst=2)
    admin = tenant.client()
    for _ in range(2):
        admin.get(WEBHOOKS)
    assert admin.get(WEBHOOKS).status_code == 429

    statuses = {admin.post(EVENTS, json=_events(1)).status_code for _ in range(20)}

    assert statuses == {202}


def test_a_limited_key_is_served_again_after_retry_after(
    make_server: Callable[..., RunningServer],
) -> None:
    tenant = _limited(make_server, rate=1, burst=2)
    admin = tenant.client()
    for _ in range(2):
        admin.get(WEBHOOKS)
    refused = admin.get(WEBHOOKS)
    assert refused.status_code == 429

    time.sleep(int(refused.headers["Retry-After"]))

    assert admin.get(WEBHOOKS).status_code == 200


def test_rate_zero_disables_the_limit(make_server: Callable[..., RunningServer]) -> None:
    admin = make_server(rate_limit=0, rate_burst=1).new_tenant().client()

    assert {admin.get(WEBHOOKS).status_code for _ in range(50)} == {200}


def test_the_default_limit_lets_a_busy_script_through(tenant: Tenant) -> None:
    admin = tenant.client()

    assert {admin.get(WEBHOOKS).status_code for _ in range(100)} == {200}
