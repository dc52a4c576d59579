"""Exceptions raised by hookline's domain code.

Domain code never raises HTTP errors; the API layer maps these to statuses::

    HooklineError
    ├── InvalidInput        400  one or more fields break a rule (``problems``)
    │   └── FilterSyntaxError    a filter expression does not parse (``position``)
    ├── Unauthenticated     401  no key, or an unknown or revoked one
    ├── NotAllowed          403  the caller's role may not do this
    │   └── LimitReached         a configured cap is reached
    ├── NotFound            404  no such object visible to the caller
    ├── ReadOnlyField       409  a request tries to change a read-only field
    ├── RateLimited         429  the key made too many requests (``retry_after``)
    ├── StorageUnavailable  503  the database cannot be reached or is locked
    └── ConfigError              a setting is invalid (the CLI exits with 2)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class HooklineError(Exception):
    """Base of every error hookline raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One broken rule: the field it concerns (a JSON pointer like ``/url``) and why."""

    field: str
    message: str


class InvalidInput(HooklineError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls([Problem(field, message)])


class FilterSyntaxError(InvalidInput):
    """A filter expression that does not parse; ``position`` is a 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        self.position = position
        super().__init__([Problem("/filter", f"{message} at position {position}")])


class Unauthenticated(HooklineError):
    pass


class NotAllowed(HooklineError):
    pass


class LimitReached(NotAllowed):
    pass


class NotFound(HooklineError):
    pass


class ReadOnlyField(HooklineError):
    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"{field} is read-only and cannot be changed")


class RateLimited(HooklineError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many requests with this API key; retry in {retry_after} s")


class StorageUnavailable(HooklineError):
    pass


class ConfigError(HooklineError):
    pass


# The first words of a message that says something about its field ("is required", "must
# use https"): such a message reads on from the field's name. Any other message is a
# sentence of its own ("a tenant named 'acme' exists already").
_PREDICATE = re.compile(r"(is|are|must|may|should|needs|has|have|holds|cannot|can't|does|was)\b")
_SHOULD = re.compile(r"^[A-Z][a-z]* should ")


def describe(problem: Problem, *, whole: str = "the request body", cli: bool = False) -> str:
    """``problem`` in plain words, its field named without the pointer's first slash: a
    predicate after the name (``url must use https``; ``whole`` names the field ``/``), a
    sentence after the name and a colon (``name: a tenant named 'acme' exists
    already``), or, on the command line (``cli``), whose fields are its arguments, alone."""
    field = problem.field.lstrip("/")
    if _PREDICATE.match(problem.message):
        return f"{field or whole} {problem.message}"
    if field and not cli:
        return f"{field}: {problem.message}"
    return problem.message


def plain_message(error: Mapping[str, Any]) -> str:
    """A Pydantic error (one of ``ValidationError.errors()``) in hookline's words: a
    predicate about its field, lower case, as hookline's own rules say it (``is
    required``, ``must be a valid string``), not Pydantic's ``Field required``."""
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not permitted"
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    message = _SHOULD.sub("must ", message, count=1)
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return message


def pointer(location: tuple[str | int, ...]) -> str:
    """The JSON pointer of a location: ``("eventTypes", 0)`` -> ``/eventTypes/0``."""
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in location)
