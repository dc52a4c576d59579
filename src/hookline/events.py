"""An event, as hookline stores it once accepted, whichever of the three forms it came in.

``parse_events`` reads the body of ``POST /api/v1/events`` (SPEC 4): one event object, or
a list of 1 to ``MAX_EVENTS`` of them. ``parse_event`` reads one object. An object is in
one of three forms, told apart by its members:

CloudEvents 1.0 structured JSON, when it has ``specversion`` (which must be ``"1.0"``)::

    {"specversion": "1.0", "id": "…", "source": "…", "type": "com.qlik.v1.app.created",
     "time": "2021-03-08T14:51:29Z", "datacontenttype": "application/json", "data": {…},
     "userid": "…", "ownerid": "…", "spaceid": "…", "toplevelresourceid": "…"}

    ``id``, ``source`` and ``type`` are required. ``datacontenttype``, when given, must be
    JSON (``application/json`` or ``*+json``); ``data_base64`` is refused. Every other
    member (``subject``, ``dataschema``, other extension attributes) is kept in
    ``extensions``.

The legacy envelope of SPEC 5.1, when it has ``cloudEventsVersion`` or ``eventType``::

    {"cloudEventsVersion": "0.1", "source": "…", "contentType": "application/json",
     "eventId": "…", "eventTime": "…", "eventTypeVersion": "1.0.0", "eventType": "…",
     "extensions": {"ownerId": "…", "tenantId": "…", "userId": "…", "spaceId": "…",
                    "topLevelResourceId": "…"},
     "data": {…}}

    Only ``eventType`` is required. ``cloudEventsVersion``, when given, must be ``"0.1"``
    and ``contentType`` must be JSON; ``eventTypeVersion`` is not kept. Other members of
    ``extensions`` are kept in ``extensions``.

The short form, otherwise::

    {"type": "…", "data": {…}, "id"?, "time"?, "source"?, "userId"?, "ownerId"?,
     "spaceId"?, "topLevelResourceId"?}

Rules for every form (JSON ``null`` means absent; in the legacy and short forms, members
not named here are ignored):

- ``type`` must name an event type of the catalog other than hookline's own
  (``hookline.*``): those are raised by hookline only, so a receiver can trust them.
- The id defaults to a new UUID4. It, and the user, owner, space and top-level resource
  ids, are 1 to ``MAX_ID_LENGTH`` characters of printable text; ``source`` (default
  ``"hookline"``) is 1 to ``MAX_SOURCE_LENGTH``.
- The time defaults to ``now``. It is ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` followed by
  ``Z`` or an offset (``±HH[:MM]``); ``T`` may be a space, letters may be lower-case. A
  time without offset is taken to be UTC. Times are stored in UTC, cut to milliseconds
  (the precision deliveries carry, so a stored event renders exactly as it was accepted).
- ``data`` (default ``{}``) and extension values are any JSON nested at most
  ``MAX_JSON_DEPTH`` deep, with integers of at most 64 bits and finite numbers.
- No text anywhere may hold NUL or an unpaired surrogate (no database can store them).
- The event's tenant is always the publisher's: a tenant id inside the payload is ignored.

Every broken rule is reported at once, each naming the JSON pointer of its member
(``/3/type`` for the fourth object of a list).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from hookline.catalog import Catalog
from hookline.errors import InvalidInput, Problem, pointer
from hookline.text import unstorable

MAX_EVENTS = 1000
MAX_ID_LENGTH = 200
MAX_SOURCE_LENGTH = 1024
MAX_JSON_DEPTH = 100
DEFAULT_SOURCE = "hookline"
# hookline's own event types (``hookline.webhook.disabled``): raised by hookline only.
RESERVED_PREFIX = "hookline."

_Location = tuple[str | int, ...]

_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?", re.ASCII
)
_INT64_RANGE = range(-(2**63), 2**64)  # what orjson can write: int64 and uint64


@dataclass(frozen=True)
class Event:
    """A system event of one tenant. ``id`` is unique within the tenant and stays the same
    on every delivery, retry and resend, so receivers can de-duplicate."""

    id: str
    tenant_id: str
    type: str
    time: datetime
    source: str
    data: Any
    user_id: str | None = None
    owner_id: str | None = None
    space_id: str | None = None
    top_level_resource_id: str | None = None
    # Other extension attributes the producer sent (legacy `extensions`, CloudEvents
    # extension attributes), delivered as they came.
    extensions: dict[str, Any] = field(default_factory=dict)


def parse_events(
    payload: object, *, tenant_id: str, catalog: Catalog, now: datetime
) -> list[Event]:
    """The events of one publish request: an event object, or a list of 1 to 1000.

    The same id may appear more than once; the store keeps the first.
    """
    if isinstance(payload, dict):
        return [parse_event(payload, tenant_id=tenant_id, catalog=catalog, now=now)]
    if not isinstance(payload, list) or not 1 <= len(payload) <= MAX_EVENTS:
        raise InvalidInput.one(
            "/", f"must be an event object or a list of 1 to {MAX_EVENTS} event objects"
        )
    events = []
    problems = []
    for index, item in enumerate(payload):
        try:
            events.append(_parse(item, (index,), tenant_id, catalog, now))
        except InvalidInput as error:
            problems += error.problems
    if problems:
        raise InvalidInput(problems)
    return events


def parse_event(payload: object, *, tenant_id: str, catalog: Catalog, now: datetime) -> Event:
    """One event object in any of the three forms, as an Event of ``tenant_id``.

    A time without a timezone (in the payload, or ``now``) is taken to be UTC.
    """
    return _parse(payload, (), tenant_id, catalog, now)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class _Layout:
    """Where one event object keeps each Event field, what it requires, and its other
    extensions (found at ``extensions_at``)."""

    fields: dict[str, _Location]
    required: tuple[str, ...]
    extensions: dict[str, Any]
    extensions_at: _Location = ()


_CLOUD_EVENT_FIELDS: dict[str, _Location] = {
    "id": ("id",),
    "type": ("type",),
    "time": ("time",),
    "source": ("source",),
    "data": ("data",),
    "user_id": ("userid",),
    "owner_id": ("ownerid",),
    "space_id": ("spaceid",),
    "top_level_resource_id": ("toplevelresourceid",),
}
# The attributes read above, and those handled or refused; the rest are extensions.
_CLOUD_EVENT_MEMBERS = frozenset(
    {"specversion", "id", "source", "type", "time", "datacontenttype", "data", "data_base64"}
    | {"tenantid", "userid", "ownerid", "spaceid", "toplevelresourceid"}
)
_LEGACY_FIELDS: dict[str, _Location] = {
    "id": ("eventId",),
    "type": ("eventType",),
    "time": ("eventTime",),
    "source": ("source",),
    "data": ("data",),
    "user_id": ("extensions", "userId"),
    "owner_id": ("extensions", "ownerId"),
    "space_id": ("extensions", "spaceId"),
    "top_level_resource_id": ("extensions", "topLevelResourceId"),
}
_LEGACY_EXTENSIONS = frozenset({"ownerId", "tenantId", "userId", "spaceId", "topLevelResourceId"})
_OPTIONAL_IDS = ("user_id", "owner_id", "space_id", "top_level_resource_id")
_SHORT_FIELDS: dict[str, _Location] = {
    "id": ("id",),
    "type": ("type",),
    "time": ("time",),
    "source": ("source",),
    "data": ("data",),
    "user_id": ("userId",),
    "owner_id": ("ownerId",),
    "space_id": ("spaceId",),
    "top_level_resource_id": ("topLevelResourceId",),
}


class _Reader:
    """Reads the members of one event object, collecting every problem it finds."""

    def __init__(self, payload: dict[str, Any], prefix: _Location) -> None:
        self.payload = payload
        self.prefix = prefix
        self.problems: list[Problem] = []

    def get(self, location: _Location) -> Any:
        value: Any = self.payload
        for key in location:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def problem(self, location: _Location, message: str) -> None:
        self.problems.append(Problem(pointer(self.prefix + location) or "/", message))

    def text(self, location: _Location, max_length: int) -> str | None:
        value = self.get(location)
        if value is None:
            return None
        message = _text_problem(value, max_length)
        if message:
            self.problem(location, message)
            return None
        return str(value)

    def event_type(self, location: _Location, catalog: Catalog) -> str | None:
        value = self.get(location)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(location, "must be a string")
        elif value.startswith(RESERVED_PREFIX):
            reason = f"is reserved: {RESERVED_PREFIX}* events are raised by hookline only"
            self.problem(location, reason)
        elif value not in catalog:
            self.problem(location, f"unknown event type {value!r}")
        else:
            return value
        return None

    def time(self, location: _Location) -> datetime | None:
        value = self.get(location)
        if value is None:
            return None
        moment = _parse_time(value)
        if moment is None:
            self.problem(location, "must be a date-time like 2021-03-08T14:51:29Z")
        return moment

    def json(self, location: _Location) -> Any:
        return self.checked_json(self.get(location), location)

    def checked_json(self, value: Any, location: _Location) -> Any:
        found = _json_problem(value, 0)
        if found:
            where, message = found
            self.problem(location + where, message)
        return value

    def expect(self, location: _Location, version: str) -> None:
        value = self.get(location)
        if value is not None and value != version:
            self.problem(location, f'must be "{version}"')

    def expect_json_content(self, location: _Location) -> None:
        value = self.get(location)
        if value is not None and not _is_json_media_type(value):
            self.problem(location, "must be application/json or another JSON media type")


def _parse(
    payload: object, prefix: _Location, tenant_id: str, catalog: Catalog, now: datetime
) -> Event:
    if not isinstance(payload, dict):
        raise InvalidInput.one(pointer(prefix) or "/", "must be a JSON object")
    reader = _Reader(payload, prefix)
    if payload.get("specversion") is not None:
        layout = _cloud_event_layout(reader)
    elif payload.get("cloudEventsVersion") is not None or payload.get("eventType") is not None:
        layout = _legacy_layout(reader)
    else:
        layout = _Layout(_SHORT_FIELDS, ("type",), {})
    return _build(reader, layout, tenant_id, catalog, now)


def _cloud_event_layout(reader: _Reader) -> _Layout:
    reader.expect(("specversion",), "1.0")
    reader.expect_json_content(("datacontenttype",))
    if reader.payload.get("data_base64") is not None:
        reader.problem(("data_base64",), "binary data is not accepted; send JSON in data")
    extensions = {
        name: value
        for name, value in reader.payload.items()
        if name not in _CLOUD_EVENT_MEMBERS and value is not None
    }
    return _Layout(_CLOUD_EVENT_FIELDS, ("id", "source", "type"), extensions)


def _legacy_layout(reader: _Reader) -> _Layout:
    reader.expect(("cloudEventsVersion",), "0.1")
    reader.expect_json_content(("contentType",))
    members = reader.get(("extensions",))
    if members is not None and not isinstance(members, dict):
        reader.problem(("extensions",), "must be an object")
    extensions = {
        name: value
        for name, value in (members if isinstance(members, dict) else {}).items()
        if name not in _LEGACY_EXTENSIONS and value is not None
    }
    return _Layout(_LEGACY_FIELDS, ("type",), extensions, ("extensions",))


def _build(
    reader: _Reader, layout: _Layout, tenant_id: str, catalog: Catalog, now: datetime
) -> Event:
    fields = layout.fields
    for name in layout.required:
        if reader.get(fields[name]) is None:
            reader.problem(fields[name], "is required")
    event_type = reader.event_type(fields["type"], catalog)
    data = reader.json(fields["data"])
    values: dict[str, Any] = {
        "id": reader.text(fields["id"], MAX_ID_LENGTH) or str(uuid.uuid4()),
        "time": reader.time(fields["time"]) or _to_millisecond(as_utc(now)),
        "source": reader.text(fields["source"], MAX_SOURCE_LENGTH) or DEFAULT_SOURCE,
        "data": {} if data is None else data,
        **{name: reader.text(fields[name], MAX_ID_LENGTH) for name in _OPTIONAL_IDS},
        "extensions": reader.checked_json(layout.extensions, layout.extensions_at),
    }
    if reader.problems or event_type is None:
        raise InvalidInput(reader.problems)
    return Event(tenant_id=tenant_id, type=event_type, **values)


def _text_problem(value: object, max_length: int) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    message = unstorable(value)
    if message:
        return message
    if not 1 <= len(value) <= max_length:
        return f"must be 1 to {max_length} characters long"
    if not value.isprintable():
        return "must be printable text, without control characters"
    return None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not _TIME.fullmatch(value.upper()):
        return None
    try:
        return _to_millisecond(as_utc(datetime.fromisoformat(value.upper())))
    except (ValueError, OverflowError):
        return None


def _to_millisecond(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _is_json_media_type(value: object) -> bool:
    if not isinstance(value, str):
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or ("/" in media_type and media_type.endswith("+json"))


def _json_problem(value: object, depth: int) -> tuple[_Location, str] | None:
    """The first part of ``value`` that is not storable JSON: where it is, and why."""
    if depth > MAX_JSON_DEPTH:
        return (), f"must not be nested more than {MAX_JSON_DEPTH} levels deep"
    if isinstance(value, dict):
        return _object_problem(value, depth)
    if isinstance(value, list):
        return _first_problem(enumerate(value), depth)
    message = _scalar_problem(value)
    return ((), message) if message else None


def _object_problem(members: dict[Any, Any], depth: int) -> tuple[_Location, str] | None:
    for name in members:
        if not isinstance(name, str):
            return (str(name),), "member names must be strings"
        message = unstorable(name)
        if message:
            return (name,), f"member name {message}"
    return _first_problem(members.items(), depth)


def _first_problem(
    children: Iterable[tuple[str | int, Any]], depth: int
) -> tuple[_Location, str] | None:
    for key, child in children:
        found = _json_problem(child, depth + 1)
        if found:
            return (key, *found[0]), found[1]
    return None


def _scalar_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, int):
        return None if value in _INT64_RANGE else "integers must fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite"
    return "must be JSON (an object, array, string, number, boolean or null)"


def to_record(event: Event) -> str:
    """The event as the store keeps it (its tenant, id and type are columns of their own):
    compact JSON that ``from_record`` turns back into the same event."""
    return orjson.dumps(
        {
            "time": event.time,
            "source": event.source,
            "data": event.data,
            "userId": event.user_id,
            "ownerId": event.owner_id,
            "spaceId": event.space_id,
            "topLevelResourceId": event.top_level_resource_id,
            "extensions": event.extensions,
        }
    ).decode()


def from_record(tenant_id: str, event_id: str, event_type: str, record: str | bytes) -> Event:
    fields = orjson.loads(record)
    return Event(
        id=event_id,
        tenant_id=tenant_id,
        type=event_type,
        time=datetime.fromisoformat(fields["time"]),
        source=fields["source"],
        data=fields["data"],
        user_id=fields["userId"],
        owner_id=fields["ownerId"],
        space_id=fields["spaceId"],
        top_level_resource_id=fields["topLevelResourceId"],
        extensions=fields["extensions"],
    )


WEBHOOK_DISABLED = "hookline.webhook.disabled"


def webhook_disabled(
    *,
    tenant_id: str,
    webhook_id: str,
    owner_id: str,
    name: str,
    url: str,
    code: str,
    reason: str,
    at: datetime,
) -> Event:
    """The event hookline raises itself when it disables a webhook; tenants subscribe to it
    like to any other (its owner's user-level webhooks get it too)."""
    return Event(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        type=WEBHOOK_DISABLED,
        time=at,
        source=DEFAULT_SOURCE,
        data={
            "id": webhook_id,
            "name": name,
            "url": url,
            "disabledReasonCode": code,
            "disabledReason": reason,
        },
        owner_id=owner_id,
    )
