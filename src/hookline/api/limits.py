"""Request body caps, enforced while the body is read: a declared ``Content-Length`` over
the cap is refused before reading; a body streamed past it stops being read."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookline.api.errors import Error, error_body

DEFAULT_MAX_BODY = 1024 * 1024
# Publishing takes up to 1,000 events in one request.
MAX_BODY_BY_PATH = {"/api/v1/events": 8 * 1024 * 1024}


def max_body(path: str) -> int:
    return MAX_BODY_BY_PATH.get(path.rstrip("/"), DEFAULT_MAX_BODY)


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
