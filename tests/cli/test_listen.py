"""``hookline listen`` against a real delivery from a real hookline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.servers import RunningServer

SECRET = "0123456789abcdef0123456789abcdef"
APP_CREATED = "com.qlik.v1.app.created"


Listening = tuple[subprocess.Popen[str], str]


def _start(*options: str) -> Listening:
    environment = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hookline", "listen", "--port", "0", *options],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("listening on http://localhost:"), first
    return process, first.split()[2]


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(10)


@pytest.fixture
def listener() -> Iterator[Listening]:
    started = _start("--secret", SECRET)
    yield started
    _stop(started[0])


def _read_until(process: subprocess.Popen[str], done: Callable[[str], bool]) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen += process.stdout.readline()
        if done(seen):
            return seen
    raise AssertionError(f"listen never printed what was expected:\n{seen}")


def test_listen_verifies_and_prints_a_delivery(
    make_server: Callable[..., RunningServer], listener: Listening
) -> None:
    process, url = listener
    server = make_server(dev=True, poll_interval=0.05)
    tenant = server.new_tenant()
    admin = tenant.client()
    hook: dict[str, Any] = {
        "name": "dev",
        "url": f"{url}/in",
        "eventTypes": [APP_CREATED],
        "secret": SECRET,
    }
    assert admin.post("/api/v1/webhooks", json=hook).status_code == 201
    event_id = admin.post(
        "/api/v1/events", json={"type": APP_CREATED, "data": {"id": "app-7"}}
    ).json()["data"][0]["id"]

    printed = _read_until(process, lambda seen: "1 received" in seen)

    assert event_id in printed
    assert "Qlik-Signature ok" in printed
    assert "webhook-signature ok" in printed
    assert '"app-7"' in printed
    assert "1 verified" in printed


def test_listen_refuses_a_delivery_signed_with_another_secret(
    make_server: Callable[..., RunningServer], listener: Listening
) -> None:
    process, url = listener
    server = make_server(dev=True, poll_interval=0.05, retry_schedule="0")
    admin = server.new_tenant().client()
    hook = {"name": "dev", "url": f"{url}/in", "eventTypes": [APP_CREATED], "secret": "x" * 32}
    made = admin.post("/api/v1/webhooks", json=hook).json()
    admin.post("/api/v1/events", json={"type": APP_CREATED, "data": {}})

    printed = _read_until(process, lambda seen: "1 refused" in seen)

    assert "INVALID" in printed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [delivery] = admin.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()["data"] or [None]
        if delivery and delivery["status"] == "fail":
            break
        time.sleep(0.05)
    assert delivery is not None
    assert delivery["response"]["statusCode"] == 401


def test_a_long_run_prints_progress_lines_with_totals_and_rate() -> None:
    process, url = _start("--quiet", "--progress", "0.2")
    try:
        for n in range(3):
            assert httpx.post(f"{url}/in", json={"n": n}).status_code == 200
        printed = _read_until(process, lambda seen: "3 received" in seen)
    finally:
        _stop(process)
    last = printed.splitlines()[-1]
    assert re.match(r"progress after \d+:\d\d:\d\d\b", last), last  # however long it took
    assert "3 received, 0 verified, 0 refused" in last
    assert "/s" in printed
    assert '"n"' not in printed  # --quiet: no delivery printed
