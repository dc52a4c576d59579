"""Events in, signed deliveries out, over real HTTPS on 127.0.0.1, on both databases."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook as StandardWebhook

from hookline.operational import DELIVERY_EXHAUSTED, WEBHOOK_RECOVERED
from hookline.signing import qlik_signature
from tests.delivery.receivers import FAST, HOST, Receiver, Reply
from tests.servers import RunningServer, Tenant, eventually

APP_CREATED = "com.qlik.v1.app.created"
OPERATIONAL = ["hookline.webhook.disabled", DELIVERY_EXHAUSTED, WEBHOOK_RECOVERED]
SECRET = "0123456789abcdef0123456789abcdef"


class Setup:
    def __init__(self, hookline: RunningServer, receiver: Receiver) -> None:
        self.hookline = hookline
        self.receiver = receiver
        self.tenant: Tenant = hookline.new_tenant()
        self.admin = self.tenant.client()
        self.publisher = self.tenant.client("publisher")

    def url(self, path: str, host: str = HOST) -> str:
        return f"https://{host}:{self.receiver.port}{path}"

    def webhook(self, path: str, **fields: Any) -> dict[str, Any]:
        body = {"name": path, "url": self.url(path), "eventTypes": [APP_CREATED], **fields}
        response = self.admin.post("/api/v1/webhooks", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def publish(self, *events: dict[str, Any]) -> list[str]:
        response = self.publisher.post("/api/v1/events", json=list(events))
        assert response.status_code == 202, response.text
        return [item["id"] for item in response.json()["data"]]

    def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        response = self.admin.get(
            f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def settle(
        self, webhook_id: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.deliveries(webhook_id)
            if done(found):
                return found
            time.sleep(0.05)
        raise AssertionError(f"deliveries never settled: {found}")

    def webhook_now(self, webhook_id: str) -> dict[str, Any]:
        return dict(self.admin.get(f"/api/v1/webhooks/{webhook_id}").json())

    def quiet(self, webhook_id: str) -> list[dict[str, Any]]:
        """The webhook's deliveries once nothing more can be sent to it: every event
        published so far has been fanned out, and each of its deliveries has ended. What
        its receiver got by then is all it will get (it records a request before it
        answers)."""
        assert eventually(self.hookline.fanned_out), "events never fanned out"
        return self.settle(webhook_id, _ended(0))


@pytest.fixture
def setup(hookline: RunningServer, receiver: Receiver) -> Setup:
    return Setup(hookline, receiver)


def _path() -> str:
    return f"/{uuid.uuid4().hex[:12]}"


def _ended(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda found: (
        len(found) >= count
        and all(d["nextAttemptAt"] is None and d["status"] != "pending" for d in found)
    )


def test_an_event_is_delivered_signed_both_ways(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(
        path, secret=SECRET, headers={"X-Team": "blue"}, encryptedHeaders={"X-Token": "t0p"}
    )
    [event_id] = setup.publish({"type": APP_CREATED, "data": {"id": "app-1"}, "ownerId": "o1"})

    [got] = setup.receiver.wait_for(path, 1)
    envelope = json.loads(got.body)
    assert envelope["eventId"] == event_id
    assert envelope["eventType"] == APP_CREATED
    assert envelope["data"] == {"id": "app-1"}
    assert envelope["extensions"]["tenantId"] == setup.tenant.id
    assert b" " not in got.body
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("hookline-webhook/")
    assert got.headers["Qlik-Signature"] == qlik_signature(SECRET, got.body)
    key = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    StandardWebhook(key).verify(got.body, got.headers)
    assert got.headers["webhook-id"] == event_id
    assert got.headers["X-Team"] == "blue"
    assert got.headers["X-Token"] == "t0p"

    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "success"
    assert delivery["eventId"] == event_id
    assert delivery["request"]["body"] == envelope
    assert delivery["request"]["headers"]["X-Token"] == "**OMITTED**"
    assert delivery["request"]["headers"]["X-Team"] == "blue"
    assert delivery["response"]["statusCode"] == 200
    assert delivery["response"]["body"] == "ok"
    assert [a["statusCode"] for a in delivery["attempts"]] == [200]


def test_cloud_events_delivery_sends_cloudevents_json(setup: Setup) -> None:
    path = _path()
    setup.webhook(path, enableCloudEventDelivery=True)
    [event_id] = setup.publish({"type": APP_CREATED, "data": {"id": "a"}, "spaceId": "s1"})
    [got] = setup.receiver.wait_for(path, 1)
    envelope = json.loads(got.body)
    assert envelope["specversion"] == "1.0"
    assert envelope["id"] == event_id
    assert envelope["spaceid"] == "s1"


def test_a_failing_endpoint_is_retried_until_it_succeeds(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(500), Reply(503), Reply(200))
    hook = setup.webhook(path)
    [event_id] = setup.publish({"type": APP_CREATED, "data": {}})
    got = setup.receiver.wait_for(path, 3)
    assert {json.loads(r.body)["eventId"] for r in got} == {event_id}
    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "success"
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503, 200]


def test_the_schedule_used_up_ends_in_fail(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(500))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "fail"
    assert len(delivery["attempts"]) == 3
    assert "gave up after 3 attempts" in delivery["statusMessage"]
    assert len(setup.receiver.received(path)) == 3


def test_retry_after_is_honoured(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(429, headers={"Retry-After": "1"}), Reply(200))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    first, second = setup.receiver.wait_for(path, 2)
    assert second.at - first.at >= 0.9
    setup.settle(hook["id"], _ended(1))


def test_410_disables_the_webhook_at_once(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(410))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "fail"
    assert len(delivery["attempts"]) == 1
    now = setup.webhook_now(hook["id"])
    assert now["enabled"] is False
    assert now["disabledReasonCode"] == "endpoint-gone"
    assert "410" in now["disabledReason"]
    setup.publish({"type": APP_CREATED, "data": {}})
    assert len(setup.quiet(hook["id"])) == 1  # no delivery made for a disabled webhook
    assert len(setup.receiver.received(path)) == 1
    patched = setup.admin.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json=[{"op": "replace", "path": "/enabled", "value": True}],
    )
    assert patched.status_code == 204
    again = setup.webhook_now(hook["id"])
    assert (again["enabled"], again["disabledReason"], again["disabledReasonCode"]) == (
        True,
        None,
        None,
    )


def test_a_webhook_whose_deliveries_keep_failing_is_disabled(setup: Setup) -> None:
    path, watcher = _path(), _path()
    setup.receiver.script(path, Reply(500))
    hook = setup.webhook(path)
    setup.webhook(watcher, eventTypes=["hookline.webhook.disabled"])
    setup.publish(*({"type": APP_CREATED, "data": {"n": n}} for n in range(3)))
    setup.settle(hook["id"], _ended(3))
    deadline = time.monotonic() + 10
    while setup.webhook_now(hook["id"])["enabled"] and time.monotonic() < deadline:
        time.sleep(0.05)
    now = setup.webhook_now(hook["id"])
    assert now["enabled"] is False
    assert now["disabledReasonCode"] == "delivery-failures"
    [got] = setup.receiver.wait_for(watcher, 1)
    disabled = json.loads(got.body)["data"]
    assert (disabled["id"], disabled["disabledReasonCode"]) == (hook["id"], "delivery-failures")
    assert disabled["disabledReason"] == now["disabledReason"]


def test_a_watcher_hears_of_a_delivery_given_up_and_of_the_recovery(setup: Setup) -> None:
    path, watcher = _path(), _path()
    setup.receiver.script(path, Reply(500), Reply(500), Reply(500), Reply(200))
    hook = setup.webhook(path)
    watching = setup.webhook(watcher, eventTypes=[DELIVERY_EXHAUSTED, WEBHOOK_RECOVERED])
    [lost] = setup.publish({"type": APP_CREATED, "data": {"n": 1}})

    [first] = setup.receiver.wait_for(watcher, 1)
    exhausted = json.loads(first.body)
    [failed] = setup.deliveries(hook["id"])
    assert exhausted["eventType"] == DELIVERY_EXHAUSTED
    assert exhausted["extensions"]["ownerId"] == hook["ownerId"]
    failing_since = exhausted["data"]["failingSince"]
    assert exhausted["data"] == {
        "id": hook["id"],
        "name": path,
        "url": hook["url"],
        "deliveryId": failed["id"],
        "eventId": lost,
        "eventType": APP_CREATED,
        "attempts": 3,
        "lastStatusCode": 500,
        "statusMessage": failed["statusMessage"],
        "exhaustedDeliveries": 1,
        "failingSince": failing_since,
    }

    setup.publish({"type": APP_CREATED, "data": {"n": 2}})
    _, second = setup.receiver.wait_for(watcher, 2)
    recovered = json.loads(second.body)
    assert recovered["eventType"] == WEBHOOK_RECOVERED
    assert recovered["data"] == {
        "id": hook["id"],
        "name": path,
        "url": hook["url"],
        "failedDeliveries": 1,
        "failingSince": failing_since,
    }
    assert [item["status"] for item in setup.quiet(watching["id"])] == ["success"] * 2
    assert setup.webhook_now(hook["id"])["enabled"] is True


def test_a_resend_that_succeeds_tells_the_watcher_the_webhook_recovered(setup: Setup) -> None:
    path, watcher = _path(), _path()
    setup.receiver.script(path, Reply(500), Reply(500), Reply(500), Reply(200))
    hook = setup.webhook(path)
    setup.webhook(watcher, eventTypes=[WEBHOOK_RECOVERED])
    setup.publish({"type": APP_CREATED, "data": {}})
    [failed] = setup.settle(hook["id"], _ended(1))

    resend = f"/api/v1/webhooks/{hook['id']}/deliveries/{failed['id']}/actions/resend"
    response = setup.admin.post(resend)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "success"
    [got] = setup.receiver.wait_for(watcher, 1)
    recovered = json.loads(got.body)
    assert recovered["eventType"] == WEBHOOK_RECOVERED
    assert (recovered["data"]["id"], recovered["data"]["failedDeliveries"]) == (hook["id"], 1)


def test_a_watcher_whose_endpoint_is_down_makes_no_chain_of_events(setup: Setup) -> None:
    path, watcher = _path(), _path()
    setup.receiver.script(path, Reply(500))
    setup.receiver.script(watcher, Reply(503))
    setup.webhook(path)
    watching = setup.webhook(watcher, eventTypes=[DELIVERY_EXHAUSTED])
    setup.publish({"type": APP_CREATED, "data": {}})

    [given_up] = setup.settle(watching["id"], _ended(1))
    assert given_up["status"] == "fail"
    [only] = setup.quiet(watching["id"])
    assert only["eventType"] == DELIVERY_EXHAUSTED
    assert len(setup.receiver.received(watcher)) == 3  # its attempts, and nothing more


def test_a_redirect_is_not_followed(setup: Setup) -> None:
    path, target = _path(), _path()
    setup.receiver.script(path, Reply(302, headers={"Location": setup.url(target)}))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "fail"
    assert delivery["attempts"][0]["statusCode"] == 302
    assert setup.receiver.received(target) == []


def test_a_webhook_checking_revocation_is_not_sent_to_an_uncheckable_certificate(
    setup: Setup,
) -> None:
    path = _path()  # the receiver's certificate names no OCSP responder
    hook = setup.webhook(path, checkCertificateRevocation=True)
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "fail"
    assert delivery["statusMessage"].startswith(
        "the receiver's certificate revocation status could not be checked: "
        "the certificate names no OCSP responder"
    )
    assert setup.receiver.received(path) == []


def test_a_slow_endpoint_times_out(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(200, delay=5))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], lambda found: bool(found and found[0]["attempts"]))
    assert delivery["attempts"][0]["statusCode"] is None
    assert "timeout" in delivery["attempts"][0]["error"]


def test_an_oversize_response_is_captured_to_64_kib(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(200, body=b"x" * (1024 * 1024)))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], _ended(1))
    assert delivery["status"] == "success"
    assert len(delivery["response"]["body"]) == 64 * 1024


def test_a_certificate_for_another_name_fails(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    # other.example.test is in the certificate; wrong.example.test is not
    hook_wrong = setup.admin.put(
        f"/api/v1/webhooks/{hook['id']}",
        json={
            "name": "w",
            "url": setup.url(path, "wrong.example.test"),
            "eventTypes": [APP_CREATED],
            "enabled": True,
        },
    )
    assert hook_wrong.status_code == 200
    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], lambda found: bool(found and found[0]["attempts"]))
    assert delivery["attempts"][0]["statusCode"] is None
    assert "certificate" in delivery["attempts"][0]["error"]
    assert setup.receiver.received(path) == []


def test_the_egress_guard_refuses_a_live_receiver_at_an_unlisted_address(
    make_server: Callable[..., RunningServer], receiver: Receiver, ca_file: Path
) -> None:
    """Only the guard stands between: the receiver is up on 127.0.0.1, its certificate fits
    hooks.example.test, and this server resolves that name to it, but allows another
    network only. Every attempt is refused before connecting, in the guard's own words
    ("connection refused" or a TLS error would mean it was not the guard), and the
    receiver sees nothing."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=2):
        pass  # the receiver listens where the name points
    guarded = make_server(ca_bundle=str(ca_file), **{**FAST, "allow_networks": "10.0.0.0/8"})
    setup = Setup(guarded, receiver)
    path = _path()
    hook = setup.webhook(path)

    setup.publish({"type": APP_CREATED, "data": {}})
    [delivery] = setup.settle(hook["id"], _ended(1))

    assert delivery["attempts"]
    assert [attempt["error"] for attempt in delivery["attempts"]] == [
        "refused by the egress guard"
    ] * len(delivery["attempts"])
    assert delivery["statusMessage"].startswith("refused by the egress guard; ")
    assert "127.0.0.1" not in json.dumps(delivery)  # where the name points stays unsaid
    assert setup.receiver.received(path) == []


