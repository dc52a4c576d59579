"""A hookline process: the API (for ``serve``), delivery workers and the history purge,
sharing one set of services and stopping together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

import structlog

from hookline.clock import now
from hookline.dispatcher import Dispatcher
from hookline.errors import StorageUnavailable
from hookline.server import ApiServer
from hookline.services import Services

log = structlog.get_logger()
PURGE_BATCH = 5000


class Runtime:
    def __init__(self, services: Services, *, serve_api: bool = True) -> None:
        self.services = services
        settings = services.settings
        self._api = ApiServer(services, settings.host, settings.port) if serve_api else None
        self._dispatcher = Dispatcher(
            services.store, services.attempter, services.limits, services.history.failures
        )
        self._stopping = asyncio.Event()

    async def run(self, on_started: Callable[[str], None] = lambda url: None) -> None:
        """Run until ``stop()``: in-flight attempts finish and their outcomes are recorded."""
        workers = [
            asyncio.create_task(self._dispatcher.run(self._stopping)),
            asyncio.create_task(self._purge_periodically()),
        ]
        try:
            if self._api is not None:
                await self._api.run(on_started)
            else:
                on_started("")
            await self._stopping.wait()
        finally:
            self._stopping.set()
            await asyncio.gather(*workers)

    def stop(self) -> None:
        if self._api is not None:
            self._api.stop()
        self._stopping.set()

    @property
    def url(self) -> str:
        return self._api.url if self._api is not None else ""

    async def _purge_periodically(self) -> None:
        interval = self.services.settings.purge_interval
        while not self._stopping.is_set():
            try:
                await purge_history(self.services)
            except StorageUnavailable as error:
                log.warning("purge failed; retrying later", error=str(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)


async def purge_history(services: Services) -> int:
    """Delete deliveries and events older than the retention, in bounded batches; return
    how many deliveries went."""
    before = now() - timedelta(days=services.settings.history_days)
    total = 0
    while True:
        purged = await services.store.purge(before, PURGE_BATCH)
        total += purged.deliveries
        if max(purged.deliveries, purged.events) < PURGE_BATCH:
            return total
