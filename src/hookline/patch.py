"""JSON Patch (RFC 6902) on a webhook document: ``add``, ``remove`` and ``replace``.

Paths are top-level fields (``/name``) or, for maps, single members (``/headers/X-Foo``,
matched case-insensitively as HTTP header names are). Pure: returns a new document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hookline.errors import InvalidInput, ReadOnlyField


class Operation(BaseModel):
    """One JSON Patch operation."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    op: Literal["add", "remove", "replace"]
    path: str = Field(examples=["/name", "/headers/X-Foo"])
    value: Any = Field(default=None, description="Required for add and replace.")


def parse_pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError("must be a JSON pointer starting with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply(
    document: dict[str, Any],
    operations: Iterable[Operation],
    *,
    writable: frozenset[str],
    maps: frozenset[str],
    read_only: frozenset[str],
) -> dict[str, Any]:
    """``document`` with ``operations`` applied in order; the input is left unchanged."""
    result = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        where = f"/{index}/path"
        try:
            parts = parse_pointer(operation.path)
        except ValueError as error:
            raise InvalidInput.one(where, str(error)) from None
        field = parts[0]
        if field in read_only:
            raise ReadOnlyField(field)
        if field not in writable:
            raise InvalidInput.one(where, f"{operation.path} is not a patchable path")
        if operation.op != "remove" and "value" not in operation.model_fields_set:
            raise InvalidInput.one(f"/{index}/value", f"is required for {operation.op}")
        if len(parts) == 1:
            result[field] = None if operation.op == "remove" else copy.deepcopy(operation.value)
        elif len(parts) == 2 and field in maps:
            members = result[field] or {}
            if not isinstance(members, dict):
                raise InvalidInput.one(where, f"/{field} is not an object")
            result[field] = _patch_member(members, parts[1], operation, where)
        else:
            raise InvalidInput.one(where, f"{operation.path} is not a patchable path")
    return result


def _patch_member(
    members: dict[str, Any], name: str, operation: Operation, where: str
) -> dict[str, Any]:
    existing = next((key for key in members if key.lower() == name.lower()), None)
    if existing is None and operation.op != "add":
        raise InvalidInput.one(where, f"{operation.path} does not exist")
    if existing is not None:
        del members[existing]
    if operation.op != "remove":
        members[name] = copy.deepcopy(operation.value)
    return members
