"""Health probes and metrics: on the API, and on a port of their own
(``HOOKLINE_METRICS_PORT``) for ``hookline worker`` and for keeping ``/metrics`` off the API."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hookline.api import errors
from hookline.api.deps import ServicesDep
from hookline.api.errors import error_responses
from hookline.errors import Unauthenticated
from hookline.services import Services


def install(app: FastAPI) -> None:
    app.add_api_route(
        "/metrics",
        _metrics,
        methods=["GET"],
        tags=["health"],
        name="metrics",
        response_class=PlainTextResponse,
    )
    app.add_api_route("/healthz", _healthz, methods=["GET"], tags=["health"], name="healthz")
    app.add_api_route(
        "/readyz",
        _readyz,
        methods=["GET"],
        tags=["health"],
        name="readyz",
        responses=error_responses(public=True),
    )


def create_probe_app(services: Services) -> FastAPI:
    """``/metrics``, ``/healthz`` and ``/readyz``, and nothing else."""
    app = FastAPI(title="hookline probes", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    errors.install(app)
    install(app)
    return app


async def _metrics(request: Request, services: ServicesDep) -> PlainTextResponse:
    """Prometheus metrics, names prefixed ``hookline_``; with ``HOOKLINE_METRICS_TOKEN``,
    only for ``Authorization: Bearer <token>`` (they name tenants)."""
    token = services.settings.metrics_token
    if token is not None and not _bearer_matches(request, token.get_secret_value()):
        raise Unauthenticated("/metrics needs Authorization: Bearer <HOOKLINE_METRICS_TOKEN>")
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # In constant time, as bytes: headers arrive decoded as latin-1, the token is ASCII.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("latin-1"), token.encode("ascii")
    )


async def _healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _readyz(services: ServicesDep) -> dict[str, str]:
    """The process can serve: its database answers."""
    await services.store.ping()
    return {"status": "ok"}
