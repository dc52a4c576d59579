from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import BACKENDS, Templates, fresh_database
from tests.delivery.receivers import FAST
from tests.servers import RunningServer, start_server


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
