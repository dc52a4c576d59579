"""PATCH /api/v1/webhooks/{id}: JSON Patch (add, remove, replace) -> 204."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import (
    APP_CREATED,
    APP_RELOADED,
    SECRET,
    WEBHOOKS,
    assert_error,
    create,
    get,
)
from tests.servers import Client, Tenant


def patch(client: Client, webhook_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply ``operations`` (204, no body) and return the webhook as GET then shows it."""
    response = client.patch(f"{WEBHOOKS}/{webhook_id}", json=operations)
    assert response.status_code == 204, response.text
    assert response.content == b""
    return get(client, webhook_id)


@pytest.mark.parametrize("op", ["replace", "add"])
@pytest.mark.parametrize(
    ("path", "value", "field", "shown"),
    [
        ("/name", "renamed", "name", "renamed"),
        ("/description", "now described", "description", "now described"),
        ("/url", "https://moved.example.org/hook", "url", "https://moved.example.org/hook"),
        ("/eventTypes", [APP_RELOADED], "eventTypes", [APP_RELOADED]),
        ("/headers", {"X-New": "1"}, "headers", {"X-New": "1"}),
        ("/encryptedHeaders", {"X-Tok": "v"}, "encryptedHeaders", ["X-Tok"]),
        ("/enabled", False, "enabled", False),
        ("/secret", SECRET, "secretKeyAdded", True),
        ("/filter", 'id eq "z9"', "filter", 'id eq "z9"'),
        ("/checkCertificateRevocation", True, "checkCertificateRevocation", True),
        ("/enableCloudEventDelivery", True, "enableCloudEventDelivery", True),
    ],
)
def test_patch_sets_a_top_level_field(
    tenant: Tenant, op: str, path: str, value: Any, field: str, shown: Any
) -> None:
    admin = tenant.client()
    webhook = create(admin, headers={"X-Old": "0"})

    patched = patch(admin, webhook["id"], [{"op": op, "path": path, "value": value}])

    assert patched[field] == shown
    untouched = {k for k in webhook if k not in (field, "updatedAt", "secretKeyAdded")}
    assert {k: patched[k] for k in untouched} == {k: webhook[k] for k in untouched}


@pytest.mark.parametrize(
    ("path", "field", "cleared"),
    [
        ("/description", "description", ""),
        ("/headers", "headers", {}),
        ("/encryptedHeaders", "encryptedHeaders", []),
        ("/secret", "secretKeyAdded", False),
        ("/filter", "filter", None),
        ("/enabled", "enabled", False),
        ("/checkCertificateRevocation", "checkCertificateRevocation", False),
    ],
)
def test_patch_remove_clears_an_optional_field(
    tenant: Tenant, path: str, field: str, cleared: Any
) -> None:
    admin = tenant.client()
    webhook = create(
        admin,
        description="d",
        headers={"X-A": "1"},
        encryptedHeaders={"X-B": "2"},
        secret=SECRET,
        filter='id eq "a1"',
        checkCertificateRevocation=True,
    )
    assert webhook[field] != cleared

    patched = patch(admin, webhook["id"], [{"op": "remove", "path": path}])

    assert patched[field] == cleared


@pytest.mark.parametrize("path", ["/name", "/url"])
def test_patch_removing_a_required_field_is_a_400(tenant: Tenant, path: str) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", json=[{"op": "remove", "path": path}])

    assert_error(response, 400, pointer=path)
    assert get(admin, webhook["id"]) == webhook


def test_patch_adds_replaces_and_removes_one_header(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, headers={"X-Keep": "k"})

    added = patch(admin, webhook["id"], [{"op": "add", "path": "/headers/X-Foo", "value": "1"}])
    assert added["headers"] == {"X-Keep": "k", "X-Foo": "1"}

    replaced = patch(
        admin, webhook["id"], [{"op": "replace", "path": "/headers/x-foo", "value": "2"}]
    )
    assert {name.lower(): value for name, value in replaced["headers"].items()} == {
        "x-keep": "k",
        "x-foo": "2",
    }

    removed = patch(admin, webhook["id"], [{"op": "remove", "path": "/headers/X-FOO"}])
    assert removed["headers"] == {"X-Keep": "k"}


