"""PUT /api/v1/webhooks/{id}: a full replace; read-only fields may only be repeated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import (
    APP_CREATED,
    APP_DELETED,
    APP_RELOADED,
    READ_ONLY_FIELDS,
    SECRET,
    WEBHOOKS,
    assert_error,
    create,
    get,
)
from tests.servers import Client, Tenant

REPLACEMENT = {
    "name": "replaced",
    "url": "https://other.example.org/new",
    "eventTypes": [APP_RELOADED],
}


def put(client: Client, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"{WEBHOOKS}/{webhook_id}", json=body)
    assert response.status_code == 200, response.text
    replaced: dict[str, Any] = response.json()
    return replaced


def full(client: Client, **fields: Any) -> dict[str, Any]:
    """A webhook with every optional field set."""
    return create(
        client,
        description="all set",
        headers={"X-Team": "blue"},
        encryptedHeaders={"Authorization": "Bearer t0ken"},
        secret=SECRET,
        filter='id eq "a1"',
        checkCertificateRevocation=True,
        **fields,
    )


def test_put_replaces_the_webhook_and_answers_200_with_it(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = full(admin)

    replaced = put(admin, webhook["id"], {**REPLACEMENT, "enabled": True})

    assert replaced["id"] == webhook["id"]
    assert replaced["name"] == "replaced"
    assert replaced["url"] == "https://other.example.org/new"
    assert replaced["eventTypes"] == [APP_RELOADED]
    assert replaced["enabled"] is True
    assert get(admin, webhook["id"]) == replaced


def test_put_clears_every_omitted_writable_field(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = full(admin)

    replaced = put(admin, webhook["id"], REPLACEMENT)

    assert replaced["description"] == ""
    assert replaced["headers"] == {}
    assert replaced["encryptedHeaders"] == []
    assert replaced["secretKeyAdded"] is False
    assert replaced["filter"] is None
    assert replaced["checkCertificateRevocation"] is False
    assert replaced["enabled"] is False
    assert get(admin, webhook["id"]) == replaced


def test_put_with_nulls_clears_like_omission(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = full(admin)
    nulls = dict.fromkeys(
        ["description", "headers", "encryptedHeaders", "secret", "filter", "enabled"]
    )
    nulls.update(dict.fromkeys(READ_ONLY_FIELDS))

    replaced = put(admin, webhook["id"], {**REPLACEMENT, **nulls})

    assert replaced["description"] == ""
    assert replaced["headers"] == {}
    assert replaced["encryptedHeaders"] == []
    assert replaced["secretKeyAdded"] is False
    assert replaced["filter"] is None
    assert replaced["enabled"] is False


def test_put_keeps_the_read_only_fields_and_stamps_the_update(tenant: Tenant) -> None:
    webhook = create(tenant.client("tenant-admin", "alice"), origin="automations")
    amy = tenant.client("tenant-admin", "amy")

    replaced = put(amy, webhook["id"], REPLACEMENT)

    for field in ("id", "createdAt", "createdByUserId", "origin", "level", "ownerId"):
        assert replaced[field] == webhook[field], field
    assert replaced["updatedByUserId"] == "amy"
    assert replaced["updatedAt"] >= webhook["updatedAt"]


def test_put_sets_a_new_secret_and_new_encrypted_headers(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    replaced = put(
        admin,
        webhook["id"],
        {**REPLACEMENT, "secret": SECRET, "encryptedHeaders": {"X-Tok": "v", "X-Other": "w"}},
    )

    assert replaced["secretKeyAdded"] is True
    assert sorted(replaced["encryptedHeaders"]) == ["X-Other", "X-Tok"]
    assert SECRET not in str(replaced)


def test_get_then_put_round_trip_is_accepted_and_changes_nothing(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(
        admin,
        description="round trip",
        headers={"X-Team": "blue"},
        filter='spaceId eq "s1"',
        origin="management-console",
        checkCertificateRevocation=True,
        enableCloudEventDelivery=True,
        eventTypes=[APP_CREATED, APP_DELETED],
    )
    sent = get(admin, webhook["id"])
    del sent["encryptedHeaders"]  # GET shows names only; a PUT must send values

    replaced = put(admin, webhook["id"], sent)

    unchanged = {key: value for key, value in replaced.items() if key != "updatedAt"}
    assert unchanged == {key: value for key, value in webhook.items() if key != "updatedAt"}


def test_get_then_put_round_trip_of_a_user_level_webhook(tenant: Tenant) -> None:
    bob = tenant.client("user", "bob")
    webhook = create(bob, level="user", enabled=False)
    sent = get(bob, webhook["id"])
    del sent["encryptedHeaders"]

    replaced = put(bob, webhook["id"], sent)

    assert replaced["level"] == "user"
    assert replaced["ownerId"] == "bob"
    assert replaced["enabled"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "00000000-0000-0000-0000-000000000000"),
        ("createdAt", "2001-01-01T00:00:00.000Z"),
        ("updatedAt", "2001-01-01T00:00:00.000Z"),
        ("createdByUserId", "mallory"),
        ("updatedByUserId", "mallory"),
        ("origin", "automations"),
        ("level", "user"),
        ("ownerId", "mallory"),
        ("disabledReason", "I say so"),
        ("disabledReasonCode", "manual"),
        ("secretKeyAdded", True),
    ],
)
def test_put_changing_a_read_only_field_is_a_409(tenant: Tenant, field: str, value: Any) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.put(f"{WEBHOOKS}/{webhook['id']}", json={**REPLACEMENT, field: value})

    assert_error(response, 409, code="read-only", detail=field)
    assert get(admin, webhook["id"]) == webhook


def test_put_repeating_a_timestamp_in_another_notation_is_accepted(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    same_instant = webhook["createdAt"].removesuffix("Z") + "+00:00"

    replaced = put(admin, webhook["id"], {**REPLACEMENT, "createdAt": same_instant})

    assert replaced["createdAt"] == webhook["createdAt"]


def test_put_turning_cloud_event_delivery_off_is_a_403(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, enableCloudEventDelivery=True)

    turned_off = admin.put(
        f"{WEBHOOKS}/{webhook['id']}", json={**REPLACEMENT, "enableCloudEventDelivery": False}
    )
    omitted = admin.put(f"{WEBHOOKS}/{webhook['id']}", json=REPLACEMENT)

    assert_error(turned_off, 403, detail="enableCloudEventDelivery")
    assert_error(omitted, 403, detail="enableCloudEventDelivery")
    assert get(admin, webhook["id"]) == webhook


def test_put_may_turn_cloud_event_delivery_on_and_keep_it_on(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    on = put(admin, webhook["id"], {**REPLACEMENT, "enableCloudEventDelivery": True})
    still_on = put(admin, webhook["id"], {**REPLACEMENT, "enableCloudEventDelivery": True})

    assert on["enableCloudEventDelivery"] is True
    assert still_on["enableCloudEventDelivery"] is True


def test_re_enabling_a_disabled_webhook_leaves_no_disabled_reason(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, enabled=False)

    enabled = put(admin, webhook["id"], {**REPLACEMENT, "enabled": True})

    assert enabled["enabled"] is True
    assert enabled["disabledReason"] is None
    assert enabled["disabledReasonCode"] is None


def test_put_ignores_unknown_members(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    replaced = put(admin, webhook["id"], {**REPLACEMENT, "links": {"self": "x"}, "extra": 1})

    assert "links" not in replaced
    assert "extra" not in replaced


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"name": None}, "/name"),
        ({"url": None}, "/url"),
        ({"eventTypes": []}, "/eventTypes"),
        ({"url": "https://10.0.0.1/x"}, "/url"),
        ({"eventTypes": ["nope"]}, "/eventTypes/0"),
        ({"secret": "short"}, "/secret"),
        ({"headers": {"Connection": "close"}}, "/headers/Connection"),
        ({"filter": "id eq"}, "/filter"),
        ({"description": "d" * 1025}, "/description"),
    ],
)
def test_put_with_an_invalid_field_is_a_400_and_changes_nothing(
    tenant: Tenant, fields: dict[str, Any], pointer: str
) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.put(f"{WEBHOOKS}/{webhook['id']}", json={**REPLACEMENT, **fields})

    assert_error(response, 400, code="invalid-input", pointer=pointer)
    assert get(admin, webhook["id"]) == webhook


def test_put_of_a_tenant_only_event_type_on_a_user_level_webhook_is_a_400(
    tenant: Tenant,
) -> None:
    bob = tenant.client("user", "bob")
    webhook = create(bob, level="user")

    response = bob.put(
        f"{WEBHOOKS}/{webhook['id']}", json={**REPLACEMENT, "eventTypes": [APP_DELETED]}
    )

    assert_error(response, 400, pointer="/eventTypes/0")


def test_put_of_an_unknown_webhook_is_a_404(tenant: Tenant) -> None:
    response = tenant.client().put(
        f"{WEBHOOKS}/00000000-0000-4000-8000-000000000000", json=REPLACEMENT
    )

    assert_error(response, 404, code="not-found")
