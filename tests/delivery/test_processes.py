"""Several ``hookline worker`` processes on one PostgreSQL never send an attempt twice.
(Processes killed or stopped while delivering: tests/reliability.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from hookline import accounts
from hookline.embedded import Hookline
from hookline.services import Services
from hookline.settings import load_settings
from hookline.webhooks import NewWebhook
from tests.databases import TEST_SECRET_KEY, Templates, fresh_database
from tests.delivery.conftest import HOST
from tests.delivery.receivers import Receiver
from tests.processes import APP_CREATED, Process, admin_key, delivered, environment, wait_all


def test_workers_sharing_postgres_never_send_an_attempt_twice(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/workers-{time.monotonic_ns()}"
    receiver.script(path)
    with fresh_database("postgres", templates, tmp_path) as database_url:
        environ = environment(database_url, ca_file)
        processes += [
            Process(environ, "worker"),
            Process(environ, "worker"),
            Process(environ, "worker"),
        ]
        key = admin_key(database_url)
        url = f"https://{HOST}:{receiver.port}{path}"
        ids = asyncio.run(_publish_in_process(database_url, key, url))
        got = wait_all(receiver, path, set(ids))
        time.sleep(0.5)
        assert delivered(receiver, path) == Counter(dict.fromkeys(ids, 1))
        assert got.keys() == set(ids)


async def _publish_in_process(database_url: str, key: str, url: str) -> list[str]:
    """Publish with hookline's Python API, as a platform written in Python would."""
    settings = {"database_url": database_url, "secret_key": TEST_SECRET_KEY}
    await _create_webhook(settings, key, url)
    ids: list[str] = []
    async with Hookline.open(**settings) as hooks:
        for batch in range(5):
            events = [{"type": APP_CREATED, "data": {"n": batch * 100 + n}} for n in range(100)]
            ids += await hooks.publish("acme", events)
    return ids


async def _create_webhook(settings: dict[str, str], key: str, url: str) -> None:
    services = Services.build(load_settings(**settings))
    try:
        caller = await accounts.authenticate(services.store, key)
        await services.registry.create(
            caller, NewWebhook(name="w", url=url, event_types=[APP_CREATED])
        )
    finally:
        await services.store.close()
