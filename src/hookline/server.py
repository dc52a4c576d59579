"""Running hookline: the API server in the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import Callable, Iterator

import uvicorn

from hookline.api import create_app
from hookline.services import Services


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it listens; signals are left to the caller."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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
            timeout_graceful_shutdown=math.ceil(services.settings.shutdown_grace),
        )
        self._server = _Server(config)

    async def run(self, on_started: Callable[[str], None] = lambda url: None) -> None:
        """Serve until ``stop()``; ``on_started`` gets the base URL once it listens."""
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
