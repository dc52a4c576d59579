"""Health probes and metrics: on the API, and on a port of their own
(``HOOKLINE_METRICS_PORT``) for ``hookline worker`` and for keeping ``/metrics`` off the API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hookline.api import errors
from hookline.api.deps import ServicesDep
from hookline.api.errors import error_responses
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


async def _metrics() -> PlainTextResponse:
    """Prometheus metrics, names prefixed ``hookline_``."""
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _readyz(services: ServicesDep) -> dict[str, str]:
    """The process can serve: its database answers."""
    await services.store.ping()
    return {"status": "ok"}
