"""Test sends end to end, over real HTTPS on 127.0.0.1, on both databases: the receiver gets
one signed request with the example event, whatever the outcome; a failing test is never
retried and never disables its webhook; a disabled webhook is tested all the same."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from standardwebhooks import Webhook as StandardWebhook

from hookline.signing import qlik_signature
from tests.delivery.receivers import HOST, Receiver, Reply
from tests.servers import Client, RunningServer, Tenant

APP_CREATED = "com.qlik.v1.app.created"
APP_PUBLISHED = "com.qlik.v1.app.published"
SECRET = "a-test-send-secret-of-32-characters!"


class Receiving:
    """A tenant with webhooks to the receiver, each at a path of its own."""

    def __init__(self, hookline: RunningServer, receiver: Receiver) -> None:
        self.receiver = receiver
        self.tenant: Tenant = hookline.new_tenant()
        self.admin: Client = self.tenant.client()

    def webhook(self, *replies: Reply, **fields: Any) -> tuple[dict[str, Any], str]:
        path = f"/test-{uuid.uuid4().hex[:12]}"
        self.receiver.script(path, *replies)
        body = {
            "name": path,
            "url": f"https://{HOST}:{self.receiver.port}{path}",
            "eventTypes": [APP_CREATED],
            **fields,
        }
        response = self.admin.post("/api/v1/webhooks", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json()), path

    def send_test(self, webhook_id: str, **body: Any) -> dict[str, Any]:
        response = self.admin.post(f"/api/v1/webhooks/{webhook_id}/actions/test", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def webhook_now(self, webhook_id: str) -> dict[str, Any]:
        return dict(self.admin.get(f"/api/v1/webhooks/{webhook_id}").json())

    def example(self, event_type: str) -> Any:
        listed = self.admin.get("/api/v1/webhooks/event-types").json()["data"]
        return next(item["example"] for item in listed if item["name"] == event_type)


@pytest.fixture
def tested(hookline: RunningServer, receiver: Receiver) -> Receiving:
    return Receiving(hookline, receiver)


def test_a_test_send_arrives_signed_with_the_example_event(tested: Receiving) -> None:
    webhook, path = tested.webhook(
        Reply(200, body=b"thanks"),
        secret=SECRET,
        eventTypes=[APP_CREATED, APP_PUBLISHED],
        headers={"X-Team": "blue"},
    )

    delivery = tested.send_test(webhook["id"], eventType=APP_PUBLISHED)

    [got] = tested.receiver.received(path)  # sent before the answer came
    envelope = json.loads(got.body)
    assert envelope == delivery["request"]["body"]
    assert envelope["eventType"] == APP_PUBLISHED
    assert envelope["eventId"] == delivery["eventId"]
    assert envelope["source"] == "hookline/test"
    assert envelope["data"] == tested.example(APP_PUBLISHED)
    assert envelope["extensions"]["tenantId"] == tested.tenant.id
    assert got.headers["Qlik-Signature"] == qlik_signature(SECRET, got.body)
    key = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    StandardWebhook(key).verify(got.body, got.headers)
    assert got.headers["webhook-id"] == delivery["eventId"]
    assert got.headers["X-Team"] == "blue"
    assert (delivery["trigger"], delivery["status"]) == ("test", "success")
    [attempt] = delivery["attempts"]
    assert attempt["statusCode"] == 200
    assert attempt["durationMs"] > 0
    assert delivery["response"]["body"] == "thanks"


def test_a_cloud_events_webhook_gets_the_test_as_a_cloud_event(tested: Receiving) -> None:
    webhook, path = tested.webhook(enableCloudEventDelivery=True)

    delivery = tested.send_test(webhook["id"])

    [got] = tested.receiver.received(path)
    envelope = json.loads(got.body)
    assert (envelope["specversion"], envelope["type"]) == ("1.0", APP_CREATED)
    assert envelope["source"] == "hookline/test"
    assert envelope["data"] == tested.example(APP_CREATED)
    assert envelope == delivery["request"]["body"]


@pytest.mark.parametrize("status", [410, 500])
def test_a_failing_test_is_sent_once_and_never_disables_its_webhook(
    tested: Receiving, status: int
) -> None:
    webhook, path = tested.webhook(Reply(status))

    # as many as the failure policy needs to disable (FAST: 3)
    answers = [tested.send_test(webhook["id"]) for _ in range(3)]

    assert [(item["status"], item["nextAttemptAt"]) for item in answers] == [("fail", None)] * 3
    assert all(len(item["attempts"]) == 1 for item in answers)
    assert tested.receiver.count(path) == 3  # one each: none is retried
    now = tested.webhook_now(webhook["id"])
    assert (now["enabled"], now["disabledReasonCode"]) == (True, None)


def test_a_disabled_webhook_is_tested_and_stays_disabled(tested: Receiving) -> None:
    webhook, path = tested.webhook(enabled=False)

    delivery = tested.send_test(webhook["id"])

    assert delivery["status"] == "success"
    assert tested.receiver.count(path) == 1
    assert tested.webhook_now(webhook["id"])["enabled"] is False


def test_a_resend_of_a_test_is_a_resend_of_the_same_event(tested: Receiving) -> None:
    webhook, path = tested.webhook()
    first = tested.send_test(webhook["id"])

    response = tested.admin.post(
        f"/api/v1/webhooks/{webhook['id']}/deliveries/{first['id']}/actions/resend"
    )

    assert response.status_code == 201, response.text
    resent = response.json()
    assert (resent["trigger"], resent["eventId"]) == ("resend", first["eventId"])
    original, again = tested.receiver.wait_for(path, 2)
    assert original.body == again.body
