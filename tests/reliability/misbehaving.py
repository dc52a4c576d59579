"""Receivers that misbehave below HTTP: raw asyncio servers on 127.0.0.1, in a thread of
their own, each answering every request in one bad way."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HUGE_BYTES = 100 * 1024 * 1024
_CHUNK = b"x" * 65536


async def read_request(reader: asyncio.StreamReader) -> None:
    """Read one request: its head and a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)


async def reset_mid_response(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half a response head, then a TCP reset."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def slow_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Slowloris: a status line, then a header line now and then, never the end of them."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\n")
    for n in range(10_000):
        writer.write(f"X-Slow-{n}: 1\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.2)


async def dribbled_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A body that never ends: a byte now and then, forever."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"1\r\nx\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)


async def huge_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 100 MB response, sent as fast as the client takes it."""
    await read_request(reader)
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE_BYTES}\r\n\r\n".encode())
    for _ in range(HUGE_BYTES // len(_CHUNK)):
        writer.write(_CHUNK)
        await writer.drain()


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()


async def not_tls(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Plain HTTP bytes where a TLS handshake is expected."""
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


class Misbehaving:
    """Servers started with ``serve``; ``connections`` counts the clients each one got."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self.connections: Counter[int] = Counter()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def serve(self, behaviour: Behaviour, tls: ssl.SSLContext | None) -> int:
        """Listen on a free port of 127.0.0.1, answering every connection with
        ``behaviour``; return the port."""
        return asyncio.run_coroutine_threadsafe(self._serve(behaviour, tls), self._loop).result(10)

    async def _serve(self, behaviour: Behaviour, tls: ssl.SSLContext | None) -> int:
        port = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections[port] += 1
            try:
                await behaviour(reader, writer)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
                pass  # the client gave up, as it should
            finally:
                writer.transport.abort()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return int(port)
