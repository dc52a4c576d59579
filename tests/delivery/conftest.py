from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.databases import BACKENDS, Templates, fresh_database
from tests.delivery.processes import Process
from tests.delivery.receivers import FAST, HOST, Receiver
from tests.servers import RunningServer, start_server


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


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """`hookline` processes a test starts; stopped (SIGTERM) after it."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()
