"""Shared helpers of the API tests: request bodies, creating webhooks, checking error bodies."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

WEBHOOKS = "/api/v1/webhooks"
APP_CREATED = "com.qlik.v1.app.created"
APP_DELETED = "com.qlik.v1.app.deleted"  # tenant level only
APP_RELOADED = "com.qlik.v1.app.reload.finished"
USER_CREATED = "com.qlik.v1.user.created"  # tenant level only
SECRET = "s3cr3t-" + "x" * 30  # 37 characters
READ_ONLY_FIELDS = (
    "id",
    "createdAt",
    "updatedAt",
    "createdByUserId",
    "updatedByUserId",
    "origin",
    "level",
    "ownerId",
    "disabledReason",
    "disabledReasonCode",
    "secretKeyAdded",
    "secretRotatingUntil",
)
WEBHOOK_FIELDS = {
    "id",
    "name",
    "description",
    "url",
    "eventTypes",
    "headers",
    "encryptedHeaders",
    "enabled",
    "filter",
    "level",
    "ownerId",
    "origin",
    "checkCertificateRevocation",
    "enableCloudEventDelivery",
    "rateLimit",
    "ordering",
    "secretKeyAdded",
    "secretRotatingUntil",
    "disabledReason",
    "disabledReasonCode",
    "createdAt",
    "updatedAt",
    "createdByUserId",
    "updatedByUserId",
}


def webhook_body(**fields: Any) -> dict[str, Any]:
    """A valid create body, with ``fields`` (snake or camel names as given) on top."""
    body: dict[str, Any] = {
        "name": f"hook-{uuid.uuid4().hex[:8]}",
        "url": "https://hooks.example.com/in",
        "eventTypes": [APP_CREATED],
    }
    body.update(fields)
    return body


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """Create a webhook (201) and return it."""
    response = client.post(WEBHOOKS, json=webhook_body(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries_made(client: httpx.Client, webhook_id: str, timeout: float = 30) -> list[Any]:
    """The webhook's deliveries once there is one: fan-out makes them after the publish
    has been answered, sooner or later."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{WEBHOOKS}/{webhook_id}/deliveries")
        assert response.status_code == 200, response.text
        found: list[Any] = response.json()["data"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def get(client: httpx.Client, webhook_id: str) -> dict[str, Any]:
    response = client.get(f"{WEBHOOKS}/{webhook_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def listed_ids(client: httpx.Client, **params: Any) -> list[str]:
    """The ids of one list page (limit 100) with these query parameters."""
    response = client.get(WEBHOOKS, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def assert_error(
    response: httpx.Response,
    status: int,
    *,
    code: str | None = None,
    pointer: str | None = None,
    parameter: str | None = None,
    detail: str | None = None,
) -> list[dict[str, Any]]:
    """``response`` is an error in hookline's (Qlik's) shape; return its error entries.

    ``pointer``/``parameter``: some entry names this body field / query parameter;
    ``detail``: some entry's detail contains this text (case-insensitively).
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors", "traceId"}, body
    assert isinstance(body["traceId"], str)
    assert body["traceId"]
    assert body["traceId"] == response.headers["x-trace-id"]
    entries: list[dict[str, Any]] = body["errors"]
    assert entries, body
    for entry in entries:
        assert set(entry) <= {"code", "title", "detail", "source", "meta"}, entry
        for member in ("code", "title", "detail"):
            assert isinstance(entry[member], str), entry
            assert entry[member], entry
    if code is not None:
        assert [entry["code"] for entry in entries] == [code] * len(entries), entries
    if pointer is not None:
        pointers = [entry.get("source", {}).get("pointer") for entry in entries]
        assert pointer in pointers, entries
    if parameter is not None:
        parameters = [entry.get("source", {}).get("parameter") for entry in entries]
        assert parameter in parameters, entries
    if detail is not None:
        assert any(detail.lower() in entry["detail"].lower() for entry in entries), entries
    return entries


# The detail of every 503, before " (trace id …)".
UNAVAILABLE = "the database is unavailable; try again shortly"
# What a database error's text looks like; none of it may reach a client.
SQL_MARKERS = (
    "select ",
    "insert ",
    " from ",
    "where ",
    "webhook_event_types",
    "api_keys",
    "sqlite",
    "asyncpg",
    "sqlalchemy",
    "sqlstate",
    "[sql",
    "parameters",
    "sqlalche.me",
)


def assert_no_sql(text: str) -> None:
    found = [marker for marker in SQL_MARKERS if marker in text.lower()]
    assert not found, text
