"""``/api/v1/webhooks``: Qlik Cloud's Webhooks API."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import WithJsonSchema

from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses, request_problems
from hookline.api.limits import DepthLimitedRoute
from hookline.api.pages import Limit, Next, Prev, cursor_of, links
from hookline.api.schemas import (
    EventTypeList,
    EventTypeOut,
    WebhookList,
    WebhookOut,
    WebhookReplace,
)
from hookline.catalog import LEVELS, Level
from hookline.errors import InvalidInput
from hookline.paging import parse_sort, sort_choices
from hookline.patch import Operation
from hookline.services import Services
from hookline.store import WebhookQuery
from hookline.store.base import DEFAULT_WEBHOOK_SORT, WEBHOOK_SORT_KEYS, WEBHOOK_TIME_SORT_KEYS
from hookline.webhooks import NewWebhook, Origin, problems_beside

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class _EveryProblemAtOnce(DepthLimitedRoute):
    """A webhook body (create, replace) with fields that do not parse (a missing ``url``, a
    string for ``enabled``) is answered with those problems and the rules its other fields
    break, rather than the first half now and the second on the next try."""

    def get_route_handler(self) -> Handler:
        handle: Handler = super().get_route_handler()
        if not (self.methods or set()) & {"POST", "PUT"}:
            return handle

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as error:
                broken = {str(item["loc"][1]) for item in error.errors() if item["loc"][1:]}
                services: Services = request.app.state.services
                more = problems_beside(
                    error.body,
                    broken,
                    level=_level(request, error.body),
                    catalog=services.catalog,
                    dev=services.settings.dev,
                    # A PUT's webhook is not read yet: its event types are checked once the
                    # body parses, not guessed at here.
                    current_event_types=None if request.method == "POST" else (),
                )
                if not more:
                    raise
                raise InvalidInput([*request_problems(error), *more]) from None

        return handler


def _level(request: Request, body: Any) -> Level | None:
    """The level a new webhook's event types are checked for; None (the catalog only) for a
    PUT, whose webhook keeps its level (checked once the body parses), or a bad level."""
    if request.method != "POST" or not isinstance(body, dict):
        return None
    given = body.get("level") or "tenant"
    return next((level for level in LEVELS if level == given), None)


router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], route_class=_EveryProblemAtOnce)
ORIGINS: tuple[Origin, ...] = ("api", "automations", "management-console")
MOST_FILTER_VALUES = "HOOKLINE_MAX_FILTER_VALUES values (default 50)"
MATCH = (
    "Wildcard and case insensitive: `*` stands for any text (`hook*` starts with hook, "
    "`*o*` holds an o); a value without `*` matches anywhere (substring)."
)


@router.get("", response_model=WebhookList, responses=error_responses(400, 403))
async def list_webhooks(
    request: Request,
    services: ServicesDep,
    caller: Caller,
    name: Annotated[str | None, Query(description=MATCH)] = None,
    url: Annotated[str | None, Query(description=MATCH)] = None,
    enabled: bool | None = None,
    event_types: Annotated[
        list[str] | None,
        Query(
            alias="eventTypes",
            description="Comma list, or the parameter repeated; every one must be subscribed. "
            f"At most {MOST_FILTER_VALUES}.",
        ),
    ] = None,
    event_type: Annotated[
        list[str] | None, Query(alias="eventType", description="Older name of eventTypes.")
    ] = None,
    level: Level | None = None,
    origins: Annotated[
        list[str] | None,
        Query(
            description="Comma list, or the parameter repeated; any may match. "
            f"At most {MOST_FILTER_VALUES}."
        ),
    ] = None,
    owner_id: Annotated[str | None, Query(alias="ownerId")] = None,
    created_by_user_id: Annotated[str | None, Query(alias="createdByUserId")] = None,
    updated_by_user_id: Annotated[str | None, Query(alias="updatedByUserId")] = None,
    sort: Annotated[
        str | None,
        # Published as an enum for generated clients; parse_sort still reads the value (a
        # "+" sent unencoded arrives as a space), so exactly the same values are accepted.
        WithJsonSchema({"type": "string", "enum": sort_choices(WEBHOOK_SORT_KEYS)}),
        Query(
            description="name, url, createdAt or updatedAt, prefixed by + or - "
            "(default -createdAt).",
        ),
    ] = None,
    limit: Limit = 20,
    next: Next = None,
    prev: Prev = None,
) -> WebhookList:
    order = parse_sort(sort, WEBHOOK_SORT_KEYS, DEFAULT_WEBHOOK_SORT)
    most = services.settings.max_filter_values
    wanted_types = _comma_list(event_types) + _comma_list(event_type)
    _at_most(most, "eventTypes" if event_types is not None else "eventType", wanted_types)
    wanted_origins = _comma_list(origins)
    _at_most(most, "origins", wanted_origins)
    _check_origins(wanted_origins)
    query = WebhookQuery(
        tenant_id="",
        name=name,
        url=url,
        enabled=enabled,
        event_types=wanted_types,
        level=level,
        origins=wanted_origins,
        owner_id=owner_id,
        created_by_user_id=created_by_user_id,
        updated_by_user_id=updated_by_user_id,
        sort=order,
        limit=limit,
        cursor=cursor_of(next, prev, order, WEBHOOK_TIME_SORT_KEYS),
    )
    page = await services.registry.list_webhooks(caller, query)
    return WebhookList(
        data=[WebhookOut.of(webhook) for webhook in page.items], links=links(request, page)
    )


def _comma_list(given: list[str] | None) -> tuple[str, ...]:
    """The values of a list filter, given as a comma list (``origins=a,b``), the parameter
    repeated (``origins=a&origins=b``), or both."""
    return tuple(item.strip() for text in given or () for item in text.split(",") if item.strip())


def _at_most(most: int, parameter: str, values: tuple[str, ...]) -> None:
    """A list filter holds at most HOOKLINE_MAX_FILTER_VALUES values, so one request's
    query stays small."""
    if len(values) > most:
        raise InvalidInput.one(parameter, f"holds at most {most} values, not {len(values)}")


def _check_origins(origins: tuple[str, ...]) -> None:
    unknown = [origin for origin in origins if origin not in ORIGINS]
    if unknown:
        raise InvalidInput.one(
            "origins", f"unknown origin {unknown[0]!r}: use {', '.join(ORIGINS)}"
        )


@router.post("", status_code=201, response_model=WebhookOut, responses=error_responses(400, 403))
async def create_webhook(services: ServicesDep, caller: Caller, webhook: NewWebhook) -> WebhookOut:
    return WebhookOut.of(await services.registry.create(caller, webhook))


@router.get("/event-types", response_model=EventTypeList, responses=error_responses())
async def list_event_types(
    request: Request, services: ServicesDep, caller: Caller
) -> EventTypeList:
    language = "ja" if request.headers.get("accept-language", "").lower().startswith("ja") else "en"
    return EventTypeList(
        data=[EventTypeOut.of(event_type, language) for event_type in services.catalog.all()]
    )


@router.get("/{id}", response_model=WebhookOut, responses=error_responses(403, 404))
async def get_webhook(id: str, services: ServicesDep, caller: Caller) -> WebhookOut:
    return WebhookOut.of(await services.registry.get(caller, id))


@router.put("/{id}", response_model=WebhookOut, responses=error_responses(400, 403, 404, 409))
async def replace_webhook(
    id: str, services: ServicesDep, caller: Caller, webhook: WebhookReplace
) -> WebhookOut:
    replaced = await services.registry.replace(caller, id, webhook, webhook.read_only_given())
    return WebhookOut.of(replaced)


@router.patch(
    "/{id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 403, 404, 409),
)
async def patch_webhook(
    id: str,
    services: ServicesDep,
    caller: Caller,
    operations: Annotated[list[Operation], Body(description="A JSON Patch document.")],
) -> Response:
    await services.registry.patch(caller, id, operations)
    return Response(status_code=204)


@router.delete(
    "/{id}", status_code=204, response_class=Response, responses=error_responses(403, 404)
)
async def delete_webhook(id: str, services: ServicesDep, caller: Caller) -> Response:
    await services.registry.delete(caller, id)
    return Response(status_code=204)
