"""The database goes away or locks up while hookline publishes and delivers: the API answers
503 ``unavailable`` in the error format (never 500, never a hang), workers reconnect and
carry on, and every accepted event is delivered."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from tests.api.helpers import UNAVAILABLE, assert_no_sql
from tests.databases import POSTGRES_ADMIN_URL
from tests.delivery.receivers import FAST, HOST, Receiver
from tests.processes import APP_CREATED, wait_all
from tests.reliability.figures import report
from tests.servers import Client, RunningServer

BOUND = 60  # seconds: "did not hang", never a performance claim
SQLITE_BUSY_SECONDS = 5  # hookline.store.sqlite.BUSY_TIMEOUT_MS


class Publisher:
    """Publishes batches of events with ids of its own from a thread until stopped; a batch
    answered 503 is posted again. Counts every status and keeps every non-202 body."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.accepted: set[str] = set()
        self.statuses: Counter[int] = Counter()
        self.refusals: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run_reporting)
        self._died: BaseException | None = None

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(BOUND * 3)
        assert not self._thread.is_alive(), "publishing hung"
        if self._died is not None:  # a dying thread fails the test, not a warning
            raise AssertionError("the publishing thread died") from self._died

    def _run_reporting(self) -> None:
        try:
            self._run()
        except BaseException as error:  # kept for __exit__, which fails the test with it
            self._died = error

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch: list[dict[str, str | dict[str, str]]] = [
                {"type": APP_CREATED, "id": uuid.uuid4().hex, "data": {}} for _ in range(20)
            ]
            while not self.post(batch) and not self._stopping.is_set():
                time.sleep(0.05)

    def post(self, batch: list[dict[str, str | dict[str, str]]]) -> bool:
        response = self._client.post("/api/v1/events", json=batch, timeout=BOUND)
        self.statuses[response.status_code] += 1
        if response.status_code == 202:
            self.accepted |= {item["id"] for item in response.json()["data"]}
            return True
        self.refusals.append(response.json())
        return False

    def assert_only_unavailable(self) -> None:
        assert set(self.statuses) <= {202, 503}, self.statuses
        for body in self.refusals:
            [error] = body["errors"]
            assert error["code"] == "unavailable", body
            assert body["traceId"], body
            # a fixed sentence: the driver's text and the statement go to the log only
            assert error["detail"] == f"{UNAVAILABLE} (trace id {body['traceId']})", body


def _webhook(client: Client, receiver: Receiver, path: str) -> None:
    url = f"https://{HOST}:{receiver.port}{path}"
    body = {"name": "db", "url": url, "eventTypes": [APP_CREATED]}
    assert client.post("/api/v1/webhooks", json=body).status_code == 201


async def _terminate_backends(database: str) -> int:
    """End every connection to ``database`` (only the test's own)."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return len(rows)
    finally:
        await admin.close()


def test_postgres_connections_killed_while_delivering_lose_nothing(
    make_server: Callable[..., RunningServer], receiver: Receiver, ca_file: Path
) -> None:
    server = make_server("postgres", ca_bundle=str(ca_file), **FAST)
    database = urlsplit(server.services.settings.database_url).path.lstrip("/")
    admin = server.new_tenant().client()
    path = f"/db-{uuid.uuid4().hex[:8]}"
    receiver.script(path)
    _webhook(admin, receiver, path)

    killed = 0
    with Publisher(admin) as publisher:
        for _ in range(6):
            time.sleep(0.5)
            killed += asyncio.run(_terminate_backends(database))
            listed = admin.get("/api/v1/webhooks")
            assert listed.status_code in (200, 503), listed.text
    publisher.assert_only_unavailable()
    assert killed > 0
    got = wait_all(receiver, path, publisher.accepted, timeout=BOUND)
    assert admin.get("/readyz").status_code == 200
    report(
        "database postgres connections terminated",
        connections_terminated=killed,
        accepted=len(publisher.accepted),
        answered_503=publisher.statuses[503],
        losses=len(publisher.accepted - got.keys()),
    )


@contextmanager
def _exclusive_lock(database: Path) -> Iterator[None]:
    """Hold SQLite's exclusive lock on ``database`` from a connection of our own."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def test_a_locked_sqlite_database_is_a_503_and_then_everything_carries_on(
    make_server: Callable[..., RunningServer], receiver: Receiver, ca_file: Path
) -> None:
    server = make_server("sqlite", ca_bundle=str(ca_file), **FAST)
    admin = server.new_tenant().client()
    path = f"/db-{uuid.uuid4().hex[:8]}"
    receiver.script(path)
    _webhook(admin, receiver, path)

    with Publisher(admin) as publisher:
        time.sleep(0.5)
        with _exclusive_lock(server.services.settings.sqlite_path):
            # Held until the request below has waited out the busy timeout, and longer.
            started = time.monotonic()
            refused = admin.post("/api/v1/events", json={"type": APP_CREATED}, timeout=BOUND)
            refused_after = time.monotonic() - started
            assert SQLITE_BUSY_SECONDS <= refused_after < BOUND
            assert refused.status_code == 503, refused.text
            assert refused.json()["errors"][0]["code"] == "unavailable"
            assert_no_sql(refused.text)
            assert admin.get("/readyz").status_code in (200, 503)
        time.sleep(1)
    publisher.assert_only_unavailable()
    got = wait_all(receiver, path, publisher.accepted, timeout=BOUND)
    report(
        "database sqlite locked",
        accepted=len(publisher.accepted),
        answered_503=publisher.statuses[503],
        losses=len(publisher.accepted - got.keys()),
        a_503_after_seconds=round(refused_after, 1),
    )
