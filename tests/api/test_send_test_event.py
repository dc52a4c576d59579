"""POST /api/v1/webhooks/{id}/actions/test, on SQLite and PostgreSQL: what a test send
answers, the bad input it refuses, whose webhooks it reaches, and how it is rate limited.

These webhooks point at an ``.invalid`` host, so every attempt fails without leaving the
machine; tests/delivery/test_test_events.py sends to a real receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    APP_CREATED,
    APP_RELOADED,
    WEBHOOKS,
    assert_error,
    create,
    deliveries_made,
    get,
)
from tests.servers import Client, RunningServer, Tenant

NOWHERE = "https://hooks.example.invalid/in"


def send_test(client: Client, webhook_id: str, body: Any = None) -> httpx.Response:
    return client.post(f"{WEBHOOKS}/{webhook_id}/actions/test", json=body)


def sent(client: Client, webhook_id: str, body: Any = None) -> dict[str, Any]:
    response = send_test(client, webhook_id, body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def example_of(client: Client, event_type: str) -> dict[str, Any]:
    listed = client.get(f"{WEBHOOKS}/event-types").json()["data"]
    [found] = [item["example"] for item in listed if item["name"] == event_type]
    assert isinstance(found, dict)
    return found


# -- what it answers -------------------------------------------------------------------------


def test_a_test_send_answers_its_delivery_marked_as_a_test(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE, eventTypes=[APP_RELOADED, APP_CREATED])

    delivery = sent(admin, webhook["id"])

    assert delivery["trigger"] == "test"
    assert delivery["webhookId"] == webhook["id"]
    assert delivery["eventType"] == APP_CREATED  # the first of its types, in name order
    assert delivery["status"] == "fail"
    assert delivery["statusMessage"].endswith("a test event is sent once, never retried")
    assert delivery["nextAttemptAt"] is None
    assert len(delivery["attempts"]) == 1
    body = delivery["request"]["body"]
    assert body["eventType"] == APP_CREATED
    assert body["eventId"] == delivery["eventId"]
    assert body["source"] == "hookline/test"
    assert body["extensions"]["tenantId"] == tenant.id
    assert body["data"] == example_of(admin, APP_CREATED)
    assert delivery["request"]["url"] == NOWHERE


def test_the_type_asked_for_is_sent(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE, eventTypes=[APP_RELOADED, APP_CREATED])

    delivery = sent(admin, webhook["id"], {"eventType": APP_RELOADED})

    assert delivery["eventType"] == APP_RELOADED
    assert delivery["request"]["body"]["data"] == example_of(admin, APP_RELOADED)


@pytest.mark.parametrize("body", [None, {}, {"eventType": None}, {"unknownMember": 1}])
def test_without_an_event_type_the_first_is_sent(tenant: Tenant, body: Any) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    assert sent(admin, webhook["id"], body)["eventType"] == APP_CREATED


def test_each_test_send_is_a_new_event_in_the_history(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    first, second = sent(admin, webhook["id"]), sent(admin, webhook["id"])

    assert first["eventId"] != second["eventId"]
    listed = deliveries_made(admin, webhook["id"])
    assert {item["id"]: item["trigger"] for item in listed} == {
        first["id"]: "test",
        second["id"]: "test",
    }
    shown = admin.get(f"{WEBHOOKS}/{webhook['id']}/deliveries/{first['id']}").json()
    assert shown == first


def test_a_test_is_sent_whatever_the_filter_and_to_a_disabled_webhook(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE, enabled=False, filter='id eq "no-such-app"')

    delivery = sent(admin, webhook["id"])

    assert len(delivery["attempts"]) == 1
    assert "disabled" not in delivery["statusMessage"]  # it was sent, and failed to connect
    assert get(admin, webhook["id"]) == webhook


def test_failed_tests_leave_the_webhook_enabled(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    for _ in range(3):
        sent(admin, webhook["id"])

    assert get(admin, webhook["id"]) == webhook


def test_a_user_tests_its_own_webhook(tenant: Tenant) -> None:
    bob = tenant.client("user", "bob")
    webhook = create(bob, url=NOWHERE, level="user")

    delivery = sent(bob, webhook["id"])

    assert delivery["request"]["body"]["extensions"]["ownerId"] == "bob"


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "detail"),
    [
        ("com.example.nothing", "unknown event type 'com.example.nothing'"),
        (APP_RELOADED, "is not one of the webhook's event types"),
    ],
)
def test_a_type_the_webhook_cannot_be_sent_is_a_400(
    tenant: Tenant, asked: str, detail: str
) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    response = send_test(admin, webhook["id"], {"eventType": asked})

    assert_error(response, 400, code="invalid-input", pointer="/eventType", detail=detail)
    assert deliveries_made(admin, webhook["id"], timeout=0) == []


def test_a_webhook_without_event_types_needs_one_asked_for(tenant: Tenant) -> None:
    admin = tenant.client()
    response = admin.post(WEBHOOKS, json={"name": "bare", "url": NOWHERE})
    assert response.status_code == 201, response.text

    refused = send_test(admin, response.json()["id"])

    assert_error(refused, 400, pointer="/eventType", detail="subscribes to no event type")


@pytest.mark.parametrize("event_type", [5, True, ["a"], {"a": 1}, "nul\u0000inside"])
def test_an_event_type_that_is_not_text_is_a_400(tenant: Tenant, event_type: Any) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    response = send_test(admin, webhook["id"], {"eventType": event_type})

    assert_error(response, 400, code="invalid-input", pointer="/eventType")


@pytest.mark.parametrize("body", ["text", [APP_CREATED], 3])
def test_a_body_that_is_not_an_object_is_a_400(tenant: Tenant, body: Any) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    assert_error(send_test(admin, webhook["id"], body), 400, code="invalid-input")


def test_a_body_that_is_not_json_is_a_400(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, url=NOWHERE)

    response = admin.post(
        f"{WEBHOOKS}/{webhook['id']}/actions/test",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert_error(response, 400, code="invalid-input")


# -- whose webhooks --------------------------------------------------------------------------


def test_another_tenants_webhook_is_a_404_and_nothing_is_sent(tenant: Tenant) -> None:
    owner = tenant.client()
    webhook = create(owner, url=NOWHERE)
    stranger = tenant.server.new_tenant().client()

    response = send_test(stranger, webhook["id"], {"eventType": APP_CREATED})

    assert_error(response, 404, code="not-found")
    assert deliveries_made(owner, webhook["id"], timeout=0) == []


def test_an_unknown_webhook_is_a_404(tenant: Tenant) -> None:
    response = send_test(tenant.client(), "00000000-0000-0000-0000-000000000000")

    assert_error(response, 404, code="not-found")


def test_a_user_cannot_test_a_tenant_level_webhook_and_a_publisher_nothing(
    tenant: Tenant,
) -> None:
    webhook = create(tenant.client(), url=NOWHERE)

    as_user = send_test(tenant.client("user", "bob"), webhook["id"])
    as_publisher = send_test(tenant.client("publisher"), webhook["id"])

    assert_error(as_user, 404, code="not-found")
    assert as_publisher.status_code == 403, as_publisher.text
    assert deliveries_made(tenant.client(), webhook["id"], timeout=0) == []


# -- rate limit ------------------------------------------------------------------------------


def test_test_sends_count_toward_the_keys_rate_limit(
    make_server: Callable[..., RunningServer],
) -> None:
    tenant = make_server(rate_limit=0.1, rate_burst=3).new_tenant()
    admin, observer = tenant.client(), tenant.client()
    webhook = create(admin, url=NOWHERE)

    statuses = [send_test(admin, webhook["id"]).status_code for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert len(deliveries_made(observer, webhook["id"], timeout=0)) == 2
