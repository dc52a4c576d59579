"""A hookline process: the API (for ``serve``), the probes (with ``HOOKLINE_METRICS_PORT``),
delivery workers and the history purge, sharing one set of services and stopping together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from hookline import metrics, telemetry
from hookline.api import create_app
from hookline.api.health import create_probe_app
from hookline.clock import now
from hookline.dispatcher import Dispatcher
from hookline.errors import StorageUnavailable
from hookline.fanout import Expander
from hookline.server import HttpServer
from hookline.services import Services
from hookline.store import Store
from hookline.store.base import Purged
from hookline.task_runner import TaskRunner

log = structlog.get_logger()
PURGE_BATCH = 5000
STATS_INTERVAL = 15.0
COLLECTOR_THRESHOLDS = (10_000, 20, 20)  # Python's: (700, 10, 10)


class Runtime:
    def __init__(self, services: Services, *, serve_api: bool = True) -> None:
        self.services = services
        settings = services.settings
        self._api = (
            HttpServer(
                create_app(services), settings.host, settings.port, grace=settings.shutdown_grace
            )
            if serve_api
            else None
        )
        self._probes = (
            HttpServer(
                create_probe_app(services),
                settings.host,
                settings.metrics_port,
                grace=settings.shutdown_grace,
            )
            if settings.metrics_port is not None
            else None
        )
        metrics.TENANTS.limit = settings.metrics_tenant_labels
        telemetry.configure(settings.attempt_log)
        self._dispatcher = Dispatcher(
            services.store,
            services.attempter,
            services.limits,
            services.history.failures,
            services.slots,
            services.history.owner,
        )
        self._expander = Expander(services.store, services.fanout_limits)
        self._tasks = TaskRunner(services.store, services.task_limits, services.history.owner)
        self._stopping = asyncio.Event()

    async def run(self, on_started: Callable[[str], None] = lambda url: None) -> None:
        """Run until ``stop()``: in-flight attempts finish and their outcomes are recorded."""
        workers = [
            asyncio.create_task(self._dispatcher.run(self._stopping)),
            asyncio.create_task(self._expander.run(self._stopping)),
            asyncio.create_task(self._tasks.run(self._stopping)),
            asyncio.create_task(self._every(self.services.settings.purge_interval, self._purge)),
            asyncio.create_task(self._every(STATS_INTERVAL, self._refresh_gauges)),
        ]
        try:
            await self._serve_http(lambda: on_started(self.url))
            await self._stopping.wait()
        finally:
            self.stop()
            await asyncio.gather(*workers)
            telemetry.flush()  # every attempt is observed once the dispatcher returned

    async def _serve_http(self, on_started: Callable[[], None]) -> None:
        """Run the HTTP servers until stopped; ``on_started`` once all of them listen."""
        servers = self._servers
        listening = 0

        def one_listens(_: str) -> None:
            nonlocal listening
            listening += 1
            if listening == len(servers):
                on_started()

        if not servers:
            on_started()
        runs = [asyncio.create_task(server.run(one_listens)) for server in servers]
        try:
            await asyncio.gather(*runs)
        except BaseException:  # one could not listen: stop the others before saying why
            self.stop()
            await asyncio.gather(*runs, return_exceptions=True)
            raise

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._stopping.set()

    @property
    def _servers(self) -> list[HttpServer]:
        return [server for server in (self._api, self._probes) if server is not None]

    @property
    def url(self) -> str:
        """The API's base URL ("" without the API)."""
        return self._api.url if self._api is not None else ""

    @property
    def probes_url(self) -> str:
        """The probes' base URL ("" without HOOKLINE_METRICS_PORT)."""
        return self._probes.url if self._probes is not None else ""

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` now and every ``seconds`` until stopped; a database outage only
        postpones it."""
        while not self._stopping.is_set():
            try:
                await job()
            except StorageUnavailable as error:
                log.warning(
                    "periodic job failed; retrying later", job=job.__name__, error=str(error)
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _purge(self) -> None:
        await purge_history(self.services.store, self.services.settings.history_days)
        # Secrets no longer signing leave storage too (hookline.rotation).
        await self.services.store.end_rotations(now())

    async def _refresh_gauges(self) -> None:
        stats = await self.services.store.queue_stats()
        metrics.PENDING.set(stats.pending)
        overdue = (now() - stats.oldest_due_at).total_seconds() if stats.oldest_due_at else 0
        metrics.OLDEST_PENDING_SECONDS.set(max(0.0, overdue))
        metrics.DISABLED_WEBHOOKS.set(stats.disabled_webhooks)
        metrics.FANOUT_PENDING.set(stats.fanout_pending)


async def purge_history(store: Store, history_days: int) -> Purged:
    """Delete deliveries, events and finished tasks older than the retention, in bounded
    batches (on PostgreSQL, whole days are dropped first); return what went."""
    before = now() - timedelta(days=history_days)
    while await store.purge_tasks(before, PURGE_BATCH) == PURGE_BATCH:
        pass
    total = Purged(deliveries=0, events=0)
    while True:
        purged = await store.purge(before, PURGE_BATCH)
        total = Purged(
            total.deliveries + purged.deliveries,
            total.events + purged.events,
            total.days + purged.days,
        )
        if max(purged.deliveries, purged.events) < PURGE_BATCH:
            return total


def calm_collector() -> None:
    """Keep the garbage collector's pauses short in a long-running process.

    Everything made while starting (modules, the app, compiled statements) lives as long as
    the process; frozen, it is left out of every scan. Measured with ``bench/``: without
    this, full collections paused delivery for up to 114 ms, 16 times in 15 s at 1,000
    deliveries/s, which was the whole p99 lag.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