def test_patch_add_of_an_existing_header_in_another_case_replaces_it(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, headers={"X-Foo": "1"})

    patched = patch(admin, webhook["id"], [{"op": "add", "path": "/headers/x-FOO", "value": "2"}])

    assert len(patched["headers"]) == 1
    assert list(patched["headers"].values()) == ["2"]


def test_patch_adds_replaces_and_removes_one_encrypted_header(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, encryptedHeaders={"X-Keep": "k"})

    added = patch(
        admin, webhook["id"], [{"op": "add", "path": "/encryptedHeaders/X-Tok", "value": "t"}]
    )
    assert sorted(added["encryptedHeaders"]) == ["X-Keep", "X-Tok"]

    replaced = patch(
        admin, webhook["id"], [{"op": "replace", "path": "/encryptedHeaders/x-tok", "value": "u"}]
    )
    assert sorted(name.lower() for name in replaced["encryptedHeaders"]) == ["x-keep", "x-tok"]

    removed = patch(admin, webhook["id"], [{"op": "remove", "path": "/encryptedHeaders/X-TOK"}])
    assert removed["encryptedHeaders"] == ["X-Keep"]


@pytest.mark.parametrize("op", ["replace", "remove"])
def test_patch_of_a_missing_header_member_is_a_400(tenant: Tenant, op: str) -> None:
    admin = tenant.client()
    webhook = create(admin, headers={"X-A": "1"})

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}", json=[{"op": op, "path": "/headers/X-Missing", "value": "v"}]
    )

    assert_error(response, 400, pointer="/0/path")


def test_patch_operations_apply_in_order(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    patched = patch(
        admin,
        webhook["id"],
        [
            {"op": "add", "path": "/headers/X-A", "value": "1"},
            {"op": "replace", "path": "/headers/X-A", "value": "2"},
            {"op": "add", "path": "/headers/X-B", "value": "3"},
            {"op": "remove", "path": "/headers/X-B"},
            {"op": "replace", "path": "/name", "value": "first"},
            {"op": "replace", "path": "/name", "value": "second"},
        ],
    )

    assert patched["headers"] == {"X-A": "2"}
    assert patched["name"] == "second"


def test_patch_stamps_the_update(tenant: Tenant) -> None:
    webhook = create(tenant.client("tenant-admin", "alice"))
    amy = tenant.client("tenant-admin", "amy")

    patched = patch(amy, webhook["id"], [{"op": "replace", "path": "/name", "value": "n"}])

    assert patched["updatedByUserId"] == "amy"
    assert patched["updatedAt"] >= webhook["updatedAt"]
    assert patched["createdByUserId"] == "alice"
    assert patched["createdAt"] == webhook["createdAt"]


@pytest.mark.parametrize(
    "path",
    [
        "/id",
        "/createdAt",
        "/updatedAt",
        "/createdByUserId",
        "/updatedByUserId",
        "/origin",
        "/level",
        "/ownerId",
        "/disabledReason",
        "/disabledReasonCode",
        "/secretKeyAdded",
    ],
)
@pytest.mark.parametrize("op", ["replace", "remove"])
def test_patch_of_a_read_only_path_is_a_409(tenant: Tenant, path: str, op: str) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}", json=[{"op": op, "path": path, "value": "x"}]
    )

    assert_error(response, 409, code="read-only", detail=path.lstrip("/"))
    assert get(admin, webhook["id"]) == webhook


@pytest.mark.parametrize(
    ("operation", "pointer"),
    [
        ({"op": "replace", "path": "/unknown", "value": 1}, "/0/path"),
        ({"op": "replace", "path": "/name/first", "value": "x"}, "/0/path"),
        ({"op": "add", "path": "/headers/X-A/deeper", "value": "x"}, "/0/path"),
        ({"op": "replace", "path": "name", "value": "x"}, "/0/path"),
        ({"op": "replace", "path": "", "value": "x"}, "/0/path"),
        ({"op": "move", "from": "/name", "path": "/description"}, "/0/op"),
        ({"op": "copy", "from": "/name", "path": "/description"}, "/0/op"),
        ({"op": "test", "path": "/name", "value": "x"}, "/0/op"),
        ({"op": "REPLACE", "path": "/name", "value": "x"}, "/0/op"),
        ({"path": "/name", "value": "x"}, "/0/op"),
        ({"op": "replace", "value": "x"}, "/0/path"),
        ({"op": "replace", "path": "/name"}, "/0/value"),
        ({"op": "add", "path": "/headers/X-A"}, "/0/value"),
    ],
)
def test_patch_with_a_bad_operation_is_a_400(
    tenant: Tenant, operation: dict[str, Any], pointer: str
) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", json=[operation])

    assert_error(response, 400, code="invalid-input", pointer=pointer)
    assert get(admin, webhook["id"]) == webhook


