"""Log capture for tests that share their process with the session's running servers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import structlog
from structlog.testing import capture_logs
from structlog.typing import EventDict


@contextlib.contextmanager
def capture_own_logs() -> Iterator[list[EventDict]]:
    """structlog's ``capture_logs``, less what other threads log meanwhile: the session's
    servers run in threads of this process and go on delivering (and logging) their
    webhooks' retries whatever test runs."""
    thread = threading.get_ident()

    def this_thread_only(_logger: Any, _name: str, event: EventDict) -> EventDict:
        if threading.get_ident() != thread:
            raise structlog.DropEvent
        return event

    with capture_logs(processors=[this_thread_only]) as logs:
        yield logs
