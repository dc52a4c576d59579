"""POST /api/v1/webhooks/{id}/actions/rotate-secret, and what PUT and PATCH of the secret
do to a rotation, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hookline.webhooks import Webhook
from tests.api.helpers import APP_CREATED, SECRET, WEBHOOKS, assert_error, create, get
from tests.databases import BACKENDS
from tests.servers import Client, RunningServer, Tenant, eventually

NEW_SECRET = "n3w-secret-" + "y" * 30
DAY = 86_400


def rotate(client: Client, webhook_id: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    path = f"{WEBHOOKS}/{webhook_id}/actions/rotate-secret"
    return client.post(path, json=body, **kwargs)


def rotated(client: Client, webhook_id: str, body: Any = None) -> dict[str, Any]:
    response = rotate(client, webhook_id, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stored(server: RunningServer, tenant: Tenant, webhook_id: str) -> Webhook:
    found = server.call(server.services.store.get_webhook(tenant.id, webhook_id))
    assert found is not None
    return found


def put_body(webhook: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A GET-then-PUT body: the webhook as shown, less the names-only encrypted headers."""
    body = {key: value for key, value in webhook.items() if key != "encryptedHeaders"}
    return {**body, **fields}


# -- rotating --------------------------------------------------------------------------------


def test_a_rotation_with_a_given_secret_keeps_the_old_one_for_a_day(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)
    before = datetime.now(UTC)

    answer = rotated(admin, webhook["id"], {"secret": NEW_SECRET})

    until = moment(answer["secretRotatingUntil"])
    assert before + timedelta(seconds=DAY - 1) < until < datetime.now(UTC) + timedelta(DAY, 1)
    assert until.microsecond == 0  # a whole second, as webhook-timestamp counts
    assert answer["secret"] is None
    assert answer["secretKeyAdded"] is True
    assert answer["updatedAt"] >= webhook["updatedAt"]
    shown = get(admin, webhook["id"])
    assert shown == {key: value for key, value in answer.items() if key != "secret"}
    listed = admin.get(WEBHOOKS, params={"limit": 100}).json()["data"]
    assert [item["secretRotatingUntil"] for item in listed] == [answer["secretRotatingUntil"]]
    assert NEW_SECRET not in json.dumps(answer) + json.dumps(shown)


def test_a_rotation_seals_both_secrets(server: RunningServer, tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)

    rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 600})

    row = stored(server, tenant, webhook["id"])
    assert row.sealed_secret is not None
    assert row.sealed_previous_secret is not None
    assert NEW_SECRET not in row.sealed_secret + row.sealed_previous_secret
    assert SECRET not in row.sealed_secret + row.sealed_previous_secret
    vault = server.services.vault
    assert vault.open(row.sealed_secret) == NEW_SECRET
    assert vault.open(row.sealed_previous_secret) == SECRET


@pytest.mark.parametrize("body", [None, {}, {"secret": None, "graceSeconds": None}])
def test_without_a_secret_one_is_generated_and_shown_once(
    server: RunningServer, tenant: Tenant, body: Any
) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)

    answer = rotated(admin, webhook["id"], body)

    generated = answer["secret"]
    assert isinstance(generated, str)
    assert len(generated) == 48
    assert answer["secretRotatingUntil"] is not None
    assert server.services.vault.open(
        stored(server, tenant, webhook["id"]).sealed_secret or ""
    ) == (generated)
    assert generated not in get(admin, webhook["id"]).values()
    assert generated not in admin.get(WEBHOOKS).text


def test_an_empty_request_body_generates_a_secret_too(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)

    response = admin.post(f"{WEBHOOKS}/{webhook['id']}/actions/rotate-secret")

    assert response.status_code == 200, response.text
    assert len(response.json()["secret"]) == 48


def test_each_generated_secret_is_new(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    made = {rotated(admin, webhook["id"])["secret"] for _ in range(3)}

    assert len(made) == 3


def test_a_grace_of_zero_replaces_the_secret_at_once(server: RunningServer, tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)

    answer = rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 0})

    assert answer["secretRotatingUntil"] is None
    row = stored(server, tenant, webhook["id"])
    assert row.sealed_previous_secret is None
    assert row.secret_rotating_until is None


def test_a_webhook_without_a_secret_simply_gets_the_new_one(
    server: RunningServer, tenant: Tenant
) -> None:
    admin = tenant.client()
    webhook = create(admin)
    assert webhook["secretKeyAdded"] is False
    assert webhook["secretRotatingUntil"] is None

    answer = rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 3600})

    assert answer["secretKeyAdded"] is True
    assert answer["secretRotatingUntil"] is None
    assert stored(server, tenant, webhook["id"]).sealed_previous_secret is None


def test_rotating_again_drops_the_oldest_and_restarts_the_grace(
    server: RunningServer, tenant: Tenant
) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)
    first = rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": DAY})

    second = rotated(admin, webhook["id"], {"secret": "third-" + "z" * 30, "graceSeconds": 60})

    assert moment(second["secretRotatingUntil"]) < moment(first["secretRotatingUntil"])
    row = stored(server, tenant, webhook["id"])
    vault = server.services.vault
    assert vault.open(row.sealed_secret or "") == "third-" + "z" * 30
    assert vault.open(row.sealed_previous_secret or "") == NEW_SECRET


