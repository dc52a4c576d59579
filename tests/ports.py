"""Ports for tests that need nothing to listen at an address."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port of ``host`` that refuses connections for as long as the block lasts: bound by
    a socket that never listens. A port found free and let go could be taken meanwhile by
    another test (with pytest-xdist, in another process) and answer."""
    with socket.socket() as bound:
        bound.bind((host, 0))
        yield int(bound.getsockname()[1])
