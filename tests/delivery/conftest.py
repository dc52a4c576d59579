from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.databases import BACKENDS, Templates, fresh_database
from tests.delivery.receivers import Receiver
from tests.servers import RunningServer, start_server

HOST = "hooks.example.test"


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def receiver(ca: trustme.CA) -> Iterator[Receiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "other.example.test").configure_cert(context)
    running = Receiver(context)
    running.start()
    yield running
    running.stop()


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
