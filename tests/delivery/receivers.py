"""A scriptable HTTPS receiver on 127.0.0.1: each path answers from a script of responses
and records every request it gets."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

HOST = "hooks.example.test"
# Settings for a hookline delivering to the receiver: hooks.example.test resolves to it,
# and retries come fast.
FAST = {
    "resolve": f"{HOST}:127.0.0.1,wrong.example.test:127.0.0.1",
    "allow_networks": "127.0.0.1/32",
    "retry_schedule": "0,0.3,0.3",
    "poll_interval": 0.05,
    "connect_timeout": 2,
    "request_timeout": 2,
    "lease_seconds": 10,
    "disable_after_failures": 3,
    "retry_after_cap": 1,
}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._scripts: dict[str, list[Reply]] = {}
        self._received: dict[str, list[Received]] = defaultdict(list)
        self._in_flight: dict[str, int] = defaultdict(int)
        self._most_in_flight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> None:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._tls)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def script(self, path: str, *replies: Reply) -> None:
        """Answer requests to ``path`` with ``replies`` in turn; the last one repeats."""
        with self._lock:
            self._scripts[path] = list(replies) or [Reply()]

    def received(self, path: str) -> list[Received]:
        with self._lock:
            return list(self._received[path])

    def count(self, path: str) -> int:
        with self._lock:
            return len(self._received[path])

    def most_in_flight(self, path: str) -> int:
        """The most requests to ``path`` that were ever being answered at once; for a folder
        (a path ending in "/"), to any path under it."""
        with self._lock:
            return self._most_in_flight[path]

    def wait_for(self, path: str, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path} got {len(self.received(path))} requests, not {count}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        with self._lock:
            self._received[request.path].append(
                Received(request.path, dict(request.headers), body, time.monotonic())
            )
            script = self._scripts.get(request.path, [Reply()])
            reply = script.pop(0) if len(script) > 1 else script[0]
            for counted in _counted_as(request.path):
                self._in_flight[counted] += 1
                most = max(self._most_in_flight[counted], self._in_flight[counted])
                self._most_in_flight[counted] = most
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)  # cancelled when the client goes away
            return web.Response(status=reply.status, headers=reply.headers, body=reply.body)
        finally:
            with self._lock:
                for counted in _counted_as(request.path):
                    self._in_flight[counted] -= 1


def _counted_as(path: str) -> list[str]:
    """What a request to ``path`` counts for: the path and every folder above it ("/a/b":
    "/a/b", "/a/" and "/")."""
    parts = path.split("/")
    folders = ["/".join(parts[:n]) + "/" for n in range(1, len(parts))]
    return list(dict.fromkeys([path, *folders]))


def most_within_a_second(times: list[float]) -> int:
    """The most of ``times`` (seconds) within any one second."""
    return max((sum(1 for t in times if start <= t < start + 1) for start in times), default=0)
