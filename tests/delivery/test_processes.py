"""Real hookline processes: killed with SIGKILL while delivering, and several workers on one
PostgreSQL. Every accepted event is delivered; only a crash may cause duplicates."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from hookline import accounts
from hookline.embedded import Hookline
from hookline.services import Services
from hookline.settings import load_settings
from hookline.webhooks import NewWebhook
from tests.databases import TEST_SECRET_KEY, Templates, fresh_database
from tests.delivery.processes import Process, cli, hookline_environment
from tests.delivery.receivers import HOST, Receiver

APP_CREATED = "com.qlik.v1.app.created"


def _delivered(receiver: Receiver, path: str) -> Counter[str]:
    return Counter(json.loads(r.body)["eventId"] for r in receiver.received(path))


def _wait_all(receiver: Receiver, path: str, ids: set[str], timeout: float = 60) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _delivered(receiver, path)
        if ids <= got.keys():
            return got
        time.sleep(0.1)
    missing = ids - _delivered(receiver, path).keys()
    raise AssertionError(f"{len(missing)} accepted events never delivered")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_killed_serve_process_loses_no_accepted_event(
    backend: str,
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/crash-{backend}-{time.monotonic_ns()}"
    receiver.script(path)
    with fresh_database(backend, templates, tmp_path) as database_url:
        environment = hookline_environment(database_url, ca_file)
        cli(environment, "tenant", "create", "acme")
        key = cli(environment, "key", "create", "--tenant", "acme", "--role", "tenant-admin")
        headers = {"Authorization": f"Bearer {key}"}
        first = Process(environment, "serve")
        processes.append(first)
        url = first.url()
        hook = {
            "name": "c",
            "url": f"https://{HOST}:{receiver.port}{path}",
            "eventTypes": [APP_CREATED],
        }
        assert httpx.post(f"{url}/api/v1/webhooks", json=hook, headers=headers).status_code == 201

        accepted: set[str] = set()
        for batch in range(10):
            events = [{"type": APP_CREATED, "data": {"n": batch * 50 + n}} for n in range(50)]
            response = httpx.post(f"{url}/api/v1/events", json=events, headers=headers, timeout=30)
            assert response.status_code == 202
            accepted |= {item["id"] for item in response.json()["data"]}
            if batch == 5:
                first.kill()  # while earlier batches are being delivered
                second = Process(environment, "serve")
                processes.append(second)
                url = second.url()

        delivered = _wait_all(receiver, path, accepted)
        duplicates = sum(count - 1 for count in delivered.values())
        assert delivered.keys() == accepted
        # Only attempts in flight at the kill may be repeated.
        assert duplicates <= 256, duplicates


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
        environment = hookline_environment(database_url, ca_file)
        processes += [
            Process(environment, "worker"),
            Process(environment, "worker"),
            Process(environment, "worker"),
        ]
        ids = asyncio.run(
            _publish_in_process(database_url, ca_file, f"https://{HOST}:{receiver.port}{path}")
        )
        delivered = _wait_all(receiver, path, set(ids))
        time.sleep(0.5)
        assert _delivered(receiver, path) == Counter(dict.fromkeys(ids, 1))
        assert delivered.keys() == set(ids)


async def _publish_in_process(database_url: str, ca_file: Path, url: str) -> list[str]:
    """Publish with hookline's Python API, as a platform written in Python would."""
    settings = {"database_url": database_url, "secret_key": TEST_SECRET_KEY}
    environment = hookline_environment(database_url, ca_file)
    cli(environment, "tenant", "create", "acme")
    key = cli(environment, "key", "create", "--tenant", "acme", "--role", "tenant-admin")
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
