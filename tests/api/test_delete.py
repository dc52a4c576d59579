"""DELETE /api/v1/webhooks/{id} -> 204; afterwards the webhook is gone."""

from __future__ import annotations

from tests.api.helpers import WEBHOOKS, assert_error, create, get, listed_ids
from tests.servers import Tenant


def test_delete_answers_204_without_a_body(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.delete(f"{WEBHOOKS}/{webhook['id']}")

    assert response.status_code == 204
    assert response.content == b""


def test_deleted_webhook_is_gone_from_get_and_list(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    other = create(admin)

    admin.delete(f"{WEBHOOKS}/{webhook['id']}")

    assert_error(admin.get(f"{WEBHOOKS}/{webhook['id']}"), 404, code="not-found")
    assert listed_ids(admin) == [other["id"]]
    assert get(admin, other["id"]) == other


def test_deleting_twice_is_a_404_the_second_time(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    assert admin.delete(f"{WEBHOOKS}/{webhook['id']}").status_code == 204

    response = admin.delete(f"{WEBHOOKS}/{webhook['id']}")

    assert_error(response, 404, code="not-found", detail=webhook["id"])


def test_put_and_patch_of_a_deleted_webhook_are_404(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    admin.delete(f"{WEBHOOKS}/{webhook['id']}")

    put = admin.put(
        f"{WEBHOOKS}/{webhook['id']}",
        json={"name": "n", "url": webhook["url"], "eventTypes": webhook["eventTypes"]},
    )
    patch = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}", json=[{"op": "replace", "path": "/name", "value": "n"}]
    )

    assert_error(put, 404)
    assert_error(patch, 404)
    assert listed_ids(admin) == []


def test_deleting_an_unknown_id_is_a_404(tenant: Tenant) -> None:
    response = tenant.client().delete(f"{WEBHOOKS}/00000000-0000-4000-8000-000000000000")

    assert_error(response, 404, code="not-found")


def test_a_webhook_with_event_types_and_secrets_deletes_cleanly(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(
        admin,
        eventTypes=["com.qlik.v1.app.created", "com.qlik.v1.user.deleted"],
        secret="x" * 40,
        encryptedHeaders={"X-Tok": "t"},
    )

    assert admin.delete(f"{WEBHOOKS}/{webhook['id']}").status_code == 204
    assert listed_ids(admin, eventTypes="com.qlik.v1.user.deleted") == []
