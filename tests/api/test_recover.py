"""POST /api/v1/webhooks/{id}/actions/recover and GET /api/v1/webhooks/{id}/tasks[/{taskId}]:
the task, its window's rules, who may, and the caps; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hookline.settings import load_settings
from hookline.store import open_store
from hookline.store.schema import tasks
from hookline.store.sql_base import SqlBase
from tests.api.helpers import WEBHOOKS, assert_error, create
from tests.databases import TEST_SECRET_KEY
from tests.servers import Client, RunningServer, Tenant, eventually

TASK_FIELDS = {
    "id",
    "type",
    "webhookId",
    "status",
    "only",
    "since",
    "until",
    "total",
    "done",
    "recovered",
    "createdAt",
    "createdByUserId",
    "finishedAt",
    "error",
}


def shown(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ago(**delta: float) -> str:
    return shown(datetime.now(UTC) - timedelta(**delta))


def recover(client: Client, webhook_id: str, body: Any) -> httpx.Response:
    return client.post(f"{WEBHOOKS}/{webhook_id}/actions/recover", json=body)


def task(client: Client, webhook_id: str, task_id: str) -> dict[str, Any]:
    response = client.get(f"{WEBHOOKS}/{webhook_id}/tasks/{task_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def finished(client: Client, webhook_id: str, task_id: str) -> dict[str, Any]:
    """The task once it has finished."""
    assert eventually(lambda: task(client, webhook_id, task_id)["finishedAt"] is not None)
    return task(client, webhook_id, task_id)


def held_task(server: RunningServer, tenant: Tenant, webhook_id: str) -> str:
    """An unfinished recover of the webhook that another process holds (its lease lasts an
    hour): it stays unfinished for the whole test. Its id."""
    task_id = str(uuid.uuid4())
    at = datetime.now(UTC)
    row = {
        "id": task_id,
        "tenant_id": tenant.id,
        "webhook_id": webhook_id,
        "type": "recover",
        "status": "running",
        "only": "failed",
        "since": at - timedelta(hours=1),
        "until": at,
        "done": 0,
        "recovered": 0,
        "created_at": at,
        "created_by_user_id": "admin",
        "stepped_at": at,
        "lease_owner": "another-process",
        "lease_until": at + timedelta(hours=1),
    }
    settings = load_settings(
        database_url=server.services.settings.database_url, secret_key=TEST_SECRET_KEY
    )

    async def insert() -> None:
        store = open_store(settings)
        assert isinstance(store, SqlBase)
        try:
            await store._write(lambda conn: conn.execute(sa.insert(tasks).values(row)))
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, insert()).result()
    return task_id


# -- the task ----------------------------------------------------------------------------------


def test_a_recover_answers_a_queued_task_to_follow(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    since, until = ago(hours=2), ago(minutes=1)

    response = recover(admin, webhook["id"], {"since": since, "until": until, "only": "all"})

    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == TASK_FIELDS
    assert answer["type"] == "recover"
    assert answer["status"] == "queued"
    assert (answer["webhookId"], answer["only"]) == (webhook["id"], "all")
    assert (answer["since"], answer["until"]) == (since, until)
    assert (answer["total"], answer["done"], answer["recovered"]) == (None, 0, 0)
    assert answer["createdByUserId"]
    assert answer["finishedAt"] is None
    assert answer["error"] is None
    follow = admin.get(response.headers["location"])
    assert follow.status_code == 200, follow.text
    assert follow.json()["id"] == answer["id"]

    done = finished(admin, webhook["id"], answer["id"])
    assert done["status"] == "done"
    assert (done["total"], done["done"], done["recovered"]) == (0, 0, 0)  # no events at all
    listed = admin.get(f"{WEBHOOKS}/{webhook['id']}/tasks")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"data": [done]}


def test_until_defaults_to_now_and_only_to_failed(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    before = datetime.now(UTC) - timedelta(milliseconds=1)

    answer = recover(admin, webhook["id"], {"since": ago(hours=1), "only": None}).json()

    assert answer["only"] == "failed"
    until = datetime.fromisoformat(answer["until"].replace("Z", "+00:00"))
    assert before <= until <= datetime.now(UTC)
    assert answer["createdAt"] == answer["until"]


def test_tasks_are_listed_newest_first_up_to_the_limit(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    made = []
    for _ in range(3):
        answer = recover(admin, webhook["id"], {"since": ago(hours=1)}).json()
        finished(admin, webhook["id"], answer["id"])  # one at a time per webhook
        made.append(answer["id"])

    listed = admin.get(f"{WEBHOOKS}/{webhook['id']}/tasks", params={"limit": 2}).json()["data"]

    assert [item["id"] for item in listed] == made[::-1][:2]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer", "detail"),
    [
        ({"since": "DAYS_AGO_8"}, "/since", "the history is kept 7 days"),
        ({"since": "HOUR_AGO", "until": "IN_AN_HOUR"}, "/until", "must not be in the future"),
        ({"since": "HOUR_AGO", "until": "DAYS_AGO_2"}, "/since", "must be before until"),
        ({"since": "HOUR_AGO", "until": "HOUR_AGO"}, "/since", "must be before until"),
        ({"since": "IN_AN_HOUR"}, "/since", "must be in the past"),
        ({"since": "HOUR_AGO", "only": "succeeded"}, "/only", "'failed', 'missing' or 'all'"),
        ({"until": "HOUR_AGO"}, "/since", "is required"),
        ({"since": "2026-01-01T00:00:00"}, "/since", "timezone"),
        ({"since": "yesterday"}, "/since", "datetime"),
        ({"since": "HOUR_AGO", "window": "1h"}, "/window", "is not permitted"),
        ([], "/", "valid dictionary"),
    ],
)
def test_a_bad_window_or_choice_is_a_400_naming_the_member(
    tenant: Tenant, body: Any, pointer: str, detail: str
) -> None:
    admin = tenant.client()
    webhook = create(admin)
    moments = {
        "DAYS_AGO_8": ago(days=8),
        "DAYS_AGO_2": ago(days=2),
        "HOUR_AGO": ago(hours=1),
        "IN_AN_HOUR": ago(hours=-1),
    }
    if isinstance(body, dict):
        body = {key: moments.get(value, value) for key, value in body.items()}

    response = recover(admin, webhook["id"], body)

    assert_error(response, 400, code="invalid-input", pointer=pointer, detail=detail)
    assert admin.get(f"{WEBHOOKS}/{webhook['id']}/tasks").json() == {"data": []}


def test_every_problem_of_the_window_is_answered_at_once(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = recover(admin, webhook["id"], {"since": ago(days=30), "until": ago(days=-1)})

    entries = assert_error(response, 400, code="invalid-input")
    assert [entry["source"]["pointer"] for entry in entries] == ["/since", "/until"]


def test_a_missing_body_is_a_400(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.post(f"{WEBHOOKS}/{webhook['id']}/actions/recover")

    assert_error(response, 400, pointer="/", detail="a JSON request body is required")


# -- who may -----------------------------------------------------------------------------------


def test_another_tenants_webhook_and_tasks_are_404s(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    mine = recover(admin, webhook["id"], {"since": ago(hours=1)}).json()
    stranger = tenant.server.new_tenant().client()
    theirs = create(stranger)

    assert_error(recover(stranger, webhook["id"], {"since": ago(hours=1)}), 404, code="not-found")
    for path in (f"{webhook['id']}/tasks/{mine['id']}", f"{webhook['id']}/tasks"):
        assert_error(stranger.get(f"{WEBHOOKS}/{path}"), 404, code="not-found")
    # their own webhook's id does not lead to my task either
    assert_error(stranger.get(f"{WEBHOOKS}/{theirs['id']}/tasks/{mine['id']}"), 404)
    # nor does another webhook of my own tenant
    other = create(admin)
    assert_error(admin.get(f"{WEBHOOKS}/{other['id']}/tasks/{mine['id']}"), 404)
    assert_error(admin.get(f"{WEBHOOKS}/{webhook['id']}/tasks/{uuid.uuid4()}"), 404)


def test_a_user_recovers_its_own_webhooks_only(tenant: Tenant) -> None:
    admin = tenant.client()
    user = tenant.client("user", "u1")
    tenant_level = create(admin)
    own = create(user, level="user")

    assert recover(user, own["id"], {"since": ago(hours=1)}).status_code == 202
    assert_error(recover(user, tenant_level["id"], {"since": ago(hours=1)}), 404)
    publisher = tenant.client("publisher")
    assert_error(recover(publisher, own["id"], {"since": ago(hours=1)}), 403, code="forbidden")


def test_a_disabled_webhook_is_not_recovered(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, enabled=False)

    response = recover(admin, webhook["id"], {"since": ago(hours=1)})

    assert_error(response, 403, code="forbidden", detail="enable it before recovering")


# -- caps --------------------------------------------------------------------------------------


def test_one_recover_at_a_time_per_webhook(server: RunningServer, tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    running = held_task(server, tenant, webhook["id"])

    response = recover(admin, webhook["id"], {"since": ago(hours=1)})

    assert_error(response, 403, code="limit-reached", detail=running)
    assert recover(admin, create(admin)["id"], {"since": ago(hours=1)}).status_code == 202


def test_a_tenant_has_a_few_recovers_at_a_time(server: RunningServer, tenant: Tenant) -> None:
    admin = tenant.client()
    for _ in range(server.services.settings.max_recovers_per_tenant):
        held_task(server, tenant, create(admin)["id"])

    response = recover(admin, create(admin)["id"], {"since": ago(hours=1)})

    assert_error(response, 403, code="limit-reached", detail="HOOKLINE_MAX_RECOVERS_PER_TENANT")
    other = tenant.server.new_tenant().client()  # caps are the tenant's own
    assert recover(other, create(other)["id"], {"since": ago(hours=1)}).status_code == 202