def test_patch_error_names_the_failing_operation_by_index(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}",
        json=[
            {"op": "replace", "path": "/name", "value": "fine"},
            {"op": "replace", "path": "/nope", "value": 1},
        ],
    )

    assert_error(response, 400, pointer="/1/path")


@pytest.mark.parametrize(
    ("operations", "pointer"),
    [
        ([{"op": "add", "path": "/headers/Content-Type", "value": "x"}], "/headers/Content-Type"),
        ([{"op": "add", "path": "/encryptedHeaders/User-Agent", "value": "x"}], None),
        ([{"op": "replace", "path": "/url", "value": "https://127.0.0.1/x"}], "/url"),
        ([{"op": "replace", "path": "/name", "value": ""}], "/name"),
        ([{"op": "replace", "path": "/eventTypes", "value": []}], "/eventTypes"),
        ([{"op": "replace", "path": "/eventTypes", "value": ["no.such"]}], "/eventTypes/0"),
        ([{"op": "replace", "path": "/secret", "value": "short"}], "/secret"),
        ([{"op": "replace", "path": "/filter", "value": "id eq"}], "/filter"),
        ([{"op": "replace", "path": "/enabled", "value": "perhaps"}], "/enabled"),
        ([{"op": "replace", "path": "/headers", "value": "X-A: 1"}], "/headers"),
        ([{"op": "add", "path": "/headers/X-A", "value": "a\nb"}], "/headers/X-A"),
        (
            [
                {"op": "add", "path": "/headers/X-Dup", "value": "1"},
                {"op": "add", "path": "/encryptedHeaders/x-dup", "value": "2"},
            ],
            "/encryptedHeaders/x-dup",
        ),
    ],
)
def test_patched_webhook_is_validated_as_a_whole(
    tenant: Tenant, operations: list[dict[str, Any]], pointer: str | None
) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", json=operations)

    errors = assert_error(response, 400, pointer=pointer)
    if pointer is None:
        assert any(e["source"]["pointer"].startswith("/encryptedHeaders") for e in errors)
    assert get(admin, webhook["id"]) == webhook


