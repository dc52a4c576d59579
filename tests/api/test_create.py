"""POST /api/v1/webhooks: defaults, write-only secrets, nulls, validation, caps."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.api.helpers import (
    APP_CREATED,
    APP_DELETED,
    APP_RELOADED,
    SECRET,
    WEBHOOK_FIELDS,
    WEBHOOKS,
    assert_error,
    create,
    get,
    webhook_body,
)
from tests.databases import BACKENDS
from tests.servers import RunningServer, Tenant


def test_create_answers_201_with_the_webhook_and_its_defaults(tenant: Tenant) -> None:
    admin = tenant.client("tenant-admin", "alice")
    body = {
        "name": "orders",
        "url": "https://hooks.example.com/orders",
        "eventTypes": [APP_CREATED],
    }

    response = admin.post(WEBHOOKS, json=body)

    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == WEBHOOK_FIELDS
    uuid.UUID(created["id"])
    assert created["name"] == "orders"
    assert created["url"] == "https://hooks.example.com/orders"
    assert created["eventTypes"] == [APP_CREATED]
    assert created["enabled"] is True
    assert created["level"] == "tenant"
    assert created["origin"] == "api"
    assert created["ownerId"] == "alice"
    assert created["createdByUserId"] == "alice"
    assert created["updatedByUserId"] == "alice"
    assert created["description"] == ""
    assert created["headers"] == {}
    assert created["encryptedHeaders"] == []
    assert created["filter"] is None
    assert created["checkCertificateRevocation"] is False
    assert created["enableCloudEventDelivery"] is False
    assert created["rateLimit"] is None
    assert created["ordering"] == "none"
    assert created["secretKeyAdded"] is False
    assert created["disabledReason"] is None
    assert created["disabledReasonCode"] is None
    assert created["createdAt"] == created["updatedAt"]
    assert created["createdAt"].endswith("Z")
    datetime.fromisoformat(created["createdAt"])


def test_created_webhook_reads_back_the_same(tenant: Tenant) -> None:
    admin = tenant.client()
    created = create(admin, description="d", headers={"X-Team": "blue"}, filter='id eq "a1"')

    assert get(admin, created["id"]) == created


def test_every_writable_field_is_stored_as_given(tenant: Tenant) -> None:
    admin = tenant.client()
    body = webhook_body(
        name="Full",
        description="every field",
        url="https://hooks.example.com/full?x=1",
        eventTypes=[APP_CREATED, APP_RELOADED, APP_DELETED],
        headers={"X-Team": "blue", "X-Env": "prod"},
        encryptedHeaders={"Authorization": "Bearer t0ken"},
        enabled=False,
        filter='id eq "a1" or spaceId eq "s9"',
        checkCertificateRevocation=True,
        enableCloudEventDelivery=True,
        secret=SECRET,
    )

    created = create(admin, **body)

    assert created["name"] == "Full"
    assert created["description"] == "every field"
    assert created["url"] == "https://hooks.example.com/full?x=1"
    assert sorted(created["eventTypes"]) == sorted([APP_CREATED, APP_RELOADED, APP_DELETED])
    assert created["headers"] == {"X-Team": "blue", "X-Env": "prod"}
    assert created["encryptedHeaders"] == ["Authorization"]
    assert created["enabled"] is False
    assert created["filter"] == 'id eq "a1" or spaceId eq "s9"'
    assert created["checkCertificateRevocation"] is True
    assert created["enableCloudEventDelivery"] is True
    assert created["secretKeyAdded"] is True
    assert get(admin, created["id"]) == created


def test_secret_is_never_returned(tenant: Tenant) -> None:
    admin = tenant.client()

    response = admin.post(WEBHOOKS, json=webhook_body(secret=SECRET))

    assert response.status_code == 201
    assert response.json()["secretKeyAdded"] is True
    assert "secret" not in response.json()
    webhook_id = response.json()["id"]
    for read in (admin.get(f"{WEBHOOKS}/{webhook_id}"), admin.get(WEBHOOKS)):
        assert read.status_code == 200
        assert SECRET not in read.text
        assert '"secret"' not in read.text
    assert SECRET not in response.text


def test_encrypted_headers_are_returned_as_names_only(tenant: Tenant) -> None:
    admin = tenant.client()
    values = {"Authorization": "Bearer very-private", "X-Api-Key": "also-private"}

    response = admin.post(WEBHOOKS, json=webhook_body(encryptedHeaders=values))

    assert response.status_code == 201
    assert sorted(response.json()["encryptedHeaders"]) == ["Authorization", "X-Api-Key"]
    listed = admin.get(WEBHOOKS)
    for text in (response.text, admin.get(f"{WEBHOOKS}/{response.json()['id']}").text, listed.text):
        assert "very-private" not in text
        assert "also-private" not in text


def test_null_for_every_optional_and_read_only_field_means_absent(tenant: Tenant) -> None:
    admin = tenant.client("tenant-admin", "alice")
    nulls = dict.fromkeys(
        [
            "description",
            "secret",
            "headers",
            "encryptedHeaders",
            "enabled",
            "filter",
            "level",
            "ownerId",
            "origin",
            "checkCertificateRevocation",
            "enableCloudEventDelivery",
            "id",
            "createdAt",
            "updatedAt",
            "createdByUserId",
            "updatedByUserId",
            "disabledReason",
            "disabledReasonCode",
            "secretKeyAdded",
        ]
    )

    with_nulls = create(admin, **nulls)
    without = create(admin)

    def comparable(webhook: dict[str, Any]) -> dict[str, Any]:
        ignored = {"id", "name", "createdAt", "updatedAt"}
        return {key: value for key, value in webhook.items() if key not in ignored}

    assert comparable(with_nulls) == comparable(without)
    assert with_nulls["enabled"] is True
    assert with_nulls["level"] == "tenant"
    assert with_nulls["origin"] == "api"
    assert with_nulls["ownerId"] == "alice"


def test_unknown_members_and_read_only_values_on_create_are_ignored(tenant: Tenant) -> None:
    admin = tenant.client("tenant-admin", "alice")

    created = create(
        admin,
        somethingElse={"nested": [1, 2]},
        id="11111111-1111-1111-1111-111111111111",
        createdAt="2001-01-01T00:00:00.000Z",
        createdByUserId="mallory",
        secretKeyAdded=True,
        disabledReason="made up",
    )

    assert "somethingElse" not in created
    assert created["id"] != "11111111-1111-1111-1111-111111111111"
    assert not created["createdAt"].startswith("2001")
    assert created["createdByUserId"] == "alice"
    assert created["secretKeyAdded"] is False
    assert created["disabledReason"] is None


@pytest.mark.parametrize("origin", ["api", "automations", "management-console"])
def test_origin_can_be_set_on_create(tenant: Tenant, origin: str) -> None:
    created = create(tenant.client(), origin=origin)

    assert created["origin"] == origin


def test_repeated_event_types_are_stored_once(tenant: Tenant) -> None:
    created = create(tenant.client(), eventTypes=[APP_CREATED, APP_CREATED, APP_RELOADED])

    assert sorted(created["eventTypes"]) == [APP_CREATED, APP_RELOADED]


def test_a_blank_filter_means_no_filter(tenant: Tenant) -> None:
    created = create(tenant.client(), filter="   ")

    assert created["filter"] is None


def test_tenant_admin_creates_a_user_level_webhook_owned_by_itself(tenant: Tenant) -> None:
    created = create(tenant.client("tenant-admin", "alice"), level="user")

    assert created["level"] == "user"
    assert created["ownerId"] == "alice"


def test_tenant_admin_creates_a_user_level_webhook_for_one_of_its_users(tenant: Tenant) -> None:
    tenant.key("user", "bob")  # makes the user
    admin = tenant.client("tenant-admin", "alice")

    created = create(admin, level="user", ownerId="bob")

    assert created["ownerId"] == "bob"
    assert created["createdByUserId"] == "alice"
    assert create(tenant.client("user", "bob"), level="user")["ownerId"] == "bob"


_LONG_URL = "https://hooks.example.com/" + "p" * 2030


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"name": None}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "   "}, "/name"),
        ({"name": "n" * 513}, "/name"),
        ({"name": 42}, "/name"),
        ({"description": "d" * 1025}, "/description"),
        ({"url": None}, "/url"),
        ({"url": "http://hooks.example.com/in"}, "/url"),
        ({"url": "ftp://hooks.example.com/in"}, "/url"),
        ({"url": "https://192.0.2.10/in"}, "/url"),
        ({"url": "https://[2001:db8::1]/in"}, "/url"),
        ({"url": "https://3221225994/in"}, "/url"),
        ({"url": "https://user:pass@hooks.example.com/in"}, "/url"),
        ({"url": "https://localhost/in"}, "/url"),
        ({"url": "https://hooks/in"}, "/url"),
        ({"url": "https://-bad-.example.com/in"}, "/url"),
        ({"url": "https://exam\u00adple.com/in"}, "/url"),
        ({"url": "https://exa\u200bmple.com/in"}, "/url"),
        ({"url": "not a url"}, "/url"),
        ({"url": _LONG_URL}, "/url"),
        ({"eventTypes": []}, "/eventTypes"),
        ({"eventTypes": "com.qlik.v1.app.created"}, "/eventTypes"),
        ({"eventTypes": ["com.qlik.v1.app.nothing"]}, "/eventTypes/0"),
        ({"eventTypes": [APP_CREATED, "nope"]}, "/eventTypes/1"),
        ({"secret": "s" * 31}, "/secret"),
        ({"secret": "s" * 65}, "/secret"),
        ({"headers": {"Content-Type": "text/plain"}}, "/headers/Content-Type"),
        ({"headers": {"qlik-signature": "x"}}, "/headers/qlik-signature"),
        ({"headers": {"Webhook-Id": "x"}}, "/headers/Webhook-Id"),
        ({"headers": {"Bad Name": "x"}}, "/headers/Bad Name"),
        ({"headers": {"X-Split": "a\r\nInjected: yes"}}, "/headers/X-Split"),
        ({"headers": {"X-Big": "v" * 2048}}, "/headers"),
        ({"headers": {"X-Num": 5}}, "/headers/X-Num"),
        ({"encryptedHeaders": {"Host": "evil.example.com"}}, "/encryptedHeaders/Host"),
        ({"encryptedHeaders": {"X-Big": "v" * 2048}}, "/encryptedHeaders"),
        (
            {"headers": {"X-Token": "a"}, "encryptedHeaders": {"x-token": "b"}},
            "/encryptedHeaders/x-token",
        ),
        ({"filter": 'id eq "a1" and'}, "/filter"),
        ({"filter": "name eq 'x'"}, "/filter"),
        ({"enabled": "sometimes"}, "/enabled"),
        ({"level": "org"}, "/level"),
        ({"origin": "console"}, "/origin"),
        ({"checkCertificateRevocation": []}, "/checkCertificateRevocation"),
    ],
)
def test_invalid_field_is_a_400_naming_the_field(
    tenant: Tenant, fields: dict[str, Any], pointer: str
) -> None:
    admin = tenant.client()

    response = admin.post(WEBHOOKS, json=webhook_body(**fields))

    assert_error(response, 400, code="invalid-input", pointer=pointer)
    assert admin.get(WEBHOOKS).json()["data"] == []


def test_duplicate_header_names_differing_only_in_case_are_refused(tenant: Tenant) -> None:
    raw = (
        '{"name": "dup", "url": "https://hooks.example.com/in", '
        '"eventTypes": ["com.qlik.v1.app.created"], "headers": {"X-A": "1", "x-a": "2"}}'
    )

    response = tenant.client().post(
        WEBHOOKS, content=raw, headers={"Content-Type": "application/json"}
    )

    errors = assert_error(response, 400)
    assert any(e.get("source", {}).get("pointer", "").startswith("/headers") for e in errors)


def test_a_filter_error_names_the_position(tenant: Tenant) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(filter='id eq "a1" and'))

    assert_error(response, 400, pointer="/filter", detail="position")


def test_every_broken_rule_is_reported_at_once(tenant: Tenant) -> None:
    body = {"name": "", "url": "http://10.0.0.1/", "eventTypes": ["nope"], "secret": "short"}

    response = tenant.client().post(WEBHOOKS, json=body)

    errors = assert_error(response, 400)
    pointers = {entry["source"]["pointer"] for entry in errors}
    assert {"/name", "/url", "/eventTypes/0", "/secret"} <= pointers


def test_secret_of_32_and_64_characters_is_accepted(tenant: Tenant) -> None:
    admin = tenant.client()

    assert create(admin, secret="a" * 32)["secretKeyAdded"] is True
    assert create(admin, secret="a" * 64)["secretKeyAdded"] is True


def test_limits_at_their_maximum_are_accepted(tenant: Tenant) -> None:
    url = "https://hooks.example.com/" + "p" * (2048 - len("https://hooks.example.com/"))
    created = create(
        tenant.client(),
        name="n" * 512,
        description="d" * 1024,
        url=url,
        headers={"X-Big": "v" * (2048 - len("X-Big"))},
    )

    assert len(created["name"]) == 512
    assert len(created["url"]) == 2048


def test_tenant_only_event_type_is_refused_on_a_user_level_webhook(tenant: Tenant) -> None:
    response = tenant.client().post(
        WEBHOOKS, json=webhook_body(level="user", eventTypes=[APP_CREATED, APP_DELETED])
    )

    assert_error(response, 400, pointer="/eventTypes/1", detail="user-level")


def test_dev_server_accepts_http_and_localhost_urls(
    make_server: Callable[..., RunningServer],
) -> None:
    admin = make_server(dev=True).new_tenant().client()

    assert create(admin, url="http://localhost:8080/in")["url"] == "http://localhost:8080/in"
    assert create(admin, url="http://hooks.example.com/in")["url"].startswith("http://")
    response = admin.post(WEBHOOKS, json=webhook_body(url="http://127.0.0.1/in"))
    assert_error(response, 400, pointer="/url")


@pytest.mark.parametrize("backend", BACKENDS)
def test_tenant_cap_refuses_the_next_create_with_403(
    make_server: Callable[..., RunningServer], backend: str
) -> None:
    server = make_server(backend, max_webhooks_per_tenant=3)
    tenant = server.new_tenant()
    admin = tenant.client()
    user = tenant.client("user")
    create(admin)
    create(admin)
    create(user, level="user")

    for client in (admin, user):
        response = client.post(WEBHOOKS, json=webhook_body(level="user"))
        assert_error(response, 403, code="limit-reached", detail="at most 3 webhooks")
    assert len(admin.get(WEBHOOKS).json()["data"]) == 3
    # another tenant has a cap of its own
    create(server.new_tenant().client())


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_cap_refuses_the_owners_next_create_with_403(
    make_server: Callable[..., RunningServer], backend: str
) -> None:
    server = make_server(backend, max_webhooks_per_user=2)
    tenant = server.new_tenant()
    bob = tenant.client("user", "bob")
    create(bob, level="user")
    create(bob, level="user")

    response = bob.post(WEBHOOKS, json=webhook_body(level="user"))
    assert_error(response, 403, code="limit-reached", detail="at most 2 webhooks")
    admin_for_bob = tenant.client("tenant-admin", "alice").post(
        WEBHOOKS, json=webhook_body(level="user", ownerId="bob")
    )
    assert_error(admin_for_bob, 403, code="limit-reached")
    # other owners are not held back by bob's cap
    create(tenant.client("user", "carol"), level="user")
    create(tenant.client("tenant-admin", "alice"))


def test_deleting_a_webhook_frees_its_place_under_the_cap(
    make_server: Callable[..., RunningServer],
) -> None:
    admin = make_server(max_webhooks_per_tenant=1).new_tenant().client()
    first = create(admin)
    assert_error(admin.post(WEBHOOKS, json=webhook_body()), 403)

    assert admin.delete(f"{WEBHOOKS}/{first['id']}").status_code == 204

    create(admin)


def test_an_owner_id_with_a_nul_character_is_an_unknown_user(tenant: Tenant) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(level="user", ownerId="b\x00b"))

    assert_error(response, 400, pointer="/ownerId")


@pytest.mark.parametrize("field", ["name", "description"])
def test_a_nul_character_in_a_text_field_is_a_400(tenant: Tenant, field: str) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(**{field: "a\x00b"}))

    assert_error(response, 400, pointer=f"/{field}")
