"""Several ``hookline worker`` processes on one PostgreSQL never send an attempt twice.
(Processes killed or stopped while delivering: tests/reliability.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from tests.databases import Templates, fresh_database
from tests.delivery.receivers import HOST, Receiver, Reply, most_within_a_second
from tests.processes import (
    Process,
    admin_key,
    create_webhook,
    delivered,
    environment,
    publish,
    wait_all,
    wait_all_ended,
)


@contextlib.contextmanager
def workers_on_postgres(
    templates: Templates,
    tmp_path: Path,
    ca_file: Path,
    processes: list[Process],
    count: int = 2,
    **settings: str,
) -> Iterator[str]:
    """A fresh PostgreSQL database with ``count`` ``hookline worker`` processes on it (with
    ``settings``); its URL."""
    with fresh_database("postgres", templates, tmp_path) as database_url:
        environ = environment(database_url, ca_file, **settings)
        processes += [Process(environ, "worker") for _ in range(count)]
        yield database_url


def webhook_to(database_url: str, key: str, receiver: Receiver, path: str, **fields: Any) -> None:
    """A webhook of ``key``'s tenant to ``path`` on ``receiver``."""
    create_webhook(database_url, key, f"https://{HOST}:{receiver.port}{path}", **fields)


def _attempt_starts(database_url: str) -> list[float]:
    """When hookline started each attempt in the database, as its history records them
    (seconds since the epoch)."""

    async def read() -> list[float]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT started_at FROM delivery_attempts")
            return [row["started_at"].timestamp() for row in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def test_workers_sharing_postgres_never_send_an_attempt_twice(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/workers-{time.monotonic_ns()}"
    receiver.script(path)
    with workers_on_postgres(templates, tmp_path, ca_file, processes, 3) as database_url:
        webhook_to(database_url, admin_key(database_url), receiver, path)
        ids = publish(database_url, 500)
        got = wait_all(receiver, path, set(ids))
        wait_all_ended(database_url)  # what the receiver got by then is all it gets
        assert delivered(receiver, path) == Counter(dict.fromkeys(ids, 1))
        assert got.keys() == set(ids)


def test_workers_sharing_postgres_keep_the_endpoint_bound_together(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    """HOOKLINE_ENDPOINT_CONCURRENCY bounds a webhook's attempts across every process on
    the database, as a slow receiver counts them, not per process (two would send 6)."""
    path = f"/bound-{time.monotonic_ns()}"
    receiver.script(path, Reply(delay=0.3))
    with workers_on_postgres(
        templates, tmp_path, ca_file, processes, endpoint_concurrency="3"
    ) as database_url:
        webhook_to(database_url, admin_key(database_url), receiver, path)
        ids = publish(database_url, 30)
        wait_all(receiver, path, set(ids))
        assert delivered(receiver, path) == Counter(dict.fromkeys(ids, 1))
        assert receiver.most_in_flight(path) <= 3


def test_workers_sharing_postgres_keep_the_tenant_bound_together(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    """HOOKLINE_TENANT_CONCURRENCY bounds a tenant's attempts, on all its webhooks
    together, across every process on the database, as a slow receiver counts them, not
    per process (two would send 6)."""
    folder = f"/tenant-{time.monotonic_ns()}/"
    paths = [f"{folder}{number}" for number in range(4)]
    for path in paths:
        receiver.script(path, Reply(delay=0.3))
    with workers_on_postgres(
        templates, tmp_path, ca_file, processes, tenant_concurrency="3", endpoint_concurrency="16"
    ) as database_url:
        key = admin_key(database_url)
        for path in paths:
            webhook_to(database_url, key, receiver, path)
        ids = publish(database_url, 12)
        for path in paths:
            wait_all(receiver, path, set(ids))
        wait_all_ended(database_url)  # what the receiver got by then is all it gets
        for path in paths:
            assert delivered(receiver, path) == Counter(dict.fromkeys(ids, 1))
        assert receiver.most_in_flight(folder) <= 3


def test_workers_sharing_postgres_send_a_fifo_webhook_one_at_a_time_in_order(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/fifo-{time.monotonic_ns()}"
    receiver.script(path, Reply(delay=0.02))
    with workers_on_postgres(templates, tmp_path, ca_file, processes) as database_url:
        webhook_to(database_url, admin_key(database_url), receiver, path, ordering="fifo")
        ids = publish(database_url, 40)
        wait_all(receiver, path, set(ids))
        assert [json.loads(got.body)["eventId"] for got in receiver.received(path)] == ids
        assert receiver.most_in_flight(path) == 1


def test_workers_sharing_postgres_keep_a_webhooks_rate_limit_together(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/limited-{time.monotonic_ns()}"
    receiver.script(path)
    with workers_on_postgres(templates, tmp_path, ca_file, processes) as database_url:
        webhook_to(database_url, admin_key(database_url), receiver, path, rate_limit=5)
        ids = publish(database_url, 20)
        wait_all(receiver, path, set(ids))
        wait_all_ended(database_url)
        # hookline's own record of when it started each attempt: the receiver's clock
        # would add how late this machine, busy with the rest of the suite, lets it read
        # them (tests/delivery/test_pacing.py measures at a receiver).
        assert most_within_a_second(_attempt_starts(database_url)) <= 5
        assert delivered(receiver, path) == Counter(dict.fromkeys(ids, 1))
