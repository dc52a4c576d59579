"""Request body caps. Size is enforced while the body is read: a declared
``Content-Length`` over the cap is refused before reading; a body streamed past it stops
being read. Nesting is checked on the bytes before any JSON parser sees them: parsers,
and the code that walks what they return, recurse, so a body nested a thousand levels
deep would end in a RecursionError (a 500) rather than a 400."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from hookline.api.errors import Error, error_body
from hookline.api.middleware import HttpMiddleware
from hookline.errors import InvalidInput

DEFAULT_MAX_BODY = 1024 * 1024
# Publishing takes up to 1,000 events in one request.
MAX_BODY_BY_PATH = {"/api/v1/events": 8 * 1024 * 1024}
# Levels of arrays and objects. A webhook body needs 3 or 4; an event's data may nest
# events.MAX_JSON_DEPTH (100) levels, inside its event, inside a list.
DEFAULT_MAX_DEPTH = 64
MAX_DEPTH_BY_PATH = {"/api/v1/events": 128}

_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def max_body(path: str) -> int:
    return MAX_BODY_BY_PATH.get(path.rstrip("/"), DEFAULT_MAX_BODY)


def max_depth(path: str) -> int:
    return MAX_DEPTH_BY_PATH.get(path.rstrip("/"), DEFAULT_MAX_DEPTH)


def json_depth(body: bytes) -> int:
    """How many levels of arrays and objects the JSON text ``body`` nests; brackets inside
    strings do not count. Byte operations only: no recursion, and fast on 8 MiB."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    steps = array("b", outside_strings.translate(_STEPS, _NOT_BRACKETS))
    return max(itertools.accumulate(steps), default=0)


def check_depth(body: bytes, path: str) -> None:
    """Raise InvalidInput (a 400) when ``body`` nests deeper than ``path``'s cap."""
    limit = max_depth(path)
    if json_depth(body) > limit:
        raise InvalidInput.one(
            "/", f"the request body must not be nested more than {limit} levels deep"
        )


class DepthLimitedRoute(APIRoute):
    """A route whose JSON body FastAPI parses, checked with `check_depth` first. A route
    that reads its body itself calls `check_depth` (publishing does, once the caller is
    authenticated, so a stranger's 8 MiB are never scanned)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            check_depth(await request.body(), request.url.path)
            return await handler(request)

        return checked


class BodyLimit(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = max_body(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return
        await self.app(scope, _counting(receive, limit), send)


def _counting(receive: Receive, limit: int) -> Receive:
    read = 0

    async def counted() -> Message:
        nonlocal read
        message = await receive()
        read += len(message.get("body", b""))
        if read > limit:
            # An HTTPException, as FastAPI turns any other error while reading into a 400.
            raise HTTPException(413, _detail(limit))
        return message

    return counted


def _detail(limit: int) -> str:
    return f"the request body must be at most {limit} bytes"


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    request = Request(scope)
    entry = Error(code="payload-too-large", title="Payload too large", detail=_detail(limit))
    await JSONResponse(error_body(request, [entry]), status_code=413)(scope, _noop, send)


async def _noop() -> Message:
    return {"type": "http.disconnect"}
