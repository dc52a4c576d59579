"""Health probes, the OpenAPI document and the interactive docs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import APP_CREATED
from tests.servers import RunningServer

# (method, path): the success status, its request body schema (None: no body), and the
# error statuses it documents.
OPERATIONS: dict[tuple[str, str], tuple[str, str | None, set[str]]] = {
    ("get", "/api/v1/webhooks"): ("200", None, {"400", "401", "403"}),
    ("post", "/api/v1/webhooks"): ("201", "NewWebhook", {"400", "401", "403"}),
    ("get", "/api/v1/webhooks/event-types"): ("200", None, {"401"}),
    ("get", "/api/v1/webhooks/{id}"): ("200", None, {"401", "403", "404"}),
    ("put", "/api/v1/webhooks/{id}"): (
        "200",
        "WebhookReplace",
        {"400", "401", "403", "404", "409"},
    ),
    ("patch", "/api/v1/webhooks/{id}"): ("204", "Operation", {"400", "401", "403", "404", "409"}),
    ("delete", "/api/v1/webhooks/{id}"): ("204", None, {"401", "403", "404"}),
    ("get", "/api/v1/tenants"): ("200", None, {"401", "403"}),
    ("post", "/api/v1/tenants"): ("201", "TenantIn", {"400", "401", "403"}),
    ("post", "/api/v1/tenants/{tenantId}/api-keys"): (
        "201",
        "ApiKeyIn",
        {"400", "401", "403", "404"},
    ),
    ("get", "/healthz"): ("200", None, set()),
    ("get", "/readyz"): ("200", None, {"503"}),
}
# Where the caller's input is validated, so a 400 is possible.
VALIDATED = {op for op, (_, body, _) in OPERATIONS.items() if body} | {("get", "/api/v1/webhooks")}


@pytest.fixture(scope="module")
def openapi(server: RunningServer) -> dict[str, Any]:
    response = server.client(None).get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_probes_answer_200_without_a_key(server: RunningServer, path: str) -> None:
    response = server.client(None).get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_lists_every_operation(openapi: dict[str, Any]) -> None:
    listed = {
        (method, path)
        for path, operations in openapi["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }

    assert set(OPERATIONS) <= listed


@pytest.mark.parametrize(("method", "path"), list(OPERATIONS))
def test_openapi_documents_each_operations_statuses(
    openapi: dict[str, Any], method: str, path: str
) -> None:
    success, _, errors = OPERATIONS[(method, path)]
    responses = openapi["paths"][path][method]["responses"]

    assert success in responses
    assert errors <= set(responses)
    assert "422" not in responses
    assert ("400" in responses) == ((method, path) in VALIDATED)
    for status in errors:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if OPERATIONS[op][1]])
def test_openapi_documents_each_request_body(
    openapi: dict[str, Any], method: str, path: str
) -> None:
    model = OPERATIONS[(method, path)][1]
    body = openapi["paths"][path][method]["requestBody"]
    schema = body["content"]["application/json"]["schema"]

    assert f"#/components/schemas/{model}" in str(schema)
    assert model in openapi["components"]["schemas"]


def test_openapi_has_no_422_and_no_fastapi_validation_schemas(openapi: dict[str, Any]) -> None:
    assert '"422"' not in str(openapi).replace("'", '"')
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_openapi_describes_the_error_body(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]

    assert set(schemas["ErrorResponse"]["properties"]) == {"errors", "traceId"}
    assert {"code", "title", "detail"} <= set(schemas["Error"]["properties"])


def test_openapi_webhook_schema_has_qliks_field_names(openapi: dict[str, Any]) -> None:
    properties = openapi["components"]["schemas"]["WebhookOut"]["properties"]

    for field in ("eventTypes", "encryptedHeaders", "secretKeyAdded", "ownerId", "createdAt"):
        assert field in properties
    assert "secret" not in properties


def test_docs_serve_an_html_page(server: RunningServer) -> None:
    response = server.client(None).get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


SORTS = {
    "/api/v1/webhooks": ("name", "url", "createdAt", "updatedAt"),
    "/api/v1/webhooks/{id}/deliveries": ("status", "triggeredAt"),
}


@pytest.mark.parametrize("path", sorted(SORTS))
def test_openapi_lists_the_sort_values(openapi: dict[str, Any], path: str) -> None:
    """``sort`` is a string with an enum, so generated clients offer its values."""
    [parameter] = [p for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == "sort"]
    schema = parameter["schema"]

    assert schema["type"] == "string", schema
    expected = {prefix + key for key in SORTS[path] for prefix in ("", "+", "-")}
    assert sorted(schema["enum"]) == sorted(expected)


@pytest.mark.parametrize("path", sorted(SORTS))
def test_every_published_sort_value_is_accepted_and_others_are_not(
    server: RunningServer, openapi: dict[str, Any], path: str
) -> None:
    admin = server.new_tenant().client()
    made = admin.post(
        "/api/v1/webhooks",
        json={"name": "s", "url": "https://hooks.example.com/in", "eventTypes": [APP_CREATED]},
    )
    assert made.status_code == 201, made.text
    url = path.replace("{id}", made.json()["id"])
    [parameter] = [p for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == "sort"]
    published = parameter["schema"]["enum"]

    for value in published:
        assert admin.get(url, params={"sort": value}).status_code == 200, value
    # "+" left unencoded (a space once decoded) too; empty is not a published value.
    assert admin.get(f"{url}?sort=+{SORTS[path][0]}").status_code == 200
    for value in ("", " ", "bogus", "--" + SORTS[path][0], SORTS[path][0].upper(), "id"):
        assert admin.get(url, params={"sort": value}).status_code == 400, value
