"""``POST /api/v1/webhooks/{id}/actions/test``: hookline's own test send of an example event
(``hookline.examples``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.limits import DepthLimitedRoute
from hookline.api.schemas import DeliveryOut, SendTestIn

router = APIRouter(
    prefix="/api/v1/webhooks/{id}/actions", tags=["webhooks"], route_class=DepthLimitedRoute
)


@router.post(
    "/test",
    status_code=201,
    response_model=DeliveryOut,
    responses=error_responses(400, 403, 404),
    description="Send the webhook an example event of one of its event types (`eventType`, "
    "default the first), now, signed with its current secret, whatever its filter and even "
    "while it is disabled; answers with the new delivery (`trigger` test) and its outcome. "
    "It is attempted once, never retried, and never disables the webhook nor counts toward "
    "disabling it. When the webhook's concurrency is used up it is queued and answered "
    "pending, as a resend is.",
)
async def send_test_event(
    id: str,
    services: ServicesDep,
    caller: Caller,
    request: Annotated[SendTestIn | None, Body()] = None,
) -> DeliveryOut:
    event_type = request.event_type if request else None
    return DeliveryOut.of(await services.history.send_test(caller, id, event_type))
