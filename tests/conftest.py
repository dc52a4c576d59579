from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.databases import BACKENDS, Templates, fresh_database
from tests.delivery.receivers import HOST, Receiver
from tests.processes import Process, stop_all
from tests.servers import RunningServer, Tenant, start_server


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"))
    yield made
    made.remove()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[str]:
    """A fresh, migrated database on each backend in turn (on PostgreSQL, maybe an
    earlier test's, emptied: this fixture's users close their connections by its end)."""
    with fresh_database(request.param, templates, tmp_path, reuse=True) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One API server per backend for the whole run; tests isolate themselves by tenant."""
    with fresh_database(request.param, templates, tmp_path_factory.mktemp("server")) as url:
        running = start_server(url)
        yield running
        running.stop()


@pytest.fixture
def tenant(server: RunningServer) -> Tenant:
    """A new tenant of the shared server, for one test."""
    return server.new_tenant()


@pytest.fixture
def make_server(templates: Templates, tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with settings of their own (on SQLite unless ``backend`` says
    "postgres"); each is stopped after the test, before its database is dropped."""
    with contextlib.ExitStack() as cleanup:

        def make(backend: str = "sqlite", **settings: Any) -> RunningServer:
            url = cleanup.enter_context(fresh_database(backend, templates, tmp_path))
            running = start_server(url, **settings)
            cleanup.callback(running.stop)
            return running

        yield make


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """``hookline`` processes a test starts; any still running are stopped afterwards."""
    started: list[Process] = []
    yield started
    stop_all(started)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HOOKLINE_* variable of the machine running the tests leaks into Settings."""
    for name in list(os.environ):
        if name.upper().startswith("HOOKLINE_"):
            monkeypatch.delenv(name)


# A CA the delivery tests trust, and a scriptable HTTPS receiver with a certificate for HOST.
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
