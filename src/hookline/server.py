"""Running hookline's HTTP servers (the API, the probes) in the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from hookline.errors import HooklineError


class CannotListen(HooklineError):
    pass


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


class HttpServer:
    def __init__(self, app: FastAPI, host: str, port: int, *, grace: float) -> None:
        """``grace``: how long requests in flight may take to finish once stopped."""
        self._host = host
        self._port = port
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            timeout_graceful_shutdown=math.ceil(grace),
        )
        self._server = _Server(config)

    async def run(self, on_started: Callable[[str], None] = lambda url: None) -> None:
        """Serve until ``stop()``; ``on_started`` gets the base URL once it listens.

        Raises CannotListen when the address is taken or not ours."""
        bound = bind(self._host, self._port)
        serving = asyncio.create_task(self._server.serve(sockets=[bound]))
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


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; bound here rather than in uvicorn, which exits the process when
    it cannot. Raises CannotListen with the reason."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.create_server((host, port), family=family)
        # Accepted connections inherit it. uvloop sets it on them anyway, but asyncio's own
        # loop does only for sockets that name their protocol, which create_server's do
        # not: without it a keep-alive request's response waited for the client's delayed
        # ACK, 40 ms a request.
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return listening
    except OSError as error:
        # create_server's message repeats the address; the errno's own is enough
        code = error.errno or 0
        reason = os.strerror(code) if code > 0 else error.strerror  # getaddrinfo's are < 0
        raise CannotListen(f"cannot listen on {host}:{port}: {reason}") from None
