"""Typed dependencies of the routes: the process's services and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hookline import accounts
from hookline.auth import Principal
from hookline.errors import RateLimited
from hookline.ratelimit import retry_after_seconds
from hookline.services import Services

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


async def _services(request: Request) -> Services:  # async: FastAPI runs a plain def in a thread
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


async def _publisher(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AsyncIterator[Principal]:
    """The authenticated caller, within its key's turn (`shares.Gate`): a storm of requests
    with one key waits for its own turn before it even reads the database."""
    key = credentials.credentials if credentials else None
    async with services.gate.turn(str(hash(key))):
        yield await accounts.authenticate(services.store, key)


async def _caller(
    services: ServicesDep, principal: Annotated[Principal, Depends(_publisher)]
) -> Principal:
    wait = services.rate_limiter.acquire(principal.key_id)
    if wait:
        raise RateLimited(retry_after_seconds(wait))
    return principal


# The management API's caller: authenticated, and within its key's rate limit.
Caller = Annotated[Principal, Depends(_caller)]
# Publishing's caller: authenticated only. Publishing is the data plane; its volume is
# bounded by the tenant's quota (429), not by the key's rate limit.
PublishingCaller = Annotated[Principal, Depends(_publisher)]
