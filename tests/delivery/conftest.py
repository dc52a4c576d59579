from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import BACKENDS, Templates, fresh_database
from tests.servers import RunningServer, start_server

HOST = "hooks.example.test"


FAST = {
    # private.example.test resolves to a loopback address the guard must refuse
    "resolve": f"{HOST}:127.0.0.1,wrong.example.test:127.0.0.1,private.example.test:127.0.0.2",
    "allow_networks": "127.0.0.1/32",
    "retry_schedule": "0,0.3,0.3",
    "poll_interval": 0.05,
    "connect_timeout": 2,
    "request_timeout": 2,
    "lease_seconds": 10,
    "disable_after_failures": 3,
    "retry_after_cap": 1,
}


@pytest.fixture(scope="session", params=BACKENDS)
def hookline(
    request: pytest.FixtureRequest,
    templates: Templates,
    tmp_path_factory: pytest.TempPathFactory,
    ca_file: Path,
) -> Iterator[RunningServer]:
    """hookline delivering to the receiver: hooks.example.test resolves to 127.0.0.1, the
    test CA is trusted, retries come fast."""
    with fresh_database(request.param, templates, tmp_path_factory.mktemp("hookline")) as url:
        running = start_server(url, ca_bundle=str(ca_file), **FAST)
        yield running
        running.stop()
