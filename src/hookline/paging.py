"""Sorting and cursor pagination shared by every list: pure parsing and encoding.

A cursor is the position of one row in a sort order, (sort value, id), plus the
direction to read in; it is opaque to clients (base64url of compact JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from hookline.errors import InvalidInput

T = TypeVar("T")


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    def __str__(self) -> str:
        return ("-" if self.descending else "+") + self.key


@dataclass(frozen=True)
class Cursor:
    sort: Sort
    value: str | datetime
    id: str
    backward: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Cursor | None
    prev: Cursor | None


def sort_choices(allowed: tuple[str, ...]) -> list[str]:
    """Every ``sort`` value ``parse_sort`` accepts for ``allowed`` keys, as the OpenAPI
    document lists them (``name``, ``+name``, ``-name``, …), so generated clients know them."""
    return [prefix + key for key in allowed for prefix in ("", "+", "-")]


def parse_sort(text: str | None, allowed: tuple[str, ...], default: Sort) -> Sort:
    """The sort ``text`` asks for; ``default`` when there is none. An empty ``sort=`` is
    not one of the published values, so it is a 400 like any other."""
    if text is None:
        return default
    if text.startswith(" "):  # "?sort=+name" arrives as " name": "+" decodes to a space
        text = "+" + text[1:]
    descending = text.startswith("-")
    key = text[1:] if text.startswith(("+", "-")) else text
    if key not in allowed:
        choices = ", ".join(allowed)
        raise InvalidInput.one("sort", f"must be one of {choices}, optionally prefixed by + or -")
    return Sort(key, descending)


def encode_cursor(cursor: Cursor) -> str:
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    raw = json.dumps([str(cursor.sort), value, cursor.id, cursor.backward], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


def decode_cursor(text: str, field: str, sort: Sort, *, time_sort: bool = False) -> Cursor:
    """The cursor in ``text``; it must have been made for ``sort``, whose values are
    datetimes when ``time_sort``."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        sort_text, value, row_id, backward = json.loads(raw)
        position = datetime.fromisoformat(value) if time_sort else str(value)
        cursor = Cursor(
            Sort(sort_text[1:], sort_text[0] == "-"), position, str(row_id), bool(backward)
        )
    except (ValueError, TypeError, IndexError, RecursionError, binascii.Error):
        raise InvalidInput.one(field, "is not a valid cursor") from None
    if cursor.sort != sort:
        raise InvalidInput.one(field, f"was made for sort {cursor.sort}, not {sort}")
    return cursor
