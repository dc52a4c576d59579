"""Bounds on the database work of one API request: each statement it runs may take at most
``HOOKLINE_STATEMENT_TIMEOUT`` (see store.bounds), and a request whose client goes away
before the answer is sent is cancelled. A cancelled PostgreSQL query's connection is
closed, and PostgreSQL ends the statement within a second (the store's
``client_connection_check_interval``); on SQLite the read runs out its bound."""

from __future__ import annotations

import asyncio

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookline.api.middleware import HttpMiddleware
from hookline.store.bounds import bounded

log = structlog.get_logger()


class RequestBounds(HttpMiddleware):
    def __init__(self, app: ASGIApp, statement_timeout: float) -> None:
        super().__init__(app)
        self.statement_timeout = statement_timeout

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        with bounded(self.statement_timeout):
            await _cancelled_when_the_client_leaves(self.app, scope, receive, send)


async def _cancelled_when_the_client_leaves(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run the request in a task of its own while this one reads the client's messages
    (the body, then the server's word that the client left) and hands them on."""
    inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)  # reads no faster than the app
    answered = False

    async def relay_send(message: Message) -> None:
        nonlocal answered
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered = True
        await send(message)

    async def relay_receive() -> Message:
        if reader.done() and inbox.empty():
            return {"type": "http.disconnect"}
        return await inbox.get()

    async def read() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not answered:
                    handler.cancel()
                await inbox.put(message)
                return
            await inbox.put(message)

    async def handle() -> None:
        await app(scope, relay_receive, relay_send)

    handler = asyncio.create_task(handle())
    reader = asyncio.create_task(read())
    try:
        await handler
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this task itself is cancelled (the server stops): not ours to swallow
        log.info(
            "request cancelled: the client went away", method=scope["method"], path=scope["path"]
        )
    finally:
        reader.cancel()
