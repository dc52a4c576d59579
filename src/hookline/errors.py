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

from dataclasses import dataclass


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


def pointer(location: tuple[str | int, ...]) -> str:
    """The JSON pointer of a location: ``("eventTypes", 0)`` -> ``/eventTypes/0``."""
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in location)
