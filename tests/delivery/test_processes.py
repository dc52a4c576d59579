"""Real hookline processes: killed with SIGKILL while delivering, and several workers on one
PostgreSQL. Every accepted event is delivered; only a crash may cause duplicates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookline import accounts
from hookline.embedded import Hookline
from hookline.services import Services
from hookline.settings import load_settings
from hookline.webhooks import NewWebhook
from tests.databases import TEST_SECRET_KEY, Templates, fresh_database
from tests.delivery.conftest import FAST, HOST
from tests.delivery.receivers import Receiver

APP_CREATED = "com.qlik.v1.app.created"


def _environment(database_url: str, ca_file: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    environment.update({f"HOOKLINE_{name.upper()}": str(value) for name, value in FAST.items()})
    environment.update(
        HOOKLINE_DATABASE_URL=database_url,
        HOOKLINE_SECRET_KEY=TEST_SECRET_KEY,
        HOOKLINE_CA_BUNDLE=str(ca_file),
        HOOKLINE_PORT="0",
        HOOKLINE_LEASE_SECONDS="5",
        HOOKLINE_CONNECT_TIMEOUT="1",
        HOOKLINE_REQUEST_TIMEOUT="2",
    )
    return environment


def _cli(environment: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hookline", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


class Process:
    def __init__(self, environment: dict[str, str], command: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "hookline", command],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def url(self) -> str:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if "serving" in line:
                return line.split()[-1]
        raise AssertionError("serve never said where it serves")

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            self.popen.wait(30)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


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
        environment = _environment(database_url, ca_file)
        _cli(environment, "tenant", "create", "acme")
        key = _cli(environment, "key", "create", "--tenant", "acme", "--role", "tenant-admin")
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
        environment = _environment(database_url, ca_file)
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
    environment = _environment(database_url, ca_file)
    _cli(environment, "tenant", "create", "acme")
    key = _cli(environment, "key", "create", "--tenant", "acme", "--role", "tenant-admin")
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
