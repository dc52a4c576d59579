"""hookline inside a Python program: publish events straight into hookline's database.

    from hookline.embedded import Hookline

    async with Hookline.open(database_url="postgresql://…", secret_key="…") as hooks:
        ids = await hooks.publish("acme", {"type": "com.qlik.v1.app.created", "data": {...}})

``publish`` does what ``POST /api/v1/events`` does, in-process: it returns once the events
are durably stored, and ``hookline serve`` or ``hookline worker`` processes on the same
database deliver them. Settings not given come from ``HOOKLINE_*`` variables, as always.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from hookline.errors import NotFound
from hookline.services import Services
from hookline.settings import load_settings


class Hookline:
    def __init__(self, services: Services) -> None:
        self._services = services

    @classmethod
    @asynccontextmanager
    async def open(cls, **settings: Any) -> AsyncIterator[Hookline]:
        services = Services.build(load_settings(**settings))
        try:
            await services.store.migrate()
            yield cls(services)
        finally:
            await services.store.close()

    async def publish(self, tenant: str, events: object) -> list[str]:
        """Publish one event or a list (any of the three forms) for ``tenant`` (its id or
        its name); return the event ids. Raises InvalidInput for a bad event, NotFound for
        an unknown tenant."""
        store = self._services.store
        found = await store.get_tenant(tenant) or await store.find_tenant(tenant)
        if found is None:
            raise NotFound(f"no tenant {tenant!r}")
        return await self._services.publisher.publish(found.id, events)
