"""``POST /api/v1/webhooks/{id}/actions/rotate-secret``: hookline's own secret rotation with
a grace period (``hookline.rotation``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.limits import DepthLimitedRoute
from hookline.api.schemas import RotatedOut
from hookline.rotation import Rotation

router = APIRouter(
    prefix="/api/v1/webhooks/{id}/actions", tags=["webhooks"], route_class=DepthLimitedRoute
)


@router.post(
    "/rotate-secret",
    response_model=RotatedOut,
    responses=error_responses(400, 403, 404),
    description="Give the webhook a new secret (the one given, else a generated one, "
    "returned once in this answer). For `graceSeconds` (default 86400) deliveries are "
    "signed with the new and the previous secret: `webhook-signature` lists both, "
    "`Qlik-Signature` holds the new one's. Rotating again during the grace period drops "
    "the oldest secret; rotating to the secret in force changes nothing.",
)
async def rotate_webhook_secret(
    id: str,
    services: ServicesDep,
    caller: Caller,
    rotation: Annotated[Rotation | None, Body()] = None,
) -> RotatedOut:
    webhook, generated = await services.registry.rotate_secret(caller, id, rotation or Rotation())
    return RotatedOut.rotated(webhook, generated)
