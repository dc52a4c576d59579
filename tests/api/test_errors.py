"""The error format on every path: unknown routes and methods, bad bodies, trace ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import APP_CREATED, WEBHOOKS, assert_error, create, webhook_body
from tests.servers import Tenant

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "path",
    ["/nope", "/api/v1", "/api/v1/nothing", "/api/v2/webhooks", f"{WEBHOOKS}/x/y/z"],
)
def test_an_unknown_route_is_a_404_in_the_error_format(tenant: Tenant, path: str) -> None:
    response = tenant.client().get(path)

    assert_error(response, 404, code="not-found", detail=path)


def test_an_unknown_route_is_a_404_even_without_a_key(tenant: Tenant) -> None:
    assert_error(tenant.server.client(None).get("/nope"), 404, code="not-found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", WEBHOOKS, {"GET", "POST"}),
        ("PUT", WEBHOOKS, {"GET", "POST"}),
        (
            "POST",
            f"{WEBHOOKS}/00000000-0000-4000-8000-000000000000",
            {"GET", "PUT", "PATCH", "DELETE"},
        ),
        ("POST", f"{WEBHOOKS}/event-types", {"GET"}),
        ("DELETE", "/api/v1/tenants", {"GET", "POST"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_an_unsupported_method_is_a_405_in_the_error_format(
    tenant: Tenant, method: str, path: str, allowed: set[str]
) -> None:
    response = tenant.client().request(method, path)

    assert_error(response, 405, code="method-not-allowed", detail=method)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= allowed


@pytest.mark.parametrize(
    "body",
    [b'{"name": ', b"{'name': 'single quotes'}", b"not json", b'{"name": "a",}'],
    ids=["truncated", "single-quotes", "text", "trailing-comma"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_malformed_json_body_is_a_400_not_a_422(tenant: Tenant, body: bytes, method: str) -> None:
    admin = tenant.client()
    webhook = create(admin)
    path = WEBHOOKS if method == "POST" else f"{WEBHOOKS}/{webhook['id']}"

    response = admin.request(method, path, content=body, headers=JSON)

    assert_error(response, 400, code="invalid-input", pointer="/", detail="JSON")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_that_is_not_utf8_is_a_400(tenant: Tenant, method: str) -> None:
    admin = tenant.client()
    webhook = create(admin)
    path = WEBHOOKS if method == "POST" else f"{WEBHOOKS}/{webhook['id']}"

    response = admin.request(method, path, content=b'{"name": "\xff\xfe"}', headers=JSON)

    assert_error(response, 400)


def test_a_malformed_json_error_gives_the_position_not_a_field(tenant: Tenant) -> None:
    response = tenant.client().post(WEBHOOKS, content=b'{"name": }', headers=JSON)

    [entry] = assert_error(response, 400)
    assert entry["source"] == {"pointer": "/"}
    assert "character 9" in entry["detail"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_missing_body_is_a_400(tenant: Tenant, method: str) -> None:
    admin = tenant.client()
    webhook = create(admin)
    path = WEBHOOKS if method == "POST" else f"{WEBHOOKS}/{webhook['id']}"

    response = admin.request(method, path, headers=JSON)

    assert_error(response, 400, code="invalid-input", pointer="/", detail="body")


@pytest.mark.parametrize("body", [b"[]", b'"webhook"', b"42", b"null"])
def test_a_create_body_that_is_not_an_object_is_a_400(tenant: Tenant, body: bytes) -> None:
    response = tenant.client().post(WEBHOOKS, content=body, headers=JSON)

    assert_error(response, 400, code="invalid-input", pointer="/")


def test_a_json_body_sent_as_text_plain_is_refused_with_400(tenant: Tenant) -> None:
    body = b'{"name": "a", "url": "https://a.example.com", "eventTypes": ["%s"]}' % (
        APP_CREATED.encode()
    )

    response = tenant.client().post(WEBHOOKS, content=body, headers={"Content-Type": "text/plain"})

    assert_error(response, 400, code="invalid-input")


def test_a_validation_error_names_its_field_in_source_and_detail(tenant: Tenant) -> None:
    response = tenant.client().post(WEBHOOKS, json=webhook_body(url="http://hooks.example.com"))

    [entry] = assert_error(response, 400, code="invalid-input", pointer="/url")
    assert entry["title"]
    assert "url" in entry["detail"]
    assert "https" in entry["detail"]


def test_every_error_has_its_own_trace_id_matching_the_header(tenant: Tenant) -> None:
    client = tenant.client()

    first = client.get("/nope")
    second = client.get("/nope")

    assert_error(first, 404)
    assert_error(second, 404)
    assert first.json()["traceId"] != second.json()["traceId"]


def test_successful_answers_carry_a_trace_id_header_too(tenant: Tenant) -> None:
    response = tenant.client().get(WEBHOOKS)

    assert response.status_code == 200
    assert response.headers["x-trace-id"]


@pytest.mark.parametrize(
    "params",
    [{"name": "a\x00b"}, {"url": "\x00"}, {"ownerId": "bob\x00"}, {"createdByUserId": "\x00"}],
)
def test_a_nul_character_in_a_query_parameter_is_a_400(
    tenant: Tenant, params: dict[str, str]
) -> None:
    response = tenant.client().get(WEBHOOKS, params=params)

    assert_error(response, 400, code="invalid-input", parameter=next(iter(params)))


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_nul_character_in_a_webhook_id_is_a_400(tenant: Tenant, method: str) -> None:
    response = tenant.client().request(method, f"{WEBHOOKS}/a%00b", json=[])

    assert_error(response, 400, code="invalid-input", detail="NUL")


def test_a_body_over_its_cap_is_a_413_before_it_is_read(tenant: Tenant) -> None:
    admin = tenant.client()
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = admin.post(WEBHOOKS, content=huge, headers={"Content-Type": "application/json"})
    assert_error(response, 413, code="payload-too-large")


def test_a_streamed_body_over_its_cap_is_a_413(tenant: Tenant) -> None:
    admin = tenant.client()

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = admin.post(WEBHOOKS, content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(response, 413, code="payload-too-large")
    assert admin.get(WEBHOOKS).status_code == 200  # the connection and the server carry on