def test_the_same_event_id_is_delivered_once(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    event = {"type": APP_CREATED, "data": {}, "id": "dup-1"}
    assert setup.publish(event, event) == ["dup-1", "dup-1"]
    assert setup.publish(event) == ["dup-1"]
    assert len(setup.quiet(hook["id"])) == 1
    assert len(setup.receiver.received(path)) == 1


def test_resend_sends_the_same_body_again_now(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {"id": "r"}})
    [first] = setup.settle(hook["id"], _ended(1))
    setup.admin.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json=[{"op": "add", "path": "/headers/X-New", "value": "1"}],
    )
    response = setup.admin.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{first['id']}/actions/resend"
    )
    assert response.status_code == 201, response.text
    resent = response.json()
    assert resent["id"] != first["id"]
    assert resent["eventId"] == first["eventId"]
    assert resent["status"] == "success"
    assert resent["request"]["body"] == first["request"]["body"]
    original, again = setup.receiver.wait_for(path, 2)
    assert original.body == again.body
    assert again.headers["X-New"] == "1"
    assert len(setup.deliveries(hook["id"])) == 2


def test_deleting_a_webhook_cancels_its_pending_deliveries(setup: Setup) -> None:
    path, later = _path(), _path()
    setup.receiver.script(path, Reply(500))
    setup.receiver.script(later, Reply(500))
    hook = setup.webhook(path)
    setup.publish({"type": APP_CREATED, "data": {}})
    setup.receiver.wait_for(path, 1)
    assert setup.admin.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    # A twin made after the deletion, failing the same way: its retries fall due after the
    # deleted webhook's would have, and are claimed after them (oldest due first). Once
    # the twin's schedule is used up, any retry of the deleted webhook would have been sent.
    twin = setup.webhook(later, eventTypes=["com.qlik.v1.app.published"])
    setup.publish({"type": "com.qlik.v1.app.published", "data": {}})
    setup.settle(twin["id"], _ended(1))
    assert len(setup.receiver.received(later)) == 3
    assert len(setup.receiver.received(path)) <= 2  # at most the attempt in flight


