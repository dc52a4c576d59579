"""The webhook fields ``rateLimit`` and ``ordering`` (hookline.pacing) through the API, on
SQLite and PostgreSQL: defaults, what PUT and PATCH do, and bad values."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import (
    APP_CREATED,
    WEBHOOKS,
    assert_error,
    create,
    deliveries_made,
    get,
    webhook_body,
)
from tests.servers import Tenant


def put_body(webhook: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {key: value for key, value in webhook.items() if key != "encryptedHeaders"}
    return {**body, **fields}


def test_a_new_webhook_has_no_rate_limit_and_no_ordering(tenant: Tenant) -> None:
    webhook = create(tenant.client())
    assert (webhook["rateLimit"], webhook["ordering"]) == (None, "none")


def test_both_fields_are_stored_and_shown(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, rateLimit=25, ordering="fifo")
    assert get(admin, webhook["id"])["rateLimit"] == 25
    assert get(admin, webhook["id"])["ordering"] == "fifo"


def test_a_put_that_leaves_them_out_sets_them_back_to_their_defaults(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin, rateLimit=25, ordering="fifo")
    body = {
        key: value
        for key, value in put_body(webhook).items()
        if key not in ("rateLimit", "ordering")
    }
    response = admin.put(f"{WEBHOOKS}/{webhook['id']}", json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["rateLimit"], response.json()["ordering"]) == (None, "none")


def test_a_patch_changes_them_and_null_removes_the_limit(tenant: Tenant) -> None:
    admin = tenant.client()
    webhook = create(admin)
    path = f"{WEBHOOKS}/{webhook['id']}"
    operations = [
        {"op": "replace", "path": "/rateLimit", "value": 10},
        {"op": "replace", "path": "/ordering", "value": "fifo"},
    ]
    assert admin.patch(path, json=operations).status_code == 204
    assert (get(admin, webhook["id"])["rateLimit"], get(admin, webhook["id"])["ordering"]) == (
        10,
        "fifo",
    )
    removal = [{"op": "replace", "path": "/rateLimit", "value": None}]
    assert admin.patch(path, json=removal).status_code == 204
    assert get(admin, webhook["id"])["rateLimit"] is None


@pytest.mark.parametrize("value", [0, -1, 10_001, 2.5, "10", True])
def test_a_rate_limit_must_be_a_whole_number_from_1_to_10000(tenant: Tenant, value: Any) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(rateLimit=value))
    assert_error(response, 400, pointer="/rateLimit")


@pytest.mark.parametrize("value", ["FIFO", "lifo", 1, ""])
def test_ordering_is_none_or_fifo(tenant: Tenant, value: Any) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(ordering=value))
    assert_error(response, 400, pointer="/ordering")


def test_the_ordering_of_a_webhook_with_deliveries_queued_can_change_both_ways(
    tenant: Tenant,
) -> None:
    """Its queued deliveries follow (hookline.pacing; the order they then go in is
    tests/store/test_pacing.py's): the change is no error, and reads back."""
    admin = tenant.client()
    # A host nothing resolves: its deliveries wait for retries.
    webhook = create(admin, url="https://nowhere.example.invalid/in")
    published = tenant.client("publisher").post(
        "/api/v1/events",
        json=[{"type": APP_CREATED, "source": "tests", "data": {"n": n}} for n in range(3)],
    )
    assert published.status_code == 202, published.text
    deliveries_made(admin, webhook["id"])
    path = f"{WEBHOOKS}/{webhook['id']}"
    for ordering in ("fifo", "none"):
        change = [{"op": "replace", "path": "/ordering", "value": ordering}]
        assert admin.patch(path, json=change).status_code == 204
        assert get(admin, webhook["id"])["ordering"] == ordering
