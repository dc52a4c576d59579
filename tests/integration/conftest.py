from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

LOCAL = "127.0.0.1"


@pytest.fixture
async def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every address the sender connects to; any but 127.0.0.1 is refused outright."""
    loop = asyncio.get_running_loop()
    real_connect = loop.sock_connect
    seen: list[tuple[str, int]] = []

    async def guarded(sock: socket.socket, address: Any) -> None:
        seen.append((address[0], address[1]))
        if address[0] != LOCAL:
            raise ConnectionRefusedError(f"the tests never connect to {address[0]}")
        await real_connect(sock, address)

    monkeypatch.setattr(loop, "sock_connect", guarded)
    return seen
