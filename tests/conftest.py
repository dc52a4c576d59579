from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import BACKENDS, Templates, fresh_database
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
    """A fresh, migrated database on each backend in turn."""
    with fresh_database(request.param, templates, tmp_path) as url:
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
def make_server(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with settings of their own (on SQLite unless ``backend`` says
    "postgres"); stopped after the test."""
    started: list[RunningServer] = []

    def make(backend: str = "sqlite", **settings: Any) -> RunningServer:
        database = fresh_database(backend, templates, tmp_path)
        url = database.__enter__()
        request.addfinalizer(lambda: database.__exit__(None, None, None))
        running = start_server(url, **settings)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()