def test_rotating_to_the_secret_in_force_changes_nothing(
    server: RunningServer, tenant: Tenant
) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)
    first = rotated(admin, webhook["id"], {"secret": NEW_SECRET})
    row = stored(server, tenant, webhook["id"])

    again = rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 5})

    assert again == first
    assert stored(server, tenant, webhook["id"]) == row


def test_the_rotation_ends_by_itself_after_the_grace(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)
    answer = rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 1})
    assert answer["secretRotatingUntil"] is not None

    assert eventually(lambda: get(admin, webhook["id"])["secretRotatingUntil"] is None, 10)
    assert datetime.now(UTC) >= moment(answer["secretRotatingUntil"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_maintenance_loop_drops_the_previous_secret_after_the_grace(
    make_server: Callable[..., RunningServer], backend: str
) -> None:
    server = make_server(backend, purge_interval=0.1)
    tenant = server.new_tenant()
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)

    answer = rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 1})

    assert stored(server, tenant, webhook["id"]).sealed_previous_secret is not None
    assert eventually(
        lambda: stored(server, tenant, webhook["id"]).sealed_previous_secret is None, 10
    )
    row = stored(server, tenant, webhook["id"])
    assert row.secret_rotating_until is None
    assert server.services.vault.open(row.sealed_secret or "") == NEW_SECRET
    assert get(admin, webhook["id"])["updatedAt"] == answer["updatedAt"]  # housekeeping


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer", "detail"),
    [
        ({"secret": "x" * 31}, "/secret", "secret must be 32 to 64 characters long"),
        ({"secret": "x" * 65}, "/secret", "secret must be 32 to 64 characters long"),
        ({"secret": 42}, "/secret", "secret must be a valid string"),
        ({"secret": "\x00" * 40}, "/secret", "secret"),
        ({"graceSeconds": -1}, "/graceSeconds", "graceSeconds must be 0 to 604800 seconds"),
        ({"graceSeconds": 604_801}, "/graceSeconds", "graceSeconds must be 0 to 604800 seconds"),
        ({"graceSeconds": 10**30}, "/graceSeconds", "graceSeconds must be 0 to 604800 seconds"),
        ({"graceSeconds": 1.5}, "/graceSeconds", "graceSeconds must be a valid integer"),
        ({"graceSeconds": 60.0}, "/graceSeconds", "graceSeconds must be a valid integer"),
        ({"graceSeconds": "60"}, "/graceSeconds", "graceSeconds must be a valid integer"),
        ({"graceSeconds": True}, "/graceSeconds", "graceSeconds must be a valid integer"),
        ({"graceSeconds": [60]}, "/graceSeconds", "graceSeconds must be a valid integer"),
        (["not", "an", "object"], "/", None),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(
    tenant: Tenant, body: Any, pointer: str, detail: str | None
) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)

    response = rotate(admin, webhook["id"], body)

    assert_error(response, 400, code="invalid-input", pointer=pointer, detail=detail)
    assert get(admin, webhook["id"]) == webhook


