"""A real hookline API server on 127.0.0.1 in a background thread, and a client for it."""

from __future__ import annotations

import asyncio
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from hookline import accounts
from hookline.auth import Role
from hookline.runtime import Runtime
from hookline.services import Services
from hookline.settings import load_settings
from tests.databases import TEST_SECRET_KEY

# One TLS context for every client: httpx builds (and loads CAs into) a new one per client
# otherwise, which costs tens of milliseconds each time.
_TLS = ssl.create_default_context()
T = TypeVar("T")


class Client(httpx.Client):
    """An httpx client for one API key."""

    def __init__(self, base_url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        super().__init__(base_url=base_url, headers=headers, timeout=30, verify=_TLS)


@dataclass
class RunningServer:
    url: str
    operator_key: str
    services: Services
    _runtime: Runtime
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _clients: list[Client] = field(default_factory=list)

    def client(self, key: str | None) -> Client:
        client = Client(self.url, key)
        self._clients.append(client)
        return client

    def new_tenant(self, name: str | None = None) -> Tenant:
        operator = self.client(self.operator_key)
        response = operator.post(
            "/api/v1/tenants", json={"name": name or f"t-{uuid.uuid4().hex[:10]}"}
        )
        response.raise_for_status()
        return Tenant(self, response.json()["id"])

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's event loop (its store lives there) and answer
        its result: for tests that look at what the server stored."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def fanned_out(self) -> bool:
        """Whether every event published so far has been fanned out: its deliveries made,
        or none needed (asked of the server's own store, on its loop)."""
        return self.call(self.services.store.queue_stats()).fanout_pending == 0

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self._loop.call_soon_threadsafe(self._runtime.stop)
        self._thread.join(timeout=30)


@dataclass
class Tenant:
    """A tenant of a running server, with a way to get clients for each role."""

    server: RunningServer
    id: str

    def key(self, role: str, user_id: str | None = None) -> str:
        operator = self.server.client(self.server.operator_key)
        body: dict[str, Any] = {"role": role, "userId": user_id}
        response = operator.post(f"/api/v1/tenants/{self.id}/api-keys", json=body)
        response.raise_for_status()
        return str(response.json()["key"])

    def client(self, role: str = "tenant-admin", user_id: str | None = None) -> Client:
        return self.server.client(self.key(role, user_id))


def start_server(database_url: str, **settings: Any) -> RunningServer:
    """Start hookline (API and delivery workers) on a free port of 127.0.0.1 in a thread of
    its own; the caller stops it."""
    services = Services.build(
        load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY, port=0, **settings)
    )
    started: queue.Queue[tuple[str, str, asyncio.AbstractEventLoop] | BaseException] = queue.Queue()

    runtime = Runtime(services)

    async def main() -> None:
        try:
            await services.start()
            operator = await accounts.issue_key(services.store, Role.OPERATOR)
            loop = asyncio.get_running_loop()
            await runtime.run(lambda url: started.put((url, operator.key, loop)))
        except BaseException as error:
            started.put(error)
            raise
        finally:
            await services.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    outcome = started.get(timeout=30)
    if isinstance(outcome, BaseException):
        raise outcome
    url, operator_key, loop = outcome
    return RunningServer(url, operator_key, services, runtime, loop, thread)


def eventually(check: Callable[[], bool], timeout: float = 20) -> bool:
    """Whether ``check`` comes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
