"""Keyset pagination for any list: rows ordered by (sort value, id), read from a cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hookline.paging import Cursor, Sort


@dataclass(frozen=True)
class Window:
    """One page of rows (in sort order) and the cursors next to it."""

    rows: list[Any]
    next: Cursor | None
    prev: Cursor | None


def read_page(
    conn: sa.Connection,
    statement: sa.Select[Any],
    *,
    sort_value: sa.ColumnElement[Any],
    row_id: sa.ColumnElement[Any],
    sort: Sort,
    cursor: Cursor | None,
    limit: int,
) -> Window:
    """The page of ``statement`` at ``cursor``; ``statement`` must select ``sort_value``
    labelled ``sort_value`` and the row id as ``id``."""
    backward = cursor is not None and cursor.backward
    if cursor is not None:
        statement = statement.where(_beyond(sort_value, row_id, cursor))
    descending = sort.descending != backward
    order = (sort_value.desc(), row_id.desc()) if descending else (sort_value, row_id)
    rows = list(conn.execute(statement.order_by(*order).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    has_next = (more and not backward) or (backward and bool(rows))
    has_prev = (more and backward) or (cursor is not None and not backward and bool(rows))
    return Window(
        rows,
        next=Cursor(sort, rows[-1].sort_value, rows[-1].id, False) if has_next else None,
        prev=Cursor(sort, rows[0].sort_value, rows[0].id, True) if has_prev else None,
    )


def _beyond(
    sort_value: sa.ColumnElement[Any], row_id: sa.ColumnElement[Any], cursor: Cursor
) -> sa.ColumnElement[bool]:
    value = cursor.value
    if cursor.sort.descending != cursor.backward:
        return sa.or_(sort_value < value, sa.and_(sort_value == value, row_id < cursor.id))
    return sa.or_(sort_value > value, sa.and_(sort_value == value, row_id > cursor.id))
