"""A secret rotation end to end, over real HTTPS on 127.0.0.1, on both databases: a receiver
verifying with the Standard Webhooks library keeps verifying with the old secret during the
grace period and stops after it; Qlik-Signature is the new secret's throughout."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks import WebhookVerificationError

from tests.delivery.receivers import HOST, Receiver
from tests.delivery.receivers import Received as Delivered
from tests.servers import Client, RunningServer, eventually

APP_CREATED = "com.qlik.v1.app.created"
OLD = "old-secret-" + "o" * 30
NEW = "new-secret-" + "n" * 30
GRACE = 4  # seconds: long enough for a delivery to arrive within it, short to wait out


def verifier(secret: str) -> StandardWebhook:
    """A receiver's Standard Webhooks library, holding ``secret``."""
    return StandardWebhook("whsec_" + base64.b64encode(secret.encode()).decode())


def qlik(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verifies(secret: str, got: Delivered) -> bool:
    try:
        verifier(secret).verify(got.body, got.headers)
    except WebhookVerificationError:
        return False
    return True


class Rotating:
    """A tenant's webhook to the receiver, created with the OLD secret."""

    def __init__(self, hookline: RunningServer, receiver: Receiver) -> None:
        self.receiver = receiver
        tenant = hookline.new_tenant()
        self.admin: Client = tenant.client()
        self.publisher: Client = tenant.client("publisher")
        self.path = f"/rotation-{uuid.uuid4().hex[:12]}"
        body = {
            "name": "rotating",
            "url": f"https://{HOST}:{receiver.port}{self.path}",
            "eventTypes": [APP_CREATED],
            "secret": OLD,
        }
        created = self.admin.post("/api/v1/webhooks", json=body)
        assert created.status_code == 201, created.text
        self.id = created.json()["id"]

    def rotate(self, **body: Any) -> dict[str, Any]:
        response = self.admin.post(f"/api/v1/webhooks/{self.id}/actions/rotate-secret", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def deliver(self) -> Delivered:
        """Publish one event and answer the request the receiver got for it."""
        count = self.receiver.count(self.path)
        published = self.publisher.post("/api/v1/events", json={"type": APP_CREATED, "data": {}})
        assert published.status_code == 202, published.text
        return self.receiver.wait_for(self.path, count + 1)[-1]

    def resend_first(self) -> Delivered:
        """Resend the webhook's first delivery and answer the request the receiver got."""
        count = self.receiver.count(self.path)
        deliveries = self.admin.get(f"/api/v1/webhooks/{self.id}/deliveries").json()["data"]
        first = deliveries[-1]["id"]
        resent = self.admin.post(f"/api/v1/webhooks/{self.id}/deliveries/{first}/actions/resend")
        assert resent.status_code == 201, resent.text
        return self.receiver.wait_for(self.path, count + 1)[-1]

    def rotating_until(self) -> str | None:
        shown = self.admin.get(f"/api/v1/webhooks/{self.id}").json()
        return shown["secretRotatingUntil"]  # type: ignore[no-any-return]


@pytest.fixture
def webhook(hookline: RunningServer, receiver: Receiver) -> Rotating:
    return Rotating(hookline, receiver)


def _stamped_before(got: Delivered, until: str) -> bool:
    end = datetime.fromisoformat(until.replace("Z", "+00:00"))
    return datetime.fromtimestamp(int(got.headers["webhook-timestamp"]), UTC) < end


def test_the_old_secret_verifies_during_the_grace_period_and_fails_after(
    webhook: Rotating,
) -> None:
    before = webhook.deliver()
    assert verifies(OLD, before)
    assert not verifies(NEW, before)

    until = webhook.rotate(secret=NEW, graceSeconds=GRACE)["secretRotatingUntil"]
    during = webhook.deliver()
    resent_during = webhook.resend_first()

    for got in (during, resent_during):
        assert _stamped_before(got, until)
        assert verifies(OLD, got)
        assert verifies(NEW, got)
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        assert got.headers["Qlik-Signature"] == qlik(NEW, got.body)

    assert eventually(lambda: webhook.rotating_until() is None, GRACE + 10)
    after = webhook.deliver()
    resent_after = webhook.resend_first()

    for got in (after, resent_after):
        assert not verifies(OLD, got)
        assert verifies(NEW, got)
        assert " " not in got.headers["webhook-signature"]
        assert got.headers["Qlik-Signature"] == qlik(NEW, got.body)


def test_a_generated_secret_signs_from_the_rotation_on(webhook: Rotating) -> None:
    answer = webhook.rotate(graceSeconds=0)
    generated = answer["secret"]
    assert answer["secretRotatingUntil"] is None

    got = webhook.deliver()

    assert verifies(generated, got)
    assert not verifies(OLD, got)
    assert got.headers["Qlik-Signature"] == qlik(generated, got.body)


def test_a_patch_of_the_secret_during_the_grace_stops_the_old_one_at_once(
    webhook: Rotating,
) -> None:
    webhook.rotate(secret=NEW, graceSeconds=3600)
    patched = "patched-secret-" + "p" * 30
    response = webhook.admin.patch(
        f"/api/v1/webhooks/{webhook.id}",
        json=[{"op": "replace", "path": "/secret", "value": patched}],
    )
    assert response.status_code == 204, response.text

    got = webhook.deliver()

    assert verifies(patched, got)
    assert not verifies(NEW, got)
    assert not verifies(OLD, got)
