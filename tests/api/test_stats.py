"""``GET /api/v1/webhooks/{id}/stats``: endpoint health over a window, for whoever may see
the webhook. Attempts are written straight into the server's database (as the delivery
engine records them), at the times a test needs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.api.helpers import WEBHOOKS, assert_error, create
from tests.attempts import Sent
from tests.attempts import record as record_attempts
from tests.servers import Tenant

STATS_FIELDS = {
    "webhookId",
    "window",
    "since",
    "until",
    "bucketSeconds",
    "attempts",
    "successes",
    "failures",
    "successRate",
    "latencyP50Ms",
    "latencyP95Ms",
    "lastSuccessAt",
    "lastFailureAt",
    "backlog",
    "sampled",
    "series",
}


def record(tenant: Tenant, webhook: dict[str, Any], *sent: Sent) -> None:
    record_attempts(tenant.server, tenant.id, webhook, *sent)


def stats(client: Any, webhook_id: str, **params: str) -> dict[str, Any]:
    response = client.get(f"{WEBHOOKS}/{webhook_id}/stats", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _seconds(span: timedelta) -> float:
    return span.total_seconds()


def test_a_webhook_without_deliveries_has_a_full_series_of_empty_buckets(
    tenant: Tenant,
) -> None:
    admin = tenant.client()
    webhook = create(admin)

    body = stats(admin, webhook["id"])

    assert set(body) == STATS_FIELDS
    assert body["webhookId"] == webhook["id"]
    assert (body["window"], body["bucketSeconds"]) == ("24h", 3600)
    assert _time(body["until"]) - _time(body["since"]) == timedelta(hours=24)
    assert (body["attempts"], body["successes"], body["failures"]) == (0, 0, 0)
    for empty in ("successRate", "latencyP50Ms", "latencyP95Ms", "lastSuccessAt"):
        assert body[empty] is None
    assert body["backlog"] == {
        "count": 0,
        "exact": True,
        "oldestTriggeredAt": None,
        "oldestAgeSeconds": None,
    }
    assert body["sampled"] is False
    assert 24 <= len(body["series"]) <= 25
    assert body["series"][0] == {
        "start": body["since"],
        "successes": 0,
        "failures": 0,
        "latencyP95Ms": None,
    }
    assert all(_time(bucket["start"]).minute == 0 for bucket in body["series"][1:])


def test_the_figures_of_a_window(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    record(
        tenant,
        webhook,
        Sent(timedelta(minutes=50), duration_ms=40.0),
        Sent(timedelta(minutes=40), duration_ms=80.0),
        Sent(timedelta(minutes=30), status_code=500, duration_ms=120.0),
        Sent(timedelta(minutes=20), status_code=None, duration_ms=10_000.0, retry=True),
        Sent(timedelta(minutes=10), duration_ms=60.0),
    )

    body = stats(admin, webhook["id"], window="1h")

    assert (body["window"], body["bucketSeconds"]) == ("1h", 300)
    assert (body["attempts"], body["successes"], body["failures"]) == (5, 3, 2)
    assert body["successRate"] == 0.6
    assert (body["latencyP50Ms"], body["latencyP95Ms"]) == (80.0, 10_000.0)
    until = _time(body["until"])
    assert _seconds(until - _time(body["lastSuccessAt"])) == pytest.approx(10 * 60, abs=5)
    assert _seconds(until - _time(body["lastFailureAt"])) == pytest.approx(20 * 60, abs=5)
    backlog = body["backlog"]
    assert (backlog["count"], backlog["exact"]) == (1, True)
    assert backlog["oldestAgeSeconds"] == pytest.approx(20 * 60, abs=5)
    series = body["series"]
    assert sum(bucket["successes"] for bucket in series) == 3
    assert sum(bucket["failures"] for bucket in series) == 2
    assert max(bucket["latencyP95Ms"] or 0 for bucket in series) == 10_000.0


def test_an_attempt_counts_in_the_windows_it_started_in(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    record(
        tenant,
        webhook,
        Sent(timedelta(minutes=61), status_code=500),  # just before the last hour
        Sent(timedelta(minutes=59)),  # just inside it
        Sent(timedelta(hours=25)),  # before the last day
    )

    hour = stats(admin, webhook["id"], window="1h")
    day = stats(admin, webhook["id"], window="24h")
    week = stats(admin, webhook["id"], window="7d")

    assert (hour["attempts"], hour["failures"]) == (1, 0)
    assert (day["attempts"], day["failures"]) == (2, 1)
    assert (week["attempts"], week["bucketSeconds"]) == (3, 21_600)
    assert 28 <= len(week["series"]) <= 29


@pytest.mark.parametrize("window", ["2h", "1H", "", "24", "7d "])
def test_an_unknown_window_is_a_400_naming_the_parameter(tenant: Tenant, window: str) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.get(f"{WEBHOOKS}/{webhook['id']}/stats", params={"window": window})

    assert_error(response, 400, code="invalid-input", parameter="window", detail="1h")


def test_another_tenants_webhook_is_a_404_like_reading_it(tenant: Tenant) -> None:
    webhook = create(tenant.client())
    record(tenant, webhook, Sent(timedelta(minutes=5)))
    stranger = tenant.server.new_tenant().client()

    response = stranger.get(f"{WEBHOOKS}/{webhook['id']}/stats")
    read = stranger.get(f"{WEBHOOKS}/{webhook['id']}")

    assert_error(response, 404, code="not-found")
    assert response.json()["errors"] == read.json()["errors"]
    assert_error(stranger.get(f"{WEBHOOKS}/{uuid.uuid4()}/stats"), 404, code="not-found")


def test_a_user_sees_the_health_of_its_own_webhooks_only(tenant: Tenant) -> None:
    admin = tenant.client("tenant-admin", "alice")
    bob = tenant.client("user", "bob")
    own = create(bob, level="user")
    record(tenant, own, Sent(timedelta(minutes=5)))
    others = [create(admin), create(tenant.client("user", "carol"), level="user")]

    assert stats(bob, own["id"])["attempts"] == 1
    for webhook in others:
        assert_error(bob.get(f"{WEBHOOKS}/{webhook['id']}/stats"), 404, code="not-found")
    assert stats(admin, own["id"])["attempts"] == 1


@pytest.mark.parametrize("role", ["publisher", "operator"])
def test_keys_without_the_webhooks_api_are_refused(tenant: Tenant, role: str) -> None:
    webhook = create(tenant.client())
    key = tenant.server.operator_key if role == "operator" else tenant.key(role)

    response = tenant.server.client(key).get(f"{WEBHOOKS}/{webhook['id']}/stats")

    assert_error(response, 403, code="forbidden")
