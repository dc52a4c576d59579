"""At-least-once delivery across crashes: rounds of publishing while a ``serve`` or ``worker``
process is SIGKILLed at a random moment and restarted. Every event accepted with 202 is
delivered; an event is delivered twice only if the killed process had sent it without
recording the outcome, and those are bounded by its concurrency.

By default each configuration runs two short rounds; ``HOOKLINE_SOAK=1`` (``make soak``)
runs 20 rounds of 2,000 events each.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import Templates, fresh_database
from tests.delivery.receivers import HOST, Receiver, Reply
from tests.processes import (
    APP_CREATED,
    Process,
    admin_key,
    delivered,
    environment,
    stop_all,
    wait_all,
)
from tests.reliability.figures import SOAK, report

ROUNDS, EVENTS = (20, 2000) if SOAK else (2, 500)
BATCH = 100
CONCURRENCY = 32
# The receiver shares the test's process: on a loaded machine it may answer late, and an
# attempt that times out is retried, a repeat the kill did not cause. A long timeout keeps
# those out; the lease must outlast it, and is how long a killed process's deliveries wait.
REQUEST_TIMEOUT = 5.0
LEASE = REQUEST_TIMEOUT + 2
RECEIVER_DELAY = 0.02  # seconds per request, so that attempts are in flight at the kill


@dataclass
class Cluster:
    """The processes of one configuration: ``victim`` is the one killed (``serve`` or
    ``worker``); with a worker victim, a ``serve`` that is never killed answers the API."""

    environ: dict[str, str]
    victim_command: str
    log: Path
    processes: list[Process]
    victim: Process = field(init=False)
    api: str = field(init=False)
    restarted_at: float = field(init=False)

    def __post_init__(self) -> None:
        if self.victim_command == "worker":
            self.api = self._start("serve").url()
        self.restart()

    def _start(self, command: str) -> Process:
        process = Process(self.environ, command, log=self.log)
        self.processes.append(process)
        return process

    def restart(self) -> None:
        self.restarted_at = time.monotonic()
        self.victim = self._start(self.victim_command)
        if self.victim_command == "serve":
            self.api = self.victim.url()


@dataclass
class Round:
    accepted: set[str] = field(default_factory=set)
    unavailable: int = 0  # publishing answered 503 (the API's "retry later")


def _publish_round(
    cluster: Cluster,
    headers: dict[str, str],
    arrivals: Callable[[], int],
    rng: random.Random,
    during_fanout: bool,
) -> Round:
    """Publish EVENTS (with ids of our own, so a batch cut off by the kill can be posted
    again) while the victim is killed: after a random number of this round's deliveries
    arrived (while publishing or delivering) or, ``during_fanout``, the moment a random
    batch is accepted (while its deliveries are being made); restart it; return what was
    accepted."""
    done = Round()
    victim, before, kill_after = cluster.victim, arrivals(), rng.randrange(EVENTS)
    kill_at_batch = rng.randrange(0, EVENTS, BATCH) if during_fanout else -1

    def kill() -> None:
        while arrivals() - before < kill_after:
            time.sleep(0.005)
        victim.kill()

    killer = threading.Thread(target=kill)
    if not during_fanout:
        killer.start()
    for start in range(0, EVENTS, BATCH):
        events = [
            {"type": APP_CREATED, "id": uuid.uuid4().hex, "data": {"n": n}}
            for n in range(start, start + BATCH)
        ]
        done.accepted |= _post_until_accepted(cluster, events, headers, done)
        if start == kill_at_batch:
            victim.kill()
    if not during_fanout:
        killer.join()
    if not cluster.victim.running:
        cluster.restart()
    return done


def _post_until_accepted(
    cluster: Cluster, events: list[dict[str, Any]], headers: dict[str, str], done: Round
) -> set[str]:
    """Post ``events`` until they are accepted: again after a 503 (the API's "retry
    later"), and to the new serve process after the old one was killed."""
    while True:
        try:
            response = httpx.post(
                f"{cluster.api}/api/v1/events", json=events, headers=headers, timeout=60
            )
        except httpx.TransportError:
            if cluster.victim_command != "serve":
                raise
            cluster.victim.popen.wait(10)  # killed meanwhile (or this fails)
            cluster.restart()
            continue
        if response.status_code == 503:
            done.unavailable += 1
            time.sleep(0.1)
            continue
        assert response.status_code == 202, response.text
        return {item["id"] for item in response.json()["data"]}


@pytest.mark.parametrize(
    ("backend", "victim"),
    [("sqlite", "serve"), ("postgres", "serve"), ("postgres", "worker")],
)
def test_killed_processes_lose_no_accepted_event(
    backend: str,
    victim: str,
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/crash-{backend}-{victim}-{uuid.uuid4().hex[:8]}"
    receiver.script(path, Reply(delay=RECEIVER_DELAY))
    seed = random.randrange(2**32)
    print(f"crash rounds seed: {seed}")  # shown with the failure, to replay it
    rng = random.Random(seed)
    with fresh_database(backend, templates, tmp_path) as database_url:
        environ = environment(
            database_url,
            ca_file,
            concurrency=str(CONCURRENCY),
            endpoint_concurrency=str(CONCURRENCY),
            request_timeout=str(REQUEST_TIMEOUT),
            lease_seconds=str(LEASE),
        )
        try:
            headers = {"Authorization": f"Bearer {admin_key(database_url)}"}
            cluster = Cluster(environ, victim, tmp_path / "hookline.log", processes)
            hook = {"name": "c", "url": f"https://{HOST}:{receiver.port}{path}"}
            response = httpx.post(
                f"{cluster.api}/api/v1/webhooks",
                json={**hook, "eventTypes": [APP_CREATED]},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            never = {**hook, "url": hook["url"] + "-never", "filter": "data.n eq -1"}
            filtered = httpx.post(
                f"{cluster.api}/api/v1/webhooks",
                json={**never, "eventTypes": [APP_CREATED]},
                headers=headers,
            )
            assert filtered.status_code == 201, filtered.text

            losses = duplicates = accepted = unavailable = most = other_repeats = 0
            everything: set[str] = set()
            for number in range(ROUNDS):
                done = _publish_round(
                    cluster, headers, lambda: receiver.count(path), rng, number % 2 == 1
                )
                everything |= done.accepted
                counts = wait_all(receiver, path, done.accepted)
                _wait_none_pending(cluster.api, response.json()["id"], headers)
                repeated, later = _repeated(receiver, path, done, cluster.restarted_at)
                losses += len(done.accepted - counts.keys())
                duplicates += len(repeated)
                accepted += len(done.accepted)
                unavailable += done.unavailable
                most = max(most, len(repeated))
                other_repeats += len(later)
                # Only what the killed process had sent, unrecorded, may be sent again; and
                # a live process repeats at most what it has in flight when an attempt
                # times out or a lease runs out on an overloaded machine.
                assert len(repeated) <= CONCURRENCY, repeated
                assert len(later) <= CONCURRENCY, later
            # Fanned out exactly once, to exactly the matching webhook.
            made = _deliveries_by_event(cluster.api, response.json()["id"], headers)
            assert made == Counter(dict.fromkeys(everything, 1))
            assert not _deliveries_by_event(cluster.api, filtered.json()["id"], headers)
            assert receiver.count(path + "-never") == 0
            report(
                f"crashes {backend} {victim}",
                rounds=ROUNDS,
                events=accepted,
                losses=losses,
                duplicates=duplicates,
                most_duplicates_in_a_round=most,
                bound_per_kill=CONCURRENCY,
                other_repeats=other_repeats,
                publish_answered_503=unavailable,
            )
            assert losses == 0
        finally:
            stop_all(processes)  # before their database is dropped


def _wait_none_pending(api: str, webhook_id: str, headers: dict[str, str]) -> None:
    """Wait until no delivery is pending: the killed process's unrecorded attempts, sent
    again once their leases ran out, are recorded too."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pending = httpx.get(
            f"{api}/api/v1/webhooks/{webhook_id}/deliveries",
            params={"status": "pending", "limit": 1},
            headers=headers,
        )
        assert pending.status_code == 200, pending.text
        if not pending.json()["data"]:
            return
        time.sleep(0.2)
    raise AssertionError("deliveries still pending")


def _deliveries_by_event(api: str, webhook_id: str, headers: dict[str, str]) -> Counter[str]:
    """How many deliveries the webhook's history holds of each event."""
    made: Counter[str] = Counter()
    params: dict[str, str | int] = {"limit": 100}
    while True:
        page = httpx.get(
            f"{api}/api/v1/webhooks/{webhook_id}/deliveries", params=params, headers=headers
        )
        assert page.status_code == 200, page.text
        made.update(item["eventId"] for item in page.json()["data"])
        following = page.json()["links"].get("next")
        if not following:
            return made
        params = {"limit": 100, "next": httpx.URL(following["href"]).params["next"]}


def _repeated(
    receiver: Receiver, path: str, done: Round, restarted_at: float
) -> tuple[Counter[str], Counter[str]]:
    """The round's events that arrived more than once: those first sent before the killed
    process was replaced (it sent them; bounded by its concurrency), and those first sent
    later (a live process's attempt timed out, or its lease ran out before it was
    recorded, on an overloaded machine)."""
    first_at: dict[str, float] = {}
    for got in receiver.received(path):
        first_at.setdefault(_event_id(got.body), got.at)
    counts = delivered(receiver, path)
    repeated = {i: counts[i] - 1 for i in done.accepted if counts[i] > 1}
    killed = Counter({i: n for i, n in repeated.items() if first_at[i] < restarted_at})
    later = Counter({i: n for i, n in repeated.items() if first_at[i] >= restarted_at})
    return killed, later


def _event_id(body: bytes) -> str:
    return str(json.loads(body)["eventId"])
