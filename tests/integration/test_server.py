"""The API's listening socket (hookline.server)."""

from __future__ import annotations

import contextlib
import socket

from hookline.server import bind


def test_accepted_connections_send_without_waiting_for_acks() -> None:
    """TCP_NODELAY on every accepted connection, whatever the event loop: without it a
    response written in two parts waited for the client's delayed ACK on a kept-alive
    connection (40 ms a request)."""
    with (
        contextlib.closing(bind("127.0.0.1", 0)) as listening,
        socket.create_connection(listening.getsockname()[:2]),
    ):
        accepted, _ = listening.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