def test_history_filters_and_pages(setup: Setup) -> None:
    path = _path()
    setup.receiver.script(path, Reply(200))
    hook = setup.webhook(path, eventTypes=[APP_CREATED, "com.qlik.v1.app.published"])
    setup.publish(
        *({"type": APP_CREATED, "data": {"n": n}} for n in range(3)),
        {"type": "com.qlik.v1.app.published", "data": {}},
    )
    setup.settle(hook["id"], _ended(4))
    base = f"/api/v1/webhooks/{hook['id']}/deliveries"
    published = setup.admin.get(base, params={"eventType": "com.qlik.v1.app.published"}).json()
    assert len(published["data"]) == 1
    assert setup.admin.get(base, params={"status": "fail"}).json()["data"] == []
    seen: list[str] = []
    page = setup.admin.get(base, params={"limit": 3, "sort": "+triggeredAt"}).json()
    seen += [d["id"] for d in page["data"]]
    page = httpx.get(page["links"]["next"]["href"], headers=setup.admin.headers).json()
    seen += [d["id"] for d in page["data"]]
    assert len(set(seen)) == 4
    one = setup.admin.get(f"{base}/{seen[0]}")
    assert one.status_code == 200
    assert setup.admin.get(f"{base}/nope").status_code == 404


def test_a_user_level_webhook_gets_only_its_owners_events(setup: Setup) -> None:
    path = _path()
    alice = setup.tenant.client("user", "alice")
    response = alice.post(
        "/api/v1/webhooks",
        json={"name": "mine", "url": setup.url(path), "eventTypes": [APP_CREATED], "level": "user"},
    )
    assert response.status_code == 201, response.text
    setup.publish(
        {"type": APP_CREATED, "data": {"n": 1}, "ownerId": "bob"},
        {"type": APP_CREATED, "data": {"n": 2}, "ownerId": "alice"},
    )
    [got] = setup.receiver.wait_for(path, 1)
    assert len(setup.quiet(response.json()["id"])) == 1
    assert len(setup.receiver.received(path)) == 1
    assert json.loads(got.body)["data"] == {"n": 2}


