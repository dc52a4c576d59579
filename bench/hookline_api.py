"""hookline through its own front doors: the CLI for the tenant and key, the API for webhooks
and events; and a fresh database and ``hookline serve`` process for each run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import EVENT_TYPE, HOST, PAD, SECRET, VENV_BIN, Tls
from bench.procs import Database, Hookline, errors_in

TENANT = "bench"


@dataclass
class Api:
    session: aiohttp.ClientSession
    url: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

    async def create_webhook(
        self, name: str, url: str, event_types: tuple[str, ...] = (EVENT_TYPE,), filter: str = ""
    ) -> str:
        body = {"name": name, "url": url, "eventTypes": list(event_types), "secret": SECRET}
        if filter:
            body["filter"] = filter
        async with self.session.post(
            f"{self.url}/api/v1/webhooks", data=orjson.dumps(body), headers=self.headers
        ) as response:
            if response.status != 201:
                raise RuntimeError(f"creating a webhook: {response.status} {await response.text()}")
            return str((await response.json())["id"])

    async def publish(self, count: int) -> float:
        """Publish ``count`` events in one request, each carrying the send time in
        ``data.sentAt``; return the request's duration in seconds."""
        sent_at = time.time()
        events = [{"type": EVENT_TYPE, "data": {"pad": PAD, "sentAt": sent_at}}] * count
        started = time.perf_counter()
        async with self.session.post(
            f"{self.url}/api/v1/events", data=orjson.dumps(events), headers=self.headers
        ) as response:
            text = await response.text()
            if response.status != 202:
                raise RuntimeError(f"publishing: {response.status} {text[:300]}")
        return time.perf_counter() - started


@dataclass
class Run:
    hookline: Hookline
    database: Database
    api: Api
    webhook_ids: list[str] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_logs: list[Path] = field(default_factory=list)

    async def start_workers(self, count: int, timeout: float = 60) -> None:
        """``count`` more ``hookline worker`` processes on the same database, once each
        says it is delivering."""
        logs = []
        for _ in range(count):
            path = self.hookline.workdir / f"{self.database.name}-worker{len(self.worker_logs)}.log"
            self.worker_logs.append(path)
            logs.append(path)
            with open(path, "ab") as log:
                self.workers.append(
                    subprocess.Popen(
                        [str(VENV_BIN / "hookline"), "worker"],
                        env=self.hookline.env,
                        stdout=log,
                        stderr=log,
                        cwd=self.hookline.workdir,
                    )
                )
        deadline = time.monotonic() + timeout
        while not all(b"hookline worker delivering" in path.read_bytes() for path in logs):
            if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"a hookline worker did not start: see {logs}")
            await asyncio.sleep(0.1)

    def errors_logged(self) -> int:
        """Lines at level error in the logs of serve and of the workers."""
        return self.hookline.errors_logged() + sum(errors_in(log) for log in self.worker_logs)

    async def stop_workers(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                await asyncio.to_thread(worker.wait, 30)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers = []


def webhook_url(port: int, path: str) -> str:
    return f"https://{HOST}:{port}{path}"


@contextlib.asynccontextmanager
async def hookline_run(
    session: aiohttp.ClientSession,
    backend: str,
    tls: Tls,
    workdir: Path,
    receiver_port: int,
    paths: list[str],
    extra_env: dict[str, str] | None = None,
    start: bool = True,
    keep: bool = False,
) -> AsyncIterator[Run]:
    """A fresh database, a tenant and a tenant-admin key made with the CLI, ``hookline
    serve`` running, and one webhook (with a secret) per path, made through the API; the
    database is dropped afterwards unless ``keep``."""
    database = Database(backend, workdir)
    await database.create()
    hookline = Hookline(database, tls, workdir, extra_env)
    try:
        await asyncio.to_thread(hookline.cli, "tenant", "create", TENANT)
        key = await asyncio.to_thread(
            hookline.cli, "key", "create", "--tenant", TENANT, "--role", "tenant-admin"
        )
        await hookline.start()
        api = Api(session, hookline.url, key)
        ids = []
        for number, path in enumerate(paths):
            ids.append(
                await api.create_webhook(f"bench-{number}", webhook_url(receiver_port, path))
            )
        run = Run(hookline, database, api, ids)
        if not start:
            await hookline.stop()
        yield run
    finally:
        if "run" in locals():
            await run.stop_workers()
        await hookline.stop()
        if keep:
            print(f"database kept: {database.url}")
        else:
            await database.drop()


async def restart(run: Run) -> None:
    """Start ``hookline serve`` again on the same database (the API URL changes)."""
    await run.hookline.stop()
    await run.hookline.start()
    run.api.url = run.hookline.url


async def publish_all(api: Api, events: int, per_request: int, in_flight: int) -> dict[str, Any]:
    """Publish ``events`` in requests of ``per_request``, ``in_flight`` requests at a time,
    as fast as hookline answers."""
    sizes = [per_request] * (events // per_request)
    if events % per_request:
        sizes.append(events % per_request)
    durations: list[float] = []
    queue = list(reversed(sizes))
    first = time.time()

    async def worker() -> None:
        while queue:
            durations.append(await api.publish(queue.pop()))

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return {
        "first": first,
        "last": time.time(),
        "requests": len(sizes),
        "request_p50_ms": sorted(durations)[len(durations) // 2] * 1000 if durations else None,
        "request_max_ms": max(durations) * 1000 if durations else None,
    }
