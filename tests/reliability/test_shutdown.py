"""SIGTERM while attempts are in flight to a slow receiver: the attempts finish (within
HOOKLINE_SHUTDOWN_GRACE) and are recorded, the process exits 0, and what did not finish is
retried by the next process. Nothing is lost."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.databases import Templates, fresh_database
from tests.delivery.receivers import HOST, Receiver, Reply
from tests.processes import (
    Process,
    admin_key,
    create_webhook,
    delivered,
    environment,
    publish,
    stop_all,
)
from tests.reliability.figures import SOAK, report
from tests.servers import Client

BOUND = 60  # seconds: "did not hang", never a performance claim
EVENTS = 8
SLOW = 2.0  # seconds the receiver takes to answer
INTERRUPTED = "interrupted: the process stopped before the response came"


def _history(api: Client, webhook_id: str) -> list[dict[str, Any]]:
    """The webhook's deliveries once all EVENTS have ended."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        response = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100})
        found = list(response.json()["data"])
        if len(found) == EVENTS and all(d["status"] == "success" for d in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"deliveries never ended: {found}")


SOAK_ONLY = pytest.mark.skipif(not SOAK, reason="the same promise as its twin; HOOKLINE_SOAK=1")


@pytest.mark.parametrize(
    ("backend", "command", "grace"),
    [
        # The attempts finish within the grace.
        ("sqlite", "serve", 30.0),
        pytest.param("postgres", "worker", 30.0, marks=SOAK_ONLY),
        # The grace runs out: the attempts are interrupted.
        pytest.param("sqlite", "serve", 0.5, marks=SOAK_ONLY),
        ("postgres", "worker", 0.5),
    ],
)
def test_sigterm_finishes_or_hands_over_the_attempts_in_flight(
    backend: str,
    command: str,
    grace: float,
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/shutdown-{uuid.uuid4().hex[:8]}"
    receiver.script(path, Reply(delay=SLOW))
    with fresh_database(backend, templates, tmp_path) as database_url:
        environ = environment(
            database_url,
            ca_file,
            request_timeout="10",
            lease_seconds="12",
            shutdown_grace=str(grace),
        )
        key = admin_key(database_url)
        webhook_id = create_webhook(database_url, key, f"https://{HOST}:{receiver.port}{path}")
        log = tmp_path / "hookline.log"
        stopping = Process(environ, command, log=log)
        processes.append(stopping)
        ids = publish(database_url, EVENTS)
        receiver.wait_for(path, EVENTS, timeout=BOUND)  # every attempt is in flight

        started = time.monotonic()
        assert stopping.terminate(timeout=BOUND) == 0
        stopped_after = time.monotonic() - started
        sent_before = delivered(receiver, path)

        following = Process(environ, "serve", log=log)
        processes.append(following)
        history = _history(Client(following.url(), key), webhook_id)
        attempts = [[a["error"] for a in d["attempts"]] for d in history]
        if grace > SLOW:
            assert attempts == [[None]] * EVENTS  # finished and recorded before the exit
            assert delivered(receiver, path) == sent_before
        else:
            assert attempts == [[INTERRUPTED, None]] * EVENTS  # retried by the next process
        assert delivered(receiver, path).keys() == set(ids)
        report(
            f"shutdown {command} {backend} grace {grace:g} s",
            in_flight=EVENTS,
            stopped_after_seconds=round(stopped_after, 1),
            losses=len(set(ids) - delivered(receiver, path).keys()),
        )
        stop_all(processes)