def test_deleting_a_user_disables_the_webhooks_it_owns(setup: Setup) -> None:
    carol = setup.tenant.client("user", "carol")
    response = carol.post(
        "/api/v1/webhooks",
        json={"name": "c", "url": setup.url(_path()), "eventTypes": [APP_CREATED], "level": "user"},
    )
    hook_id = response.json()["id"]
    setup.publish({"type": "com.qlik.v1.user.deleted", "data": {"id": "carol"}})
    assert eventually(lambda: setup.webhook_now(hook_id)["enabled"] is False)
    now = setup.webhook_now(hook_id)
    assert now["enabled"] is False
    assert now["disabledReasonCode"] == "owner-deleted"


def test_the_filter_decides_what_is_delivered(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path, filter='id eq "a1" or spaceId eq "s9"')
    setup.publish(
        {"type": APP_CREATED, "data": {"id": "a1"}},
        {"type": APP_CREATED, "data": {"id": "a2"}},
        {"type": APP_CREATED, "data": {"id": "a3"}, "spaceId": "s9"},
    )
    got = setup.receiver.wait_for(path, 2)
    assert len(setup.quiet(hook["id"])) == 2
    assert sorted(json.loads(r.body)["data"]["id"] for r in setup.receiver.received(path)) == [
        "a1",
        "a3",
    ]
    assert len(got) == 2


