"""Every error the API answers, in Qlik's shape: ``{"errors": [...], "traceId": "..."}``."""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from hookline import errors
from hookline.errors import HooklineError, InvalidInput, Problem, describe, plain_message, pointer

log = structlog.get_logger()


class ErrorSource(BaseModel):
    pointer: str | None = Field(default=None, description="JSON pointer into the request body.")
    parameter: str | None = Field(default=None, description="The query parameter at fault.")


class Error(BaseModel):
    code: str
    title: str
    detail: str
    source: ErrorSource | None = None


class ErrorResponse(BaseModel):
    errors: list[Error]
    traceId: str


# status, code, title for each kind of domain error (most specific first)
_KINDS: list[tuple[type[HooklineError], int, str, str]] = [
    (errors.InvalidInput, 400, "invalid-input", "Invalid input"),
    (errors.Unauthenticated, 401, "unauthorized", "Not authenticated"),
    (errors.LimitReached, 403, "limit-reached", "Limit reached"),
    (errors.NotAllowed, 403, "forbidden", "Not allowed"),
    (errors.NotFound, 404, "not-found", "Not found"),
    (errors.ReadOnlyField, 409, "read-only", "Read-only field"),
    (errors.RateLimited, 429, "too-many-requests", "Too many requests"),
]
# status, code, title, and the fixed sentence answered, for errors whose own text is for
# the operator's eyes only (a driver's message, a SQL statement, a setting): it is logged
# with the request's trace id, which the answer carries.
_FAULTS: list[tuple[type[HooklineError], int, str, str, str]] = [
    (
        errors.StorageUnavailable,
        503,
        "unavailable",
        "Service unavailable",
        "the database is unavailable; try again shortly",
    ),
    # e.g. HOOKLINE_SECRET_KEY no longer opens what was sealed: the operator must act
    (
        errors.ConfigError,
        500,
        "misconfigured",
        "Server misconfigured",
        "the server is misconfigured; its operator must act",
    ),
]
_HTTP_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Not authenticated"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
}
DESCRIPTIONS = {
    400: "The request breaks a rule; each error names the field or parameter.",
    401: "No API key, or an unknown or revoked one.",
    403: "The key's role may not do this, or a limit is reached.",
    404: "No such object visible to the caller.",
    409: "The request tries to change a read-only field.",
    413: "The request body is over its size limit.",
    429: "Too many requests with this API key, or (publishing) the tenant's quota is used "
    "up; retry after `Retry-After` seconds.",
    503: "The database is unavailable; retry later.",
}


def error_responses(
    *statuses: int, public: bool = False, rate_limited: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, plus 503 and, unless the route is
    ``public``, 401 and (if ``rate_limited``) 429."""
    always = {503}
    if not public:
        always |= {401, 429} if rate_limited else {401}
    return {
        status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]}
        for status in sorted({*statuses, *always})
    }


def error_body(request: Request, entries: list[Error]) -> dict[str, Any]:
    trace_id = getattr(request.state, "trace_id", "")
    return ErrorResponse(errors=entries, traceId=trace_id).model_dump(exclude_none=True)


def respond(request: Request, status: int, entries: list[Error]) -> JSONResponse:
    return JSONResponse(error_body(request, entries), status_code=status)


def respond_invalid(request: Request, problems: list[Problem]) -> JSONResponse:
    """A 400 naming, for each problem, its body field (a JSON pointer) or query parameter."""
    return respond(request, 400, [_problem_entry(p) for p in problems])


def _problem_entry(problem: Problem) -> Error:
    source = (
        ErrorSource(pointer=problem.field)
        if problem.field.startswith("/")
        else ErrorSource(parameter=problem.field)
    )
    return Error(
        code="invalid-input",
        title="Invalid input",
        detail=describe(problem),
        source=source,
    )


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HooklineError)
    if isinstance(error, InvalidInput):
        return respond_invalid(request, error.problems)
    for kind, status, code, title in _KINDS:
        if isinstance(error, kind):
            response = respond(request, status, [Error(code=code, title=title, detail=str(error))])
            if isinstance(error, errors.RateLimited):
                response.headers["Retry-After"] = str(error.retry_after)
            return response
    for kind, status, code, title, sentence in _FAULTS:
        if isinstance(error, kind):
            log.warning("request failed", status=status, **_context(request), error=str(error))
            return _fault(request, status, code, title, sentence)
    return respond_unexpected(request, error)


async def _request_invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return respond_invalid(request, request_problems(error))


def request_problems(error: RequestValidationError) -> list[Problem]:
    """What FastAPI found wrong with a request (its body, parameters), as problems."""
    problems = []
    for item in error.errors():
        where, *rest = item["loc"] or ("body",)
        if item["type"] == "json_invalid":
            # its location is the character offset of the syntax error, not a field
            at = f" at character {rest[0]}" if rest else ""
            problems.append(Problem("/", f"the request body is not valid JSON{at}"))
        elif where == "body" and not rest and item["type"] == "missing":
            problems.append(Problem("/", "a JSON request body is required"))
        elif where == "body":
            problems.append(Problem(pointer(tuple(rest)) or "/", plain_message(item)))
        else:
            problems.append(Problem(str(rest[0]) if rest else str(where), plain_message(item)))
    return problems


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code, title = _HTTP_CODES.get(error.status_code, ("error", "Error"))
    detail = str(error.detail)
    headers = dict(error.headers or {})
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    elif error.status_code == 405:
        allowed = ", ".join(_allowed_methods(request))
        headers["Allow"] = allowed
        detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    response = respond(request, error.status_code, [Error(code=code, title=title, detail=detail)])
    response.headers.update(headers)
    return response


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """The methods the API documents for the request's path, else those some route takes.

    A concrete path is matched before a templated one (as OpenAPI says), so
    ``/webhooks/event-types`` allows GET only, although ``/webhooks/{id}`` would match it.
    """
    paths: dict[str, dict[str, Any]] = request.app.openapi()["paths"]
    path = request.url.path
    template = path if path in paths else next((t for t in paths if _fills(t, path)), None)
    if template is not None:
        return [method for method in _METHODS if method.lower() in paths[template]]
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def _fills(template: str, path: str) -> bool:
    """Whether ``path`` is ``template`` with each ``{parameter}`` filled by one segment."""
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def respond_unexpected(request: Request, error: Exception) -> JSONResponse:
    """A 500 for an error nobody expected, logged with its trace id and traceback."""
    log.error("unexpected error", **_context(request), exc_info=error)
    sentence = "an unexpected error occurred"
    return _fault(request, 500, "internal-error", "Internal error", sentence)


def _fault(request: Request, status: int, code: str, title: str, sentence: str) -> JSONResponse:
    """An answer whose detail is ``sentence`` and the trace id, never the error's own text."""
    trace_id = getattr(request.state, "trace_id", "")
    detail = f"{sentence} (trace id {trace_id})" if trace_id else sentence
    return respond(request, status, [Error(code=code, title=title, detail=detail)])


def _context(request: Request) -> dict[str, str]:
    return {
        "trace_id": getattr(request.state, "trace_id", ""),
        "method": request.method,
        "path": request.url.path,
    }


def install(app: FastAPI) -> None:
    app.add_exception_handler(HooklineError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http_error)
