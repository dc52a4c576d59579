"""hookline.client against a real hookline server: every method, paging, and errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

from hookline.client import Client, ClientError
from tests.servers import RunningServer, Tenant, eventually

APP_CREATED = "com.qlik.v1.app.created"
USER_CREATED = "com.qlik.v1.user.created"
# .invalid never resolves (RFC 6761): deliveries fail at once, and nothing leaves the machine
# but the lookup.
UNREACHABLE = "https://hooks.example.invalid/in"


@pytest.fixture
def client(server: RunningServer, tenant: Tenant) -> Client:
    return Client(server.url, tenant.key("tenant-admin"), timeout=30)


def test_publish_takes_one_event_or_a_list_and_returns_ids(client: Client) -> None:
    with client:
        [one] = client.publish({"type": APP_CREATED, "data": {"id": "app-1"}})
        given = str(uuid.uuid4())
        many = client.publish(
            [
                {"type": APP_CREATED, "data": {"id": "app-2"}, "id": given},
                {"specversion": "1.0", "type": USER_CREATED, "source": "s", "id": "ce-1"},
            ]
        )
    assert uuid.UUID(one)
    assert many == [given, "ce-1"]


def test_an_operator_key_publishes_for_a_named_tenant(
    server: RunningServer, tenant: Tenant
) -> None:
    with Client(server.url, server.operator_key) as operator:
        assert operator.publish(
            {"type": APP_CREATED, "data": {}, "id": "e-1"}, tenant_id=tenant.id
        ) == ["e-1"]
        with pytest.raises(ClientError) as raised:
            operator.publish({"type": APP_CREATED, "data": {}})
    assert raised.value.status == 400
    assert "tenantId" in raised.value.detail


def test_event_types_in_english_and_japanese(client: Client) -> None:
    with client:
        english = {t["name"]: t for t in client.event_types()}
        japanese = {t["name"]: t for t in client.event_types("ja")}
    assert english[APP_CREATED]["title"] == "App created"
    assert english[APP_CREATED]["levels"] == ["tenant", "user"]
    assert japanese[APP_CREATED]["title"] == "作成済み"


def test_a_webhook_from_creation_to_deletion(client: Client) -> None:
    with client:
        made = client.create_webhook(
            name="Deploys",
            url="https://hooks.example.com/in",
            event_types=[APP_CREATED],  # snake case becomes eventTypes
            secret="s" * 32,
            headers={"X-Team": "blue"},
        )
        assert made["eventTypes"] == [APP_CREATED]
        assert made["secretKeyAdded"] is True
        assert made["enabled"] is True
        assert client.get_webhook(made["id"]) == made

        replaced = client.replace_webhook(
            made["id"], name="Renamed", url="https://other.example.com/", eventTypes=[USER_CREATED]
        )
        assert (replaced["name"], replaced["eventTypes"]) == ("Renamed", [USER_CREATED])
        assert replaced["enabled"] is False  # a full replace: left out means cleared
        assert replaced["secretKeyAdded"] is False

        client.patch_webhook(
            made["id"],
            [
                {"op": "replace", "path": "/enabled", "value": True},
                {"op": "add", "path": "/headers/X-Env", "value": "prod"},
            ],
        )
        patched = client.get_webhook(made["id"])
        assert patched["enabled"] is True
        assert patched["headers"] == {"X-Env": "prod"}

        rotated = client.rotate_secret(made["id"], grace_seconds=60)
        assert len(rotated["secret"]) == 48
        assert rotated["secretKeyAdded"] is True
        given = client.rotate_secret(made["id"], "t" * 32)
        assert given["secret"] is None
        assert given["secretRotatingUntil"] is not None  # a day, by default

        client.delete_webhook(made["id"])
        with pytest.raises(ClientError) as raised:
            client.get_webhook(made["id"])
    assert raised.value.status == 404
    assert raised.value.errors[0]["code"] == "not-found"
    assert raised.value.detail == f"no webhook {made['id']}"


def test_list_webhooks_follows_every_page_with_its_filters(client: Client) -> None:
    with client:
        for number in range(5):
            client.create_webhook(
                name=f"hook-{number}",
                url=f"https://h{number}.example.com/in",
                eventTypes=[APP_CREATED, USER_CREATED] if number % 2 else [APP_CREATED],
                enabled=number != 4,
            )
        names = [hook["name"] for hook in client.list_webhooks(limit=2, sort="+name")]
        enabled = [hook["name"] for hook in client.list_webhooks(limit=1, enabled=True)]
        both = [
            hook["name"]
            for hook in client.list_webhooks(event_types=[APP_CREATED, USER_CREATED], sort="-name")
        ]
    assert names == [f"hook-{number}" for number in range(5)]  # three pages
    assert sorted(enabled) == [f"hook-{number}" for number in range(4)]
    assert both == ["hook-3", "hook-1"]


def test_deliveries_page_filter_read_and_resend(client: Client, server: RunningServer) -> None:
    with client:
        hook = client.create_webhook(
            name="d", url=UNREACHABLE, eventTypes=[APP_CREATED, USER_CREATED]
        )
        ids = client.publish(
            [{"type": APP_CREATED, "data": {"n": n}} for n in range(3)]
            + [{"type": USER_CREATED, "data": {"id": "u-1"}}]
        )
        assert eventually(server.fanned_out)  # the deliveries are made after the publish
        listed = list(client.deliveries(hook["id"], limit=3))
        assert sorted(d["eventId"] for d in listed) == sorted(ids)  # two pages
        users = list(client.deliveries(hook["id"], event_type=USER_CREATED))
        assert [d["eventId"] for d in users] == [ids[3]]

        original = client.get_delivery(hook["id"], users[0]["id"])
        assert original["id"] == users[0]["id"]
        assert original["eventType"] == USER_CREATED

        resent = client.resend(hook["id"], original["id"])
        assert resent["id"] != original["id"]
        assert resent["eventId"] == ids[3]
        assert resent["status"] == "fail"  # the host does not resolve
        assert resent["statusMessage"]
        assert len(list(client.deliveries(hook["id"]))) == 5

        with pytest.raises(ClientError) as raised:
            client.resend(hook["id"], str(uuid.uuid4()))
        assert raised.value.status == 404
        with pytest.raises(ClientError) as raised:
            list(client.deliveries(str(uuid.uuid4())))
        assert raised.value.status == 404


def test_send_test_sends_the_first_type_or_the_one_asked_for(client: Client) -> None:
    with client:
        hook = client.create_webhook(
            name="t", url=UNREACHABLE, eventTypes=[APP_CREATED, USER_CREATED]
        )
        first = client.send_test(hook["id"])
        asked = client.send_test(hook["id"], USER_CREATED)
        with pytest.raises(ClientError) as raised:
            client.send_test(hook["id"], "com.qlik.v1.app.deleted")

    assert (first["trigger"], first["eventType"]) == ("test", APP_CREATED)
    assert (asked["trigger"], asked["eventType"]) == ("test", USER_CREATED)
    assert asked["status"] == "fail"  # the host does not resolve
    assert raised.value.status == 400
    assert raised.value.errors[0]["source"]["pointer"] == "/eventType"


def test_a_validation_error_carries_status_errors_and_trace_id(client: Client) -> None:
    with client, pytest.raises(ClientError) as raised:
        client.create_webhook(name="", url="http://hooks.example.com/", eventTypes=["nope"])
    error = raised.value
    assert error.status == 400
    assert {e["code"] for e in error.errors} == {"invalid-input"}
    pointers = {e["source"]["pointer"] for e in error.errors}
    assert {"/name", "/url", "/eventTypes/0"} <= pointers
    assert "url must use https" in error.detail
    assert error.trace_id is not None
    assert len(error.trace_id) == 32
    assert str(error).startswith("HTTP 400: ")
    assert error.trace_id in str(error)


def test_a_bad_key_is_a_401(server: RunningServer) -> None:
    with Client(server.url, "hlk_not-a-key") as client, pytest.raises(ClientError) as raised:
        client.event_types()
    assert raised.value.status == 401


def test_an_answer_that_is_not_hooklines_still_makes_a_client_error() -> None:
    response = httpx.Response(502, text="<html>Bad Gateway</html>", headers={"X-Trace-Id": "t1"})
    error = ClientError.of(response)
    assert (error.status, error.trace_id) == (502, "t1")
    assert error.errors[0]["detail"] == "<html>Bad Gateway</html>"
