"""The words of a 400: hookline's own, for Pydantic's findings too, and every problem of a
request in one answer (issue 14, item 7)."""

from __future__ import annotations

from collections.abc import Callable

from tests.api.helpers import APP_CREATED, WEBHOOKS, assert_error, create, webhook_body
from tests.servers import RunningServer, Tenant


def _details(entries: list[dict[str, object]]) -> dict[str, object]:
    return {str(entry["source"]["pointer"]): entry["detail"] for entry in entries}  # type: ignore[index]


def test_a_missing_field_is_required_in_the_words_of_the_other_rules(tenant: Tenant) -> None:
    body = webhook_body()
    del body["url"]

    entries = assert_error(tenant.client().post(WEBHOOKS, json=body), 400, pointer="/url")

    assert _details(entries) == {"/url": "url is required"}


def test_a_wrong_type_says_must_not_should(tenant: Tenant) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(enabled="yes"))

    [entry] = assert_error(response, 400, pointer="/enabled")
    assert entry["detail"] == "enabled must be a valid boolean"


def test_a_missing_field_hides_no_other_problem(tenant: Tenant) -> None:
    """``eventTypes`` left out is no problem (Qlik's types make it optional); ``url`` is."""
    body = webhook_body(name=" ", secret="short", enabled="yes")
    del body["url"], body["eventTypes"]

    entries = assert_error(tenant.client().post(WEBHOOKS, json=body), 400)

    assert _details(entries) == {
        "/url": "url is required",
        "/enabled": "enabled must be a valid boolean",
        "/name": "name is required and must not be blank",
        "/secret": "secret must be 32 to 64 characters long",
    }


def test_a_bad_field_hides_no_rule_of_the_others_on_replace_and_patch(tenant: Tenant) -> None:
    client = tenant.client()
    made = create(client)
    body = webhook_body(name=" ", eventTypes=["com.example.nope"], enabled=1.5)

    replaced = assert_error(client.put(f"{WEBHOOKS}/{made['id']}", json=body), 400)
    assert _details(replaced) == {
        "/enabled": "enabled must be a valid boolean",
        "/name": "name is required and must not be blank",
        "/eventTypes/0": "eventTypes/0: unknown event type 'com.example.nope'",
    }

    operations = [
        {"op": "replace", "path": "/enabled", "value": "on"},
        {"op": "replace", "path": "/url", "value": "ftp://hooks.example.com"},
    ]
    patched = assert_error(client.patch(f"{WEBHOOKS}/{made['id']}", json=operations), 400)
    assert _details(patched) == {
        "/enabled": "enabled must be a valid boolean",
        "/url": "url must use https",
    }


def test_a_local_http_url_hints_at_dev_mode(tenant: Tenant) -> None:
    for url in ("http://localhost:9000/in", "http://127.0.0.1:9000/", "http://[::1]/"):
        response = tenant.client().post(WEBHOOKS, json=webhook_body(url=url))
        [entry] = assert_error(response, 400, pointer="/url")
        assert entry["detail"].startswith("url must use https"), entry
        assert "HOOKLINE_DEV=1" in entry["detail"], entry
        assert "localhost" in entry["detail"], entry

    public = tenant.client().post(WEBHOOKS, json=webhook_body(url="http://hooks.example.com/"))
    [entry] = assert_error(public, 400, pointer="/url")
    assert entry["detail"] == "url must use https"


def test_in_dev_mode_a_local_url_needs_no_hint(make_server: Callable[..., RunningServer]) -> None:
    client = make_server(dev=True).new_tenant().client()
    body = webhook_body(url="http://localhost:9000/in", eventTypes=[APP_CREATED])
    assert client.post(WEBHOOKS, json=body).status_code == 201
