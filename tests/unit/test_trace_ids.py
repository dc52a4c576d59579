"""Every answer carries a trace id and the security headers; an error nobody handled is a
500 in the API's error format that names the trace id, never the error's own text."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router

from hookline.api import console
from hookline.api.app import SECURITY_HEADERS, TraceIds


async def _fine(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.state.trace_id)


async def _broken(_request: Request) -> PlainTextResponse:
    raise RuntimeError("the secret is hunter2")


async def _get(path: str) -> httpx.Response:
    routes = [Route("/fine", _fine), Route("/console/fine", _fine), Route("/broken", _broken)]
    transport = httpx.ASGITransport(TraceIds(Router(routes=routes)))
    async with httpx.AsyncClient(transport=transport, base_url="http://hookline.test") as client:
        return await client.get(path)


def _security_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in SECURITY_HEADERS}


async def test_an_answer_carries_its_trace_id_and_the_security_headers() -> None:
    response = await _get("/fine")

    assert response.status_code == 200
    assert response.headers["X-Trace-Id"] == response.text
    assert len(response.text) == 32
    assert _security_headers(response) == SECURITY_HEADERS
    assert "Content-Security-Policy" not in response.headers


async def test_each_request_gets_a_trace_id_of_its_own() -> None:
    assert (await _get("/fine")).text != (await _get("/fine")).text


async def test_console_pages_get_the_content_security_policy() -> None:
    response = await _get("/console/fine")

    assert response.headers["Content-Security-Policy"] == console.CONTENT_SECURITY_POLICY


async def test_an_unhandled_error_is_a_500_naming_the_trace_id_and_not_the_error() -> None:
    response = await _get("/broken")

    assert response.status_code == 500
    body = response.json()
    trace_id = response.headers["X-Trace-Id"]
    assert body["traceId"] == trace_id
    assert body["errors"][0]["code"] == "internal-error"
    assert trace_id in body["errors"][0]["detail"]
    assert "hunter2" not in response.text
    assert _security_headers(response) == SECURITY_HEADERS
