"""The shape every hookline middleware shares."""

from __future__ import annotations

import abc

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware(abc.ABC):
    """An ASGI middleware of HTTP requests: anything else (the lifespan, a websocket)
    passes straight through to the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @abc.abstractmethod
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request."""
