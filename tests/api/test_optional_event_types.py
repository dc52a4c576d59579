"""``eventTypes`` is optional, as in Qlik's create and update types: left out, a webhook
has none (``[]``) and matches no event until it is given some. An empty list *sent* for
a new webhook, or to empty one that has types, is still refused: it is what a form with
nothing ticked sends, and the console relies on that answer to ask for one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import (
    APP_CREATED,
    APP_RELOADED,
    WEBHOOKS,
    assert_error,
    create,
    get,
    listed_ids,
)
from tests.servers import Client, Tenant


def _bare(client: Client, **fields: Any) -> dict[str, Any]:
    """A webhook created without eventTypes (201)."""
    body = {"name": "bare", "url": "https://hooks.example.com/in", **fields}
    response = client.post(WEBHOOKS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize("fields", [{}, {"eventTypes": None}])
def test_a_webhook_created_without_event_types_has_none(
    tenant: Tenant, fields: dict[str, Any]
) -> None:
    admin = tenant.client()

    created = _bare(admin, **fields)

    assert created["eventTypes"] == []
    assert get(admin, created["id"])["eventTypes"] == []
    assert created["id"] in listed_ids(admin)
    assert created["id"] not in listed_ids(admin, eventTypes=APP_CREATED)


def test_a_user_level_webhook_may_leave_event_types_out(tenant: Tenant) -> None:
    created = _bare(tenant.client("user", "bob"), level="user")

    assert (created["level"], created["eventTypes"]) == ("user", [])


def test_an_empty_list_sent_for_a_new_webhook_is_still_refused(tenant: Tenant) -> None:
    body = {"name": "ticked nothing", "url": "https://hooks.example.com/in", "eventTypes": []}

    response = tenant.client().post(WEBHOOKS, json=body)

    assert_error(response, 400, pointer="/eventTypes", detail="at least one event type")


def test_put_without_event_types_leaves_the_webhook_with_none(tenant: Tenant) -> None:
    admin = tenant.client()
    made = create(admin, eventTypes=[APP_CREATED])
    body = {"name": "replaced", "url": "https://hooks.example.com/in", "enabled": True}

    response = admin.put(f"{WEBHOOKS}/{made['id']}", json=body)

    assert response.status_code == 200, response.text
    assert response.json()["eventTypes"] == []
    assert get(admin, made["id"])["eventTypes"] == []


def test_put_emptying_the_list_of_a_webhook_with_types_is_refused(tenant: Tenant) -> None:
    admin = tenant.client()
    made = create(admin, eventTypes=[APP_CREATED])
    body = {"name": "n", "url": "https://hooks.example.com/in", "eventTypes": []}

    response = admin.put(f"{WEBHOOKS}/{made['id']}", json=body)

    assert_error(response, 400, pointer="/eventTypes")
    assert get(admin, made["id"]) == made


def test_a_webhook_without_types_round_trips_through_get_and_put(tenant: Tenant) -> None:
    """A client that GETs a webhook and PUTs it back, ``eventTypes: []`` included."""
    admin = tenant.client()
    made = _bare(admin)
    shown = get(admin, made["id"])
    del shown["encryptedHeaders"]  # shown as names only; a PUT sends name -> value

    response = admin.put(f"{WEBHOOKS}/{made['id']}", json={**shown, "name": "renamed"})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "renamed"
    assert response.json()["eventTypes"] == []


def test_patch_handles_a_webhook_without_types(tenant: Tenant) -> None:
    admin = tenant.client()
    made = _bare(admin)
    path = f"{WEBHOOKS}/{made['id']}"

    def patched(*operations: dict[str, Any]) -> dict[str, Any]:
        response = admin.patch(path, json=list(operations))
        assert response.status_code == 204, response.text
        return get(admin, made["id"])

    # Other fields patch as usual; the empty list is left as it is.
    assert patched({"op": "replace", "path": "/enabled", "value": False})["eventTypes"] == []
    # Given types, it has them; removing /eventTypes leaves it with none again.
    given = patched({"op": "add", "path": "/eventTypes", "value": [APP_RELOADED]})
    assert given["eventTypes"] == [APP_RELOADED]
    assert patched({"op": "remove", "path": "/eventTypes"})["eventTypes"] == []
    # Emptying the list of a webhook that has types by replacing it with [] is refused.
    patched({"op": "add", "path": "/eventTypes", "value": [APP_CREATED]})
    emptied = admin.patch(path, json=[{"op": "replace", "path": "/eventTypes", "value": []}])
    assert_error(emptied, 400, pointer="/eventTypes")
    assert get(admin, made["id"])["eventTypes"] == [APP_CREATED]


def test_openapi_does_not_require_event_types(tenant: Tenant) -> None:
    document = tenant.client().get("/openapi.json").json()
    schemas = document["components"]["schemas"]

    for name in ("NewWebhook", "WebhookReplace"):
        assert "eventTypes" not in schemas[name].get("required", []), name
        assert "minItems" not in schemas[name]["properties"]["eventTypes"], name
    assert {"name", "url"} <= set(schemas["NewWebhook"]["required"])
