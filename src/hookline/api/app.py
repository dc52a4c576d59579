"""The ASGI application: routes, error handling, trace ids, health."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.alias_generators import to_camel
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from hookline import __version__, metrics
from hookline.api import (
    console,
    deliveries,
    errors,
    events,
    examples,
    health,
    operator,
    rotation,
    stats,
    tasks,
    users,
    webhooks,
)
from hookline.api.bounds import RequestBounds
from hookline.api.errors import Error, respond, respond_invalid
from hookline.api.limits import BodyLimit
from hookline.api.middleware import HttpMiddleware
from hookline.catalog import Catalog
from hookline.errors import Problem
from hookline.services import Services

DESCRIPTION = """hookline's REST API. The webhooks API is wire-compatible with Qlik Cloud's
Webhooks API. Authenticate with `Authorization: Bearer <API key>`. Every error answers
`{"errors": [{"code", "title", "detail", "source"}], "traceId"}`."""


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# Qlik Cloud's operation ids, so generated clients get the same method names.
OPERATION_IDS = {
    "list_webhooks": "getWebhooks",
    "create_webhook": "createWebhook",
    "get_webhook": "getWebhook",
    "replace_webhook": "updateWebhook",
    "patch_webhook": "patchWebhook",
    "delete_webhook": "deleteWebhook",
    "list_event_types": "getWebhookEventTypes",
    "list_deliveries": "getWebhookDeliveries",
    "get_delivery": "getWebhookDelivery",
    "resend_delivery": "resendWebhookDelivery",
    "get_me": "getMyUser",
}


def _operation_id(route: APIRoute) -> str:
    return OPERATION_IDS.get(route.name) or to_camel(route.name.strip("_"))


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="hookline",
        generate_unique_id_function=_operation_id,
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(BodyLimit)
    if services.settings.public_url is not None:
        app.add_middleware(PublicUrl, public_url=services.settings.public_url)
    app.add_middleware(RefuseNul)
    app.add_middleware(TraceIds)
    # added last, so it runs first: the whole request is bounded and cancellable
    app.add_middleware(RequestBounds, statement_timeout=services.settings.statement_timeout)
    app.include_router(webhooks.router)
    app.include_router(deliveries.router)
    app.include_router(rotation.router)
    app.include_router(examples.router)
    app.include_router(stats.router)
    app.include_router(tasks.router)
    app.include_router(events.router)
    app.include_router(users.router)
    console.install(app)
    app.include_router(operator.router)
    health.install(app)
    app.openapi = lambda: _openapi(app, services.catalog)  # type: ignore[method-assign]
    return app


class PublicUrl(HttpMiddleware):
    """Every request as if it came to HOOKLINE_PUBLIC_URL: the absolute URLs built from
    the request (the lists' links, redirects) take its scheme and host rather than the
    request's own and its Host header, which any client may set."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        super().__init__(app)
        url = URL(public_url)
        self.scheme = url.scheme
        self.host = url.raw_authority.encode("ascii")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # In place: the middlewares around read what the router adds to this scope.
        headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
        scope["scheme"] = self.scheme
        scope["headers"] = [*headers, (b"host", self.host)]
        await self.app(scope, receive, send)


class TraceIds(HttpMiddleware):
    """Give each request a trace id (in its errors and logs, and its ``X-Trace-Id``), add
    the security headers to every answer, count it in the metrics, and answer an error
    nobody handled with a 500 in the API's format, so the connection stays usable."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        trace_id = uuid.uuid4().hex
        scope.setdefault("state", {})["trace_id"] = trace_id
        status: int | None = None  # until the answer begins

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Trace-Id"] = trace_id
                headers.update(SECURITY_HEADERS)
                if scope["path"].startswith("/console"):
                    headers["Content-Security-Policy"] = console.CONTENT_SECURITY_POLICY
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            if status is not None:
                raise  # an answer has begun: too late for another
            answer = errors.respond_unexpected(Request(scope), error)
            await answer(scope, receive, send_with_headers)
        finally:
            if status is not None:  # a request cancelled before its answer is not counted
                route = getattr(scope.get("route"), "path", "unmatched")
                metrics.API_REQUESTS.labels(scope["method"], route, str(status)).inc()


class RefuseNul(HttpMiddleware):
    """A NUL character is never part of an id, a name or a cursor, and PostgreSQL cannot
    even compare text holding one: refuse it in the path or the query (400)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = _nul_refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _nul_refusal(request: Request) -> Response | None:
    if "\x00" in request.url.path:
        detail = "the URL path must not contain NUL characters"
        return respond(
            request, 400, [Error(code="invalid-input", title="Invalid input", detail=detail)]
        )
    problems = [
        Problem(name, "must not contain NUL characters")
        for name, value in request.query_params.multi_items()
        if "\x00" in name + value
    ]
    return respond_invalid(request, problems) if problems else None


_ANNOTATIONS = ("title", "description", "default")


def _accept_null_for_optional_members(model: dict[str, Any]) -> None:
    """Optional members sent as JSON null are treated as absent (generated clients send
    every member): say so in the schema."""
    required = set(model.get("required", ()))
    for member, schema in model["properties"].items():
        if member in required or {"type": "null"} in schema.get("anyOf", ()):
            continue
        outer = {key: schema[key] for key in _ANNOTATIONS if key in schema}
        inner = {key: value for key, value in schema.items() if key not in _ANNOTATIONS}
        model["properties"][member] = {**outer, "anyOf": [inner, {"type": "null"}]}


def _openapi(app: FastAPI, catalog: Catalog) -> dict[str, Any]:
    """FastAPI's schema, less its 422 answers (hookline reports invalid input as 400), with
    the catalog's event type names and links from a created webhook to its operations."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema["paths"].values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        schemas = schema["components"]["schemas"]
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for name in ("NewWebhook", "WebhookReplace"):
            items = schemas[name]["properties"]["eventTypes"]["items"]
            items["enum"] = [event_type.name for event_type in catalog.all()]
            _accept_null_for_optional_members(schemas[name])
        created = schema["paths"]["/api/v1/webhooks"]["post"]["responses"]["201"]
        created["links"] = {
            operation_id: {"operationId": operation_id, "parameters": {"id": "$response.body#/id"}}
            for operation_id in ("getWebhook", "updateWebhook", "patchWebhook", "deleteWebhook")
        }
        app.openapi_schema = schema
    return app.openapi_schema
