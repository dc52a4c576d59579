"""The event catalog: which event types exist, their titles, the levels that may subscribe,
and an example of each one's ``data`` (what a test send delivers).

The built-in catalog is ``catalog.json`` in this package; an operator's file
(``HOOKLINE_CATALOG_FILE``, same format) adds types or replaces built-in ones by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from hookline.errors import ConfigError

LANGUAGES = ("en", "ja")
Level = Literal["tenant", "user"]
LEVELS: tuple[Level, ...] = ("tenant", "user")


@dataclass(frozen=True)
class EventType:
    name: str
    category: str
    levels: tuple[Level, ...]
    title: dict[str, str]
    description: dict[str, str]
    example: dict[str, Any] = field(default_factory=dict)  # the data of a test event

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]

    def description_in(self, language: str) -> str:
        return self.description.get(language) or self.description.get("en", "")


class Catalog:
    def __init__(self, event_types: list[EventType]) -> None:
        self._by_name = {event_type.name: event_type for event_type in event_types}

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> EventType | None:
        return self._by_name.get(name)

    def all(self) -> list[EventType]:
        return list(self._by_name.values())


def load_catalog(extra_file: Path | None = None) -> Catalog:
    builtin = resources.files("hookline").joinpath("catalog.json").read_text(encoding="utf-8")
    event_types = _parse(builtin, "built-in catalog")
    if extra_file is not None:
        try:
            text = extra_file.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as error:
            raise ConfigError(f"invalid event catalog {extra_file}: {error}") from None
        event_types += _parse(text, str(extra_file))
    return Catalog(event_types)


def _parse(text: str, source: str) -> list[EventType]:
    try:
        return [_event_type(item) for item in json.loads(text)["eventTypes"]]
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"invalid event catalog {source}: {error}") from None


def _event_type(item: dict[str, Any]) -> EventType:
    if not isinstance(item, dict):
        raise TypeError(f"each event type must be an object, not {item!r}")
    levels = tuple(item.get("levels", ["tenant"]))
    if not levels or not set(levels) <= set(LEVELS):
        raise ValueError(f"{item['name']}: levels must be a non-empty subset of {LEVELS}")
    title = dict(item["title"]) if isinstance(item["title"], dict) else {"en": item["title"]}
    if "en" not in title:
        raise ValueError(f"{item['name']}: title needs an English ('en') text")
    description = item.get("description", {})
    if not isinstance(description, dict):
        description = {"en": description}
    if not all(isinstance(text, str) for text in [*title.values(), *description.values()]):
        raise ValueError(f"{item['name']}: titles and descriptions must be text")
    example = item.get("example", {})
    if not isinstance(example, dict):
        raise ValueError(f"{item['name']}: example must be a JSON object (an event's data)")
    return EventType(
        str(item["name"]),
        str(item["category"]),
        cast(tuple[Level, ...], levels),
        title,
        description,
        example,
    )
