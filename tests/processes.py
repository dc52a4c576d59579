"""Real ``hookline serve`` and ``hookline worker`` processes for tests that kill, stop or
measure them, and the receiver-side bookkeeping of what they delivered."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hookline import accounts
from hookline.auth import Role
from hookline.embedded import Hookline
from hookline.services import Services
from hookline.settings import Settings, load_settings
from hookline.store import open_store
from hookline.webhooks import NewWebhook
from tests.databases import TEST_SECRET_KEY
from tests.delivery.receivers import FAST, Receiver

APP_CREATED = "com.qlik.v1.app.created"


def environment(database_url: str, ca_file: Path, **settings: str) -> dict[str, str]:
    """The machine's environment less its HOOKLINE_* variables, plus fast test settings,
    then ``settings`` (names as in Settings: ``request_timeout="2"``)."""
    given = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    chosen = {
        **{name: str(value) for name, value in FAST.items()},
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "ca_bundle": str(ca_file),
        "port": "0",
        "lease_seconds": "5",
        "connect_timeout": "1",
        "request_timeout": "2",
        **settings,
    }
    given.update({f"HOOKLINE_{name.upper()}": value for name, value in chosen.items()})
    return given


def admin_key(database_url: str, tenant: str = "acme") -> str:
    """Create ``tenant`` and return a tenant-admin key for it (in this process: quicker
    than two ``hookline`` commands)."""

    async def issue() -> str:
        store = open_store(_settings(database_url))
        try:
            created = await accounts.create_tenant(store, tenant)
            return (await accounts.issue_key(store, Role.TENANT_ADMIN, created)).key
        finally:
            await store.close()

    return asyncio.run(issue())


def create_webhook(database_url: str, key: str, url: str, **fields: Any) -> str:
    """Create a webhook for APP_CREATED as the owner of ``key``, in this process; its id."""

    async def create() -> str:
        services = Services.build(_settings(database_url))
        try:
            caller = await accounts.authenticate(services.store, key)
            new = NewWebhook(name="w", url=url, event_types=[APP_CREATED], **fields)
            return (await services.registry.create(caller, new)).id
        finally:
            await services.store.close()

    return asyncio.run(create())


def publish(database_url: str, count: int, tenant: str = "acme") -> list[str]:
    """Publish ``count`` APP_CREATED events with hookline's Python API, as a platform
    written in Python would; their ids."""

    async def publish_all() -> list[str]:
        ids: list[str] = []
        async with Hookline.open(database_url=database_url, secret_key=TEST_SECRET_KEY) as hooks:
            for start in range(0, count, 100):
                events = [
                    {"type": APP_CREATED, "data": {"n": n}}
                    for n in range(start, min(count, start + 100))
                ]
                ids += await hooks.publish(tenant, events)
        return ids

    return asyncio.run(publish_all())


def wait_all_ended(database_url: str, timeout: float = 120) -> None:
    """Wait until no delivery in the database is due or leased: each one has ended, so
    nothing more will be sent (a repeat would need one to be claimed again)."""

    async def pending() -> int:
        store = open_store(_settings(database_url))
        try:
            return (await store.queue_stats()).pending
        finally:
            await store.close()

    deadline = time.monotonic() + timeout
    while asyncio.run(pending()):
        assert time.monotonic() < deadline, "deliveries still pending"
        time.sleep(0.2)


def _settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY)


class Process:
    """One ``hookline`` process; its stderr (the JSON log) goes to ``log`` when given."""

    def __init__(self, environ: dict[str, str], *args: str, log: Path | None = None) -> None:
        self._log = log.open("ab") if log is not None else None
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "hookline", *args],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL,
            text=True,
        )

    def url(self) -> str:
        """The API's base URL, once ``serve`` says where it serves."""
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if "serving" in line:
                return line.split()[-1]
        raise AssertionError("serve never said where it serves")

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.running:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code (the wait only fails on a hang)."""
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def peak_rss_kib(self) -> int:
        """The process's peak resident set size (VmHWM), in KiB."""
        status = Path(f"/proc/{self.popen.pid}/status").read_text()
        [line] = [line for line in status.splitlines() if line.startswith("VmHWM:")]
        return int(line.split()[1])

    def close(self) -> None:
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        if self._log is not None:
            self._log.close()


def cli(environ: dict[str, str], *args: str) -> str:
    """What ``hookline *args`` prints, once it has succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", "hookline", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def stop_all(processes: list[Process]) -> None:
    for process in processes:
        process.close()


def delivered(receiver: Receiver, path: str) -> Counter[str]:
    """How many times each event id arrived at ``path``."""
    return Counter(json.loads(r.body)["eventId"] for r in receiver.received(path))


def wait_all(receiver: Receiver, path: str, ids: set[str], timeout: float = 120) -> Counter[str]:
    """Wait until every one of ``ids`` arrived at ``path``; the counts of all arrivals."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Counting is cheap; reading every body is not, and the receiver shares this process.
        if receiver.count(path) >= len(ids):
            got = delivered(receiver, path)
            if ids <= got.keys():
                return got
        time.sleep(0.2)
    missing = ids - delivered(receiver, path).keys()
    raise AssertionError(f"{len(missing)} accepted events never delivered")