def test_every_problem_is_reported_at_once(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = rotate(admin, webhook["id"], {"secret": "short", "graceSeconds": -5})

    entries = assert_error(response, 400, code="invalid-input")
    assert sorted(entry["source"]["pointer"] for entry in entries) == ["/graceSeconds", "/secret"]


def test_malformed_json_is_a_400(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.post(
        f"{WEBHOOKS}/{webhook['id']}/actions/rotate-secret",
        content=b'{"secret": ',
        headers={"Content-Type": "application/json"},
    )

    assert_error(response, 400, code="invalid-input")


# -- who may rotate --------------------------------------------------------------------------


def test_a_user_rotates_its_own_webhook_and_no_other(tenant: Tenant) -> None:
    bob = tenant.client("user", "bob")
    own = create(bob, level="user")
    alice_webhook = create(tenant.client("user", "alice"), level="user")
    tenant_level = create(tenant.client())

    assert rotated(bob, own["id"])["secretKeyAdded"] is True
    for other in (alice_webhook, tenant_level):
        assert_error(rotate(bob, other["id"], {}), 404, code="not-found")


def test_an_admin_rotates_its_users_webhooks(tenant: Tenant) -> None:
    own = create(tenant.client("user", "bob"), level="user")

    answer = rotated(tenant.client(), own["id"], {"secret": NEW_SECRET})

    assert answer["updatedByUserId"] != "bob"
    assert answer["secretKeyAdded"] is True


@pytest.mark.parametrize("role", ["publisher", "operator"])
def test_a_publisher_or_operator_key_is_a_403(tenant: Tenant, role: str) -> None:
    admin = tenant.client()
    webhook = create(admin)
    client = (
        tenant.server.client(tenant.server.operator_key)
        if role == "operator"
        else tenant.client(role)
    )

    assert_error(rotate(client, webhook["id"], {}), 403, code="forbidden")
    assert get(admin, webhook["id"]) == webhook


def test_another_tenants_webhook_is_a_404_and_unchanged(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, secret=SECRET)
    stranger = tenant.server.new_tenant().client()

    response = rotate(stranger, webhook["id"], {"secret": NEW_SECRET})

    assert_error(response, 404, code="not-found")
    assert webhook["name"] not in response.text
    assert get(admin, webhook["id"]) == webhook


def test_an_unknown_webhook_is_a_404(tenant: Tenant) -> None:
    response = rotate(tenant.client(), "00000000-0000-0000-0000-000000000000", {})

    assert_error(response, 404, code="not-found")


def test_without_a_key_it_is_a_401(tenant: Tenant) -> None:
    webhook = create(tenant.client())

    response = rotate(tenant.server.client(None), webhook["id"], {})

    assert_error(response, 401, code="unauthorized")


# -- PUT and PATCH during a rotation ---------------------------------------------------------


def rotating(admin: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A webhook with SECRET rotated to NEW_SECRET for an hour: as created, and now."""
    webhook = create(admin, secret=SECRET)
    return webhook, rotated(admin, webhook["id"], {"secret": NEW_SECRET, "graceSeconds": 3600})


def test_patch_of_the_secret_replaces_it_at_once_with_no_grace(
    server: RunningServer, tenant: Tenant
) -> None:
    admin = tenant.client()
    webhook, _ = rotating(admin)

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}",
        json=[{"op": "replace", "path": "/secret", "value": "patched-" + "p" * 30}],
    )

    assert response.status_code == 204, response.text
    assert get(admin, webhook["id"])["secretRotatingUntil"] is None
    row = stored(server, tenant, webhook["id"])
    assert row.sealed_previous_secret is None
    assert server.services.vault.open(row.sealed_secret or "") == "patched-" + "p" * 30


def test_patch_removing_the_secret_ends_the_rotation(server: RunningServer, tenant: Tenant) -> None:
    admin = tenant.client()
    webhook, _ = rotating(admin)

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}", json=[{"op": "remove", "path": "/secret"}]
    )

    assert response.status_code == 204, response.text
    shown = get(admin, webhook["id"])
    assert (shown["secretKeyAdded"], shown["secretRotatingUntil"]) == (False, None)
    assert stored(server, tenant, webhook["id"]).sealed_previous_secret is None


def test_patch_of_other_fields_leaves_the_rotation_alone(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook, during = rotating(admin)

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}", json=[{"op": "replace", "path": "/name", "value": "renamed"}]
    )

    assert response.status_code == 204, response.text
    assert get(admin, webhook["id"])["secretRotatingUntil"] == during["secretRotatingUntil"]


def test_patch_of_secret_rotating_until_is_a_409(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook, during = rotating(admin)

    for op in ("replace", "remove"):
        operation = {"op": op, "path": "/secretRotatingUntil", "value": "2001-01-01T00:00:00Z"}
        response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", json=[operation])
        assert_error(response, 409, code="read-only", detail="secretRotatingUntil")
    assert get(admin, webhook["id"]) == {k: v for k, v in during.items() if k != "secret"}


def test_a_put_that_keeps_the_secret_in_force_leaves_the_rotation_alone(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook, during = rotating(admin)

    response = admin.put(
        f"{WEBHOOKS}/{webhook['id']}",
        json=put_body(get(admin, webhook["id"]), secret=NEW_SECRET, description="edited"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["secretRotatingUntil"] == during["secretRotatingUntil"]
    assert response.json()["description"] == "edited"


def test_a_put_of_another_secret_replaces_it_at_once(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook, _ = rotating(admin)

    response = admin.put(
        f"{WEBHOOKS}/{webhook['id']}", json=put_body(get(admin, webhook["id"]), secret=SECRET)
    )

    assert response.status_code == 200, response.text
    assert response.json()["secretRotatingUntil"] is None


def test_a_qlik_put_without_the_new_fields_or_the_secret_removes_the_secret(
    tenant: Tenant,
) -> None:
    admin = tenant.client()
    webhook, _ = rotating(admin)
    qlik = {"name": "qlik client", "url": webhook["url"], "eventTypes": [APP_CREATED]}

    response = admin.put(f"{WEBHOOKS}/{webhook['id']}", json=qlik)

    assert response.status_code == 200, response.text
    assert response.json()["secretKeyAdded"] is False
    assert response.json()["secretRotatingUntil"] is None


def test_a_put_sending_back_another_rotation_end_is_a_409(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook, during = rotating(admin)
    body = put_body(
        get(admin, webhook["id"]), secret=NEW_SECRET, secretRotatingUntil="2001-01-01T00:00:00Z"
    )

    response = admin.put(f"{WEBHOOKS}/{webhook['id']}", json=body)

    assert_error(response, 409, code="read-only", detail="secretRotatingUntil")
    assert get(admin, webhook["id"]) == {k: v for k, v in during.items() if k != "secret"}
