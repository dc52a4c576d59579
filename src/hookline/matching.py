"""Which webhooks an event reaches (SPEC 4): pure decisions on domain objects.

An event reaches a webhook that is enabled, subscribes to its type, whose filter matches,
and, for a ``user``-level webhook, only when the event's ``ownerId`` or ``userId`` is the
webhook's owner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hookline import filters
from hookline.events import Event
from hookline.webhooks import Webhook

_EVENT_FIELDS: dict[str, Callable[[Event], object]] = {
    "spaceId": lambda event: event.space_id,
    "topLevelResourceId": lambda event: event.top_level_resource_id,
    "ownerId": lambda event: event.owner_id,
    "userId": lambda event: event.user_id,
    "tenantId": lambda event: event.tenant_id,
    "type": lambda event: event.type,
    "source": lambda event: event.source,
}


def reaches(webhook: Webhook, event: Event, compiled: filters.Filter | None) -> bool:
    """Whether ``event`` is delivered to ``webhook``; ``compiled`` is its parsed filter
    (``filters.compile(webhook.filter)``).

    The filter is evaluated with the default budget of ``filters.MAX_STEPS``; an event
    that would need more raises ``filters.TooCostly``, which propagates: the caller
    decides what that means (the fan-out counts it as no match and records why)."""
    if not webhook.enabled or event.type not in webhook.event_types:
        return False
    if webhook.level == "user" and webhook.owner_id not in (event.owner_id, event.user_id):
        return False
    return compiled is None or filters.evaluate(compiled, attributes(event))


def resource_id(event: Event) -> object:
    """The id of the resource the event is about: ``data.id``, or ``data.attributes.id``
    in the legacy app payload."""
    data = event.data if isinstance(event.data, Mapping) else {}
    if "id" in data:
        return data["id"]
    nested = data.get("attributes")
    return nested.get("id", filters.MISSING) if isinstance(nested, Mapping) else filters.MISSING


def attributes(event: Event) -> Callable[[str], object]:
    """The filter attribute lookup for ``event``: ``id``, ``spaceId``,
    ``topLevelResourceId``, ``data.<path>``, ``extensions.<name>`` and the event's own
    ids; absent attributes are ``filters.MISSING``."""

    def lookup(path: str) -> object:
        if path == "id":
            return resource_id(event)
        head, _, rest = path.partition(".")
        if head == "data" and rest:
            return _walk(event.data, rest.split("."))
        if head == "extensions" and rest:
            if rest in _EVENT_FIELDS:
                return _present(_EVENT_FIELDS[rest](event))
            return _walk(event.extensions, rest.split("."))
        if path in _EVENT_FIELDS:
            return _present(_EVENT_FIELDS[path](event))
        return filters.MISSING

    return lookup


def _present(value: object) -> object:
    return filters.MISSING if value is None else value


def _walk(value: Any, parts: list[str]) -> object:
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            return filters.MISSING
        value = value[part]
    return value
