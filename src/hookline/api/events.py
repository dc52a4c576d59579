"""``/api/v1/events``: publishing events (SPEC 4)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request

from hookline.api.deps import PublishingCaller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.limits import check_depth
from hookline.api.schemas import Published, PublishedEvent
from hookline.auth import Principal, Role
from hookline.errors import InvalidInput, NotAllowed, NotFound
from hookline.events import Event
from hookline.services import Services

PARSE_ON_LOOP_BYTES = 64 * 1024
router = APIRouter(prefix="/api/v1/events", tags=["events"])
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 structured JSON, the legacy envelope, or the short form "
    '{"type", "data", "id"?, "time"?, "source"?, "userId"?, "ownerId"?, "spaceId"?, '
    '"topLevelResourceId"?}.',
    "additionalProperties": True,
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _EVENT_SCHEMA,
                        {"type": "array", "items": _EVENT_SCHEMA, "minItems": 1, "maxItems": 1000},
                    ]
                },
                "example": {"type": "com.qlik.v1.app.created", "data": {"id": "app-1"}},
            }
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=Published,
    responses=error_responses(400, 403, 404, 413, 429, rate_limited=False),
    openapi_extra=_BODY,
)
async def publish_events(
    request: Request,
    services: ServicesDep,
    caller: PublishingCaller,
    tenant_id: Annotated[
        str | None, Query(alias="tenantId", description="The tenant, for operator keys only.")
    ] = None,
) -> Published:
    """Publish one event or a list of up to 1,000. Answers 202 once they are stored (their
    deliveries are made right after); an event id the tenant published before is accepted
    again but delivered only once. Over the tenant's publishing quota: 429."""
    tenant = await _tenant_of(services, caller, tenant_id)
    services.publisher.refuse_early(tenant)
    body = await request.body()  # at most limits.MAX_BODY_BY_PATH bytes
    if len(body) < PARSE_ON_LOOP_BYTES:
        batch = _parse(services, tenant, body, request.url.path)
    else:  # a big body is checked in a thread, so the event loop keeps serving others
        batch = await asyncio.to_thread(_parse, services, tenant, body, request.url.path)
    ids = await services.publisher.store_events(tenant, batch)
    return Published(data=[PublishedEvent(id=event_id) for event_id in ids])


async def _tenant_of(services: ServicesDep, caller: Principal, tenant_id: str | None) -> str:
    if caller.role is Role.OPERATOR:
        if tenant_id is None:
            raise InvalidInput.one("tenantId", "is required with an operator key")
        if await services.store.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        return tenant_id
    if caller.role not in (Role.PUBLISHER, Role.TENANT_ADMIN):
        raise NotAllowed(f"a {caller.role} key cannot publish events")
    assert caller.tenant_id is not None
    return caller.tenant_id


def _parse(services: Services, tenant: str, body: bytes, path: str) -> list[Event]:
    check_depth(body, path)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput.one("/", f"the request body is not valid JSON ({error})") from None
    return services.publisher.parse(tenant, payload)