def test_publishing_rejects_bad_input_and_stores_nothing(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    bad = setup.publisher.post(
        "/api/v1/events", json=[{"type": APP_CREATED, "data": {}}, {"type": "nope"}]
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["source"]["pointer"].startswith("/1")
    assert setup.publisher.post("/api/v1/events", content=b"{nope").status_code == 400
    assert (
        setup.tenant.client("user", "u")
        .post("/api/v1/events", json={"type": APP_CREATED})
        .status_code
        == 403
    )
    assert setup.quiet(hook["id"]) == []
    assert setup.receiver.received(path) == []


@pytest.mark.parametrize("event_type", OPERATIONAL)
def test_no_key_may_publish_hooklines_own_event_types(setup: Setup, event_type: str) -> None:
    watcher = _path()
    hook = setup.webhook(watcher, eventTypes=[event_type])
    server = setup.tenant.server
    callers = [
        (setup.publisher, {}),
        (setup.admin, {}),
        (server.client(server.operator_key), {"tenantId": setup.tenant.id}),
    ]
    forged = {"type": event_type, "data": {"id": hook["id"]}}
    for client, params in callers:
        response = client.post(
            "/api/v1/events", params=params, json=[{"type": APP_CREATED}, forged]
        )
        assert response.status_code == 400, response.text
        [error] = response.json()["errors"]
        assert error["source"] == {"pointer": "/1/type"}
        assert "reserved: hookline.* events are raised by hookline only" in error["detail"]
    assert setup.quiet(hook["id"]) == []
    assert setup.receiver.received(watcher) == []


def test_an_oversize_publish_is_a_413_and_stores_nothing(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    huge = [{"type": APP_CREATED, "data": {"blob": "x" * 9000}} for _ in range(1000)]
    response = setup.publisher.post("/api/v1/events", json=huge)
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "payload-too-large"
    too_many = [{"type": APP_CREATED, "data": {}} for _ in range(1001)]
    assert setup.publisher.post("/api/v1/events", json=too_many).status_code == 400
    assert setup.quiet(hook["id"]) == []
    assert setup.receiver.received(path) == []


def test_disabling_a_webhook_raises_an_event_subscribers_receive(setup: Setup) -> None:
    gone, watcher = _path(), _path()
    setup.receiver.script(gone, Reply(410))
    hook = setup.webhook(gone)
    setup.webhook(watcher, eventTypes=["hookline.webhook.disabled"])
    setup.publish({"type": APP_CREATED, "data": {}})

    [got] = setup.receiver.wait_for(watcher, 1)
    envelope = json.loads(got.body)
    assert envelope["eventType"] == "hookline.webhook.disabled"
    assert envelope["data"]["id"] == hook["id"]
    assert envelope["data"]["disabledReasonCode"] == "endpoint-gone"
    assert envelope["data"]["url"] == hook["url"]
    assert envelope["extensions"]["ownerId"] == hook["ownerId"]
