"""A recover survives a crash: the ``serve`` process running a recover of a large window is
SIGKILLed mid-task and started again; the task goes on from its cursor and finishes, having
made exactly one delivery of every event of the window. The receiver gets each event at
least once; more only for the attempts the killed process had in flight."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.settings import load_settings
from hookline.store import open_store
from tests.databases import TEST_SECRET_KEY, Templates, fresh_database
from tests.delivery.receivers import HOST, Receiver, Reply
from tests.processes import (
    APP_CREATED,
    Process,
    admin_key,
    delivered,
    environment,
    publish,
    stop_all,
    wait_all_ended,
)
from tests.reliability.figures import SOAK, report

EVENTS = 10_000 if SOAK else 2_000
CONCURRENCY = 32
REQUEST_TIMEOUT = 5.0
LEASE = REQUEST_TIMEOUT + 2  # how long the killed process's task and deliveries wait
KILL_AFTER = 200  # recovered deliveries received: the task is far from done then


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_killed_recover_goes_on_from_its_cursor_and_sends_each_event_once(
    backend: str,
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for quota in ("EVENTS", "BYTES"):  # the window is published at once, here
        monkeypatch.setenv(f"HOOKLINE_PUBLISH_{quota}_PER_SECOND", "0")
    path = f"/recover-crash-{backend}-{uuid.uuid4().hex[:8]}"
    receiver.script(path, Reply(delay=0.01))
    with fresh_database(backend, templates, tmp_path) as database_url:
        environ = environment(
            database_url,
            ca_file,
            concurrency=str(CONCURRENCY),
            endpoint_concurrency=str(CONCURRENCY),
            request_timeout=str(REQUEST_TIMEOUT),
            lease_seconds=str(LEASE),
        )
        log = tmp_path / "hookline.log"
        try:
            headers = {"Authorization": f"Bearer {admin_key(database_url)}"}
            api = _serve(environ, log, processes)
            body = {
                "name": "down",
                "url": f"https://{HOST}:{receiver.port}{path}",
                "eventTypes": [APP_CREATED],
                "enabled": False,
            }
            webhook = _call(api, "POST", "/api/v1/webhooks", headers, 201, json=body)
            since = datetime.now(UTC) - timedelta(seconds=1)
            ids = set(publish(database_url, EVENTS))  # while the webhook is off
            _wait_fanned_out(database_url)
            hook = f"/api/v1/webhooks/{webhook['id']}"
            enable = [{"op": "replace", "path": "/enabled", "value": True}]
            _call(api, "PATCH", hook, headers, 204, json=enable)
            recover = {"since": since.isoformat(), "only": "missing"}
            task = _call(api, "POST", f"{hook}/actions/recover", headers, 202, json=recover)

            while receiver.count(path) < KILL_AFTER:
                time.sleep(0.005)
            follow = f"{hook}/tasks/{task['id']}"
            assert _call(api, "GET", follow, headers, 200)["status"] == "running"
            processes[-1].kill()
            api = _serve(environ, log, processes)

            finished = _wait_finished(api, follow, headers)
            wait_all_ended(database_url, timeout=300)
            made = _made_by(api, hook, headers, task["id"])
            got = delivered(receiver, path)
            repeats = sum(got.values()) - len(got)
            report(
                f"recover crash {backend}",
                events=EVENTS,
                killed_after=KILL_AFTER,
                repeats=repeats,
                bound=CONCURRENCY,
            )
            assert (finished["status"], finished["total"], finished["done"]) == (
                "done",
                EVENTS,
                EVENTS,
            )
            assert finished["recovered"] == EVENTS
            assert made == Counter(dict.fromkeys(ids, 1))  # the task sent each event once
            assert got.keys() == ids
            assert repeats <= CONCURRENCY  # the killed process's attempts in flight only
        finally:
            stop_all(processes)  # before their database is dropped


def _serve(environ: dict[str, str], log: Path, processes: list[Process]) -> str:
    process = Process(environ, "serve", log=log)
    processes.append(process)
    return process.url()


def _call(
    api: str, method: str, path: str, headers: dict[str, str], status: int, **kwargs: Any
) -> Any:
    response = httpx.request(method, f"{api}{path}", headers=headers, timeout=30, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _wait_fanned_out(database_url: str, timeout: float = 120) -> None:
    """Wait until no event waits for fan-out (the webhook being off, none made deliveries)."""

    async def waiting() -> int:
        store = open_store(load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY))
        try:
            return (await store.queue_stats()).fanout_pending
        finally:
            await store.close()

    deadline = time.monotonic() + timeout
    while asyncio.run(waiting()):
        assert time.monotonic() < deadline, "events still waiting for fan-out"
        time.sleep(0.2)


def _wait_finished(api: str, path: str, headers: dict[str, str]) -> Any:
    deadline = time.monotonic() + 300
    while (task := _call(api, "GET", path, headers, 200))["finishedAt"] is None:
        assert time.monotonic() < deadline, task
        time.sleep(0.2)
    return task


def _made_by(api: str, hook: str, headers: dict[str, str], task_id: str) -> Counter[str]:
    """How many deliveries the task made of each event (the webhook's whole history)."""
    made: Counter[str] = Counter()
    params: dict[str, str | int] = {"limit": 100}
    while True:
        page = _call(api, "GET", f"{hook}/deliveries", headers, 200, params=params)
        made.update(item["eventId"] for item in page["data"] if item["taskId"] == task_id)
        following = page["links"].get("next")
        if not following:
            return made
        params = {"limit": 100, "next": httpx.URL(following["href"]).params["next"]}
