"""The Celery baseline: what a Python team writes without hookline. A task signs the body
(HMAC-SHA256, the same two signatures hookline sends) and POSTs it with ``requests``; the
worker is Celery's prefork pool on a Redis broker.

Each worker process keeps one ``requests.Session`` (keep-alive), the generous way to
write it. ``hooks.example.test`` resolves to 127.0.0.1 here as in the other senders.

    celery -A bench.celery_app worker --pool prefork --concurrency 4   # the worker
    python -m bench.celery_app produce 10000 URL                       # enqueue, print JSON
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

from celery import Celery

BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/13")
QUEUE = os.environ.get("BENCH_QUEUE", "hookline-bench")
CA = os.environ.get("BENCH_CA", "")

app = Celery("hookline_bench", broker=BROKER)
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_session: Any = None


def _loopback_dns() -> None:
    """Make urllib3 connect to 127.0.0.1 for hooks.example.test (TLS still checks the name)."""
    from urllib3.util import connection

    original = connection.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        host, port = address
        if host == "hooks.example.test":
            host = "127.0.0.1"
        return original((host, port), *args, **kwargs)

    connection.create_connection = create_connection


@app.task(name="bench.deliver", ignore_result=True)
def deliver(url: str, body: str, event_id: str) -> int:
    global _session
    if _session is None:
        import requests

        _loopback_dns()
        _session = requests.Session()
        _session.verify = CA or True
        _session.trust_env = False
    from bench.common import SECRET, sign

    raw = body.encode()
    response = _session.post(url, data=raw, headers=sign(SECRET, event_id, raw), timeout=10)
    return int(response.status_code)


def produce(count: int, url: str) -> dict[str, Any]:
    from bench.common import envelope

    first = time.time()
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            event_id = str(uuid.uuid4())
            body = envelope(time.time(), event_id).decode()
            deliver.apply_async(args=(url, body, event_id), producer=producer)
    return {"count": count, "first": first, "last": time.time(), "cpu_seconds": time.process_time()}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "produce":
        json.dump(produce(int(sys.argv[2]), sys.argv[3]), sys.stdout)
        print()
    else:
        sys.exit("usage: python -m bench.celery_app produce COUNT URL")
