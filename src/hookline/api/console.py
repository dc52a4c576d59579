"""``/console``: the management console, static files shipped in the package, served with a
strict Content-Security-Policy. It uses only the public REST API."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

CONSOLE = resources.files("hookline") / "console"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def install(app: FastAPI) -> None:
    app.mount("/console/assets", StaticFiles(directory=str(CONSOLE)), name="console-assets")

    @app.api_route("/console", methods=["GET", "HEAD"], include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(str(CONSOLE / "index.html"), media_type="text/html")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console")
