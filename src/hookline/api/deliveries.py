"""``/api/v1/webhooks/{id}/deliveries``: delivery history and resend, as Qlik Cloud's API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import WithJsonSchema

from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.pages import Limit, Next, Prev, cursor_of, links
from hookline.api.schemas import DeliveryList, DeliveryOut
from hookline.paging import parse_sort, sort_choices
from hookline.store.base import DEFAULT_DELIVERY_SORT, DELIVERY_SORT_KEYS, DeliveryQuery

router = APIRouter(prefix="/api/v1/webhooks/{id}/deliveries", tags=["deliveries"])
TIME_SORT_KEYS = ("triggeredAt",)


@router.get("", response_model=DeliveryList, responses=error_responses(400, 403, 404))
async def list_deliveries(
    id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    event_type: Annotated[str | None, Query(alias="eventType")] = None,
    status: Literal["success", "fail", "pending"] | None = None,
    sort: Annotated[
        str | None,
        # Published as an enum for generated clients; parse_sort still reads the value (a
        # "+" sent unencoded arrives as a space), so exactly the same values are accepted.
        WithJsonSchema({"type": "string", "enum": sort_choices(DELIVERY_SORT_KEYS)}),
        Query(
            description="status or triggeredAt, prefixed by + or - (default -triggeredAt).",
        ),
    ] = None,
    limit: Limit = 20,
    next: Next = None,
    prev: Prev = None,
) -> DeliveryList:
    order = parse_sort(sort, DELIVERY_SORT_KEYS, DEFAULT_DELIVERY_SORT)
    query = DeliveryQuery(
        tenant_id="",
        webhook_id=id,
        event_type=event_type,
        status=status,
        sort=order,
        limit=limit,
        cursor=cursor_of(next, prev, order, TIME_SORT_KEYS),
    )
    page = await services.history.list_deliveries(caller, id, query)
    return DeliveryList(data=[DeliveryOut.of(d) for d in page.items], links=links(request, page))


@router.get("/{deliveryId}", response_model=DeliveryOut, responses=error_responses(403, 404))
async def get_delivery(
    id: str,
    deliveryId: str,
    services: ServicesDep,
    caller: Caller,
) -> DeliveryOut:
    return DeliveryOut.of(await services.history.get(caller, id, deliveryId))


@router.post(
    "/{deliveryId}/actions/resend",
    status_code=201,
    response_model=DeliveryOut,
    responses=error_responses(403, 404),
)
async def resend_delivery(
    id: str,
    deliveryId: str,
    services: ServicesDep,
    caller: Caller,
) -> DeliveryOut:
    """Send the delivery's body (same event id) again, now, with the webhook's current URL,
    headers and secret; answers with the new delivery and its outcome."""
    return DeliveryOut.of(await services.history.resend(caller, id, deliveryId))
