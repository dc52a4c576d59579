"""Running hookline: the API server in the current event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

from hookline.api import create_app
from hookline.services import Services


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


class ApiServer:
    def __init__(self, services: Services, host: str, port: int) -> None:
        config = uvicorn.Config(
            create_app(services),
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=True,
        )
        self._server = _Server(config)

    async def run(self, on_started: Callable[[str], None] = lambda url: None) -> None:
        """Serve until stopped (or SIGINT/SIGTERM); ``on_started`` gets the base URL."""
        serving = asyncio.create_task(self._server.serve())
        listening = asyncio.create_task(self._server.listening.wait())
        await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
        if listening.done():
            on_started(self.url)
        else:
            listening.cancel()
        await serving

    @property
    def url(self) -> str:
        bound = self._server.servers[0].sockets[0]
        host, port = bound.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
