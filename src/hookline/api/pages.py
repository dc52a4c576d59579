"""Query parameters shared by the lists (``sort``, ``limit``, ``next``, ``prev``) and the
``links`` that let a client walk the pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from hookline.api.schemas import Href, Links
from hookline.errors import InvalidInput
from hookline.paging import Cursor, Page, Sort, decode_cursor, encode_cursor

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100.")]
Next = Annotated[str | None, Query(description="Cursor from links.next.")]
Prev = Annotated[str | None, Query(description="Cursor from links.prev.")]


def cursor_of(
    next_text: str | None, prev_text: str | None, order: Sort, time_keys: tuple[str, ...]
) -> Cursor | None:
    if next_text and prev_text:
        raise InvalidInput.one("next", "give either next or prev, not both")
    time_sort = order.key in time_keys
    if next_text:
        return decode_cursor(next_text, "next", order, time_sort=time_sort)
    if prev_text:
        return decode_cursor(prev_text, "prev", order, time_sort=time_sort)
    return None


def links(request: Request, page: Page[Any]) -> Links:
    return Links(
        self=Href(href=str(request.url)),
        next=_link(request, page.next),
        prev=_link(request, page.prev),
    )


def _link(request: Request, cursor: Cursor | None) -> Href | None:
    if cursor is None:
        return None
    name = "prev" if cursor.backward else "next"
    url = request.url.remove_query_params(["next", "prev"]).include_query_params(
        **{name: encode_cursor(cursor)}
    )
    return Href(href=str(url))