def test_a_failing_patch_changes_nothing_even_after_valid_operations(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(
        f"{WEBHOOKS}/{webhook['id']}",
        json=[
            {"op": "replace", "path": "/name", "value": "changed"},
            {"op": "replace", "path": "/url", "value": "ftp://x.example.com"},
        ],
    )

    assert_error(response, 400, pointer="/url")
    assert get(admin, webhook["id"]) == webhook


class TestUrlChangeWithEncryptedHeaders:
    def test_without_re_entering_them_is_a_400(self, tenant: Tenant) -> None:
        admin = tenant.client()
        webhook = create(admin, encryptedHeaders={"X-Tok": "t", "X-Key": "k"})

        response = admin.patch(
            f"{WEBHOOKS}/{webhook['id']}",
            json=[{"op": "replace", "path": "/url", "value": "https://new.example.com/x"}],
        )

        assert_error(response, 400, pointer="/encryptedHeaders", detail="X-Tok")
        assert get(admin, webhook["id"]) == webhook

    def test_re_entering_only_some_of_them_is_a_400(self, tenant: Tenant) -> None:
        admin = tenant.client()
        webhook = create(admin, encryptedHeaders={"X-Tok": "t", "X-Key": "k"})

        response = admin.patch(
            f"{WEBHOOKS}/{webhook['id']}",
            json=[
                {"op": "replace", "path": "/url", "value": "https://new.example.com/x"},
                {"op": "replace", "path": "/encryptedHeaders/X-Tok", "value": "t2"},
            ],
        )

        assert_error(response, 400, pointer="/encryptedHeaders", detail="X-Key")

    def test_re_entering_the_whole_map_is_a_204(self, tenant: Tenant) -> None:
        admin = tenant.client()
        webhook = create(admin, encryptedHeaders={"X-Tok": "t"})

        patched = patch(
            admin,
            webhook["id"],
            [
                {"op": "replace", "path": "/url", "value": "https://new.example.com/x"},
                {"op": "replace", "path": "/encryptedHeaders", "value": {"X-Tok": "t2"}},
            ],
        )

        assert patched["url"] == "https://new.example.com/x"
        assert patched["encryptedHeaders"] == ["X-Tok"]

    def test_re_entering_each_member_is_a_204(self, tenant: Tenant) -> None:
        admin = tenant.client()
        webhook = create(admin, encryptedHeaders={"X-Tok": "t", "X-Key": "k"})

        patched = patch(
            admin,
            webhook["id"],
            [
                {"op": "replace", "path": "/encryptedHeaders/x-tok", "value": "t2"},
                {"op": "remove", "path": "/encryptedHeaders/X-Key"},
                {"op": "replace", "path": "/url", "value": "https://new.example.com/x"},
            ],
        )

        assert patched["url"] == "https://new.example.com/x"
        assert [name.lower() for name in patched["encryptedHeaders"]] == ["x-tok"]

    def test_without_encrypted_headers_no_re_entry_is_needed(self, tenant: Tenant) -> None:
        admin = tenant.client()
        webhook = create(admin, headers={"X-Plain": "p"})

        patched = patch(
            admin,
            webhook["id"],
            [{"op": "replace", "path": "/url", "value": "https://new.example.com/x"}],
        )

        assert patched["url"] == "https://new.example.com/x"
        assert patched["headers"] == {"X-Plain": "p"}

    def test_patch_keeping_the_url_keeps_them(self, tenant: Tenant) -> None:
        admin = tenant.client()
        webhook = create(admin, encryptedHeaders={"X-Tok": "t"}, secret=SECRET)

        patched = patch(admin, webhook["id"], [{"op": "replace", "path": "/name", "value": "n"}])

        assert patched["encryptedHeaders"] == ["X-Tok"]
        assert patched["secretKeyAdded"] is True


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "/enableCloudEventDelivery", "value": False},
        {"op": "remove", "path": "/enableCloudEventDelivery"},
    ],
)
def test_patch_turning_cloud_event_delivery_off_is_a_403(
    tenant: Tenant, operation: dict[str, Any]
) -> None:
    admin = tenant.client()
    webhook = create(admin, enableCloudEventDelivery=True)

    response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", json=[operation])

    assert_error(response, 403, detail="enableCloudEventDelivery")
    assert get(admin, webhook["id"]) == webhook


def test_patch_re_enabling_leaves_no_disabled_reason(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, enabled=False)

    patched = patch(admin, webhook["id"], [{"op": "replace", "path": "/enabled", "value": True}])

    assert patched["enabled"] is True
    assert patched["disabledReason"] is None
    assert patched["disabledReasonCode"] is None


def test_patch_of_a_user_level_webhook_keeps_its_level_rules(tenant: Tenant) -> None:
    bob = tenant.client("user", "bob")
    webhook = create(bob, level="user")

    response = bob.patch(
        f"{WEBHOOKS}/{webhook['id']}",
        json=[
            {"op": "add", "path": "/eventTypes", "value": [APP_CREATED, "com.qlik.v1.user.deleted"]}
        ],
    )

    assert_error(response, 400, pointer="/eventTypes/1")


@pytest.mark.parametrize(
    "body",
    [
        {"op": "replace", "path": "/name", "value": "x"},
        {"name": "x"},
        "replace",
        None,
    ],
)
def test_patch_body_that_is_not_a_list_of_operations_is_a_400(tenant: Tenant, body: Any) -> None:
    admin = tenant.client()
    webhook = create(admin)

    response = admin.patch(f"{WEBHOOKS}/{webhook['id']}", json=body)

    assert_error(response, 400, code="invalid-input")


def test_patch_of_an_unknown_webhook_is_a_404(tenant: Tenant) -> None:
    response = tenant.client().patch(
        f"{WEBHOOKS}/00000000-0000-4000-8000-000000000000",
        json=[{"op": "replace", "path": "/name", "value": "x"}],
    )

    assert_error(response, 404, code="not-found")
