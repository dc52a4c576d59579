"""Tests for hookline.events: the three forms an event may come in, and their rules (SPEC 4)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hookline.catalog import load_catalog
from hookline.errors import InvalidInput, Problem
from hookline.events import (
    MAX_EVENTS,
    MAX_ID_LENGTH,
    MAX_JSON_DEPTH,
    MAX_SOURCE_LENGTH,
    Event,
    parse_event,
    parse_events,
)

CATALOG = load_catalog()
TENANT = "tenant-hookline"
NOW = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
APP_CREATED = "com.qlik.v1.app.created"
APP_DELETED = "com.qlik.v1.app.deleted"

# The body of the reference page's example delivery (an app deleted).
REFERENCE_BODY: dict[str, Any] = {
    "cloudEventsVersion": "0.1",
    "source": "com.qlik/engine",
    "contentType": "application/json",
    "eventId": "e65c1481-e8a-4be-a5ca-27dfcde077d7",
    "eventTime": "2021-03-08T14:51:29Z",
    "eventTypeVersion": "1.0.0",
    "eventType": "com.qlik.v1.app.deleted",
    "extensions": {
        "ownerId": "vNRGrDZIypJzauw59BbpvkRhqbmI",
        "tenantId": "oZcMPa_1PwH4FUdrh6839YHHdEJN",
        "userId": "vNRGrDZIypJtcGTzauw59BbpqbmI",
    },
    "data": {
        "attributes": {
            "id": "0984fec4-aa8c-4253-b1d1-4fd4f9c78",
            "name": "New App",
            "createdDate": "2021-03-08T14:51:28.888Z",
            "modifiedDate": "2021-03-08T14:51:29.316Z",
            "owner": "auth0|b62a17c577a4abe6e807b07d18c4d82286352542d633d120100b03fb11",
            "ownerId": "vNRGrDZIypJtcGTzauw59BbpvbmI",
            "published": False,
            "hasSectionAccess": False,
        }
    },
}

# Each form: the least it needs, and where it keeps each Event field.
FORMS = ("short", "cloud", "legacy")
MINIMAL: dict[str, dict[str, Any]] = {
    "short": {"type": APP_CREATED},
    "cloud": {"specversion": "1.0", "id": "event-1", "source": "tests", "type": APP_CREATED},
    "legacy": {"cloudEventsVersion": "0.1", "eventType": APP_CREATED},
}
LOCATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "short": {
        "id": ("id",),
        "type": ("type",),
        "time": ("time",),
        "source": ("source",),
        "data": ("data",),
        "user_id": ("userId",),
        "owner_id": ("ownerId",),
        "space_id": ("spaceId",),
        "top_level_resource_id": ("topLevelResourceId",),
    },
    "cloud": {
        "id": ("id",),
        "type": ("type",),
        "time": ("time",),
        "source": ("source",),
        "data": ("data",),
        "user_id": ("userid",),
        "owner_id": ("ownerid",),
        "space_id": ("spaceid",),
        "top_level_resource_id": ("toplevelresourceid",),
    },
    "legacy": {
        "id": ("eventId",),
        "type": ("eventType",),
        "time": ("eventTime",),
        "source": ("source",),
        "data": ("data",),
        "user_id": ("extensions", "userId"),
        "owner_id": ("extensions", "ownerId"),
        "space_id": ("extensions", "spaceId"),
        "top_level_resource_id": ("extensions", "topLevelResourceId"),
    },
}
OPTIONAL_IDS = ("user_id", "owner_id", "space_id", "top_level_resource_id")


def payload(form: str, **fields: Any) -> dict[str, Any]:
    """The minimal event of ``form``, with each Event field given put where the form keeps it."""
    made = copy.deepcopy(MINIMAL[form])
    for name, value in fields.items():
        *parents, last = LOCATIONS[form][name]
        target = made
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return made


def where(form: str, name: str) -> str:
    return "/" + "/".join(LOCATIONS[form][name])


def parse(body: object, now: datetime = NOW) -> Event:
    return parse_event(body, tenant_id=TENANT, catalog=CATALOG, now=now)


def parse_many(body: object) -> list[Event]:
    return parse_events(body, tenant_id=TENANT, catalog=CATALOG, now=NOW)


def problems_of(body: object, *, many: bool = False) -> list[Problem]:
    parse_body: Callable[[object], object] = parse_many if many else parse
    with pytest.raises(InvalidInput) as caught:
        parse_body(body)
    return caught.value.problems


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def assert_refused(body: object, field: str, message: str) -> None:
    problems = problems_of(body)
    assert [problem.field for problem in problems] == [field], problems
    assert message in problems[0].message


# -- the short form ------------------------------------------------------------------------


def test_short_form_with_only_a_type_gets_every_default() -> None:
    event = parse({"type": APP_CREATED})
    assert uuid.UUID(event.id).version == 4
    assert event == Event(
        id=event.id,
        tenant_id=TENANT,
        type=APP_CREATED,
        time=NOW,
        source="hookline",
        data={},
    )


def test_short_form_maps_every_member() -> None:
    event = parse(
        {
            "type": APP_CREATED,
            "id": "event-1",
            "time": "2021-03-08T14:51:29Z",
            "source": "com.example/apps",
            "data": {"id": "app-1"},
            "userId": "user-1",
            "ownerId": "owner-1",
            "spaceId": "space-1",
            "topLevelResourceId": "resource-1",
        }
    )
    assert event == Event(
        id="event-1",
        tenant_id=TENANT,
        type=APP_CREATED,
        time=datetime(2021, 3, 8, 14, 51, 29, tzinfo=UTC),
        source="com.example/apps",
        data={"id": "app-1"},
        user_id="user-1",
        owner_id="owner-1",
        space_id="space-1",
        top_level_resource_id="resource-1",
    )


def test_short_form_ignores_unknown_members_and_a_tenant_id() -> None:
    event = parse({"type": APP_CREATED, "tenantId": "other-tenant", "extensions": {"a": 1}})
    assert event.tenant_id == TENANT
    assert event.extensions == {}


def test_short_form_requires_a_type() -> None:
    assert_refused({"data": {}}, "/type", "is required")


# -- CloudEvents 1.0 -----------------------------------------------------------------------


def test_cloud_event_maps_attributes_and_keeps_other_extensions() -> None:
    event = parse(
        {
            "specversion": "1.0",
            "id": "event-1",
            "source": "com.example/apps",
            "type": APP_CREATED,
            "time": "2021-03-08T14:51:29.5Z",
            "datacontenttype": "application/json",
            "subject": "app-1",
            "data": {"id": "app-1"},
            "tenantid": "other-tenant",
            "userid": "user-1",
            "ownerid": "owner-1",
            "spaceid": "space-1",
            "toplevelresourceid": "resource-1",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "priority": 3,
        }
    )
    assert event == Event(
        id="event-1",
        tenant_id=TENANT,
        type=APP_CREATED,
        time=datetime(2021, 3, 8, 14, 51, 29, 500000, tzinfo=UTC),
        source="com.example/apps",
        data={"id": "app-1"},
        user_id="user-1",
        owner_id="owner-1",
        space_id="space-1",
        top_level_resource_id="resource-1",
        extensions={
            "subject": "app-1",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "priority": 3,
        },
    )


def test_cloud_event_time_is_optional() -> None:
    assert parse(MINIMAL["cloud"]).time == NOW


@pytest.mark.parametrize("attribute", ["id", "source", "type"])
@pytest.mark.parametrize("absent", ["missing", None])
def test_cloud_event_requires_id_source_and_type(attribute: str, absent: str | None) -> None:
    body = copy.deepcopy(MINIMAL["cloud"])
    if absent is None:
        body[attribute] = None
    else:
        del body[attribute]
    assert_refused(body, f"/{attribute}", "is required")


@pytest.mark.parametrize("version", ["0.3", "1.0.2", 1.0, 1, "v1.0"])
def test_cloud_event_spec_version_must_be_1_0(version: object) -> None:
    assert_refused({**MINIMAL["cloud"], "specversion": version}, "/specversion", '"1.0"')


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/cloudevents+json",
        "application/vnd.qlik.event+json",
        None,
    ],
)
def test_cloud_event_accepts_a_json_content_type(content_type: str | None) -> None:
    assert parse({**MINIMAL["cloud"], "datacontenttype": content_type}).data == {}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "+json", "json", "", 5, ["application/json"]]
)
def test_cloud_event_refuses_a_content_type_that_is_not_json(content_type: object) -> None:
    body = {**MINIMAL["cloud"], "datacontenttype": content_type}
    assert_refused(body, "/datacontenttype", "JSON")


def test_cloud_event_refuses_binary_data() -> None:
    body = {**MINIMAL["cloud"], "data_base64": "aGVsbG8="}
    assert_refused(body, "/data_base64", "binary data")


def test_cloud_event_extension_values_are_checked_with_their_pointer() -> None:
    body = {**MINIMAL["cloud"], "origin": {"names": ["ok", "n\x00ul"]}}
    assert_refused(body, "/origin/names/1", "NUL")


@pytest.mark.parametrize(
    ("name", "message"),
    [("a\x00b", "member name must not contain NUL"), ("\ud800", "unpaired surrogates")],
)
def test_extension_names_must_be_storable_text(name: str, message: str) -> None:
    assert_refused({**MINIMAL["cloud"], name: 1}, f"/{name}", message)
    legacy = {"eventType": APP_CREATED, "extensions": {name: 1}}
    assert_refused(legacy, f"/extensions/{name}", message)


def test_cloud_event_null_extension_is_absent() -> None:
    assert parse({**MINIMAL["cloud"], "comexamplex": None}).extensions == {}


def test_null_spec_version_means_the_short_form() -> None:
    event = parse({"specversion": None, "type": APP_CREATED})
    assert event.source == "hookline"


# -- the legacy envelope -------------------------------------------------------------------


def test_the_reference_pages_example_parses_into_its_event() -> None:
    event = parse(REFERENCE_BODY)
    assert event == Event(
        id="e65c1481-e8a-4be-a5ca-27dfcde077d7",
        tenant_id=TENANT,
        type=APP_DELETED,
        time=datetime(2021, 3, 8, 14, 51, 29, tzinfo=UTC),
        source="com.qlik/engine",
        data=REFERENCE_BODY["data"],
        user_id="vNRGrDZIypJtcGTzauw59BbpqbmI",
        owner_id="vNRGrDZIypJzauw59BbpvkRhqbmI",
    )


def test_legacy_envelope_maps_space_and_resource_ids_and_keeps_other_extensions() -> None:
    body = {
        "eventType": APP_CREATED,
        "extensions": {
            "spaceId": "space-1",
            "topLevelResourceId": "resource-1",
            "region": "eu",
            "tenantId": "other-tenant",
            "unset": None,
        },
    }
    event = parse(body)
    assert (event.space_id, event.top_level_resource_id) == ("space-1", "resource-1")
    assert event.extensions == {"region": "eu"}
    assert event.tenant_id == TENANT


def test_legacy_envelope_is_recognised_by_its_event_type_alone() -> None:
    event = parse({"eventType": APP_CREATED, "eventId": "event-1"})
    assert (event.id, event.type) == ("event-1", APP_CREATED)


def test_legacy_envelope_needs_only_an_event_type() -> None:
    event = parse({"cloudEventsVersion": "0.1", "eventType": APP_CREATED, "extensions": None})
    assert uuid.UUID(event.id).version == 4
    assert (event.time, event.source, event.data) == (NOW, "hookline", {})


def test_legacy_envelope_requires_an_event_type() -> None:
    assert_refused({"cloudEventsVersion": "0.1", "type": APP_CREATED}, "/eventType", "required")


def test_legacy_envelope_version_must_be_0_1() -> None:
    body = {**REFERENCE_BODY, "cloudEventsVersion": "1.0"}
    assert_refused(body, "/cloudEventsVersion", '"0.1"')


def test_legacy_envelope_content_type_must_be_json() -> None:
    assert_refused({**REFERENCE_BODY, "contentType": "text/xml"}, "/contentType", "JSON")


@pytest.mark.parametrize("extensions", [[], "ownerId", 1, True])
def test_legacy_extensions_must_be_an_object(extensions: object) -> None:
    assert_refused({**REFERENCE_BODY, "extensions": extensions}, "/extensions", "an object")


def test_legacy_event_type_version_is_not_kept() -> None:
    event = parse({**REFERENCE_BODY, "eventTypeVersion": "2.0.0"})
    assert "eventTypeVersion" not in event.extensions


# -- rules common to every form ------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_a_tenant_id_in_the_payload_is_ignored(form: str) -> None:
    body = payload(form)
    body["tenantid" if form == "cloud" else "tenantId"] = "other-tenant"
    body.setdefault("extensions", {})["tenantId"] = "other-tenant"
    event = parse(body)
    assert event.tenant_id == TENANT
    assert "tenantId" not in event.extensions
    assert "tenantid" not in event.extensions


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("event_type", ["com.qlik.v1.app.unknown", "", "COM.QLIK.V1.APP.CREATED"])
def test_an_unknown_event_type_is_refused(form: str, event_type: str) -> None:
    assert_refused(payload(form, type=event_type), where(form, "type"), "unknown event type")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("event_type", [5, ["com.qlik.v1.app.created"], nested(2000)])
def test_an_event_type_that_is_not_a_string_is_refused(form: str, event_type: object) -> None:
    assert_refused(payload(form, type=event_type), where(form, "type"), "must be a string")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "event_type",
    [
        "hookline.webhook.disabled",
        "hookline.delivery.exhausted",
        "hookline.webhook.recovered",
        "hookline.x",
    ],
)
def test_hooklines_own_event_types_cannot_be_published(form: str, event_type: str) -> None:
    assert_refused(
        payload(form, type=event_type),
        where(form, "type"),
        "is reserved: hookline.* events are raised by hookline only",
    )


def test_a_reserved_type_in_a_list_is_refused_at_its_index() -> None:
    body = [{"type": APP_CREATED}, {"type": APP_DELETED}, {"type": "hookline.webhook.disabled"}]
    assert [problem.field for problem in problems_of(body, many=True)] == ["/2/type"]


@pytest.mark.parametrize("form", FORMS)
def test_every_catalog_type_but_hooklines_own_is_accepted(form: str) -> None:
    for event_type in CATALOG.all():
        if not event_type.name.startswith("hookline."):
            assert parse(payload(form, type=event_type.name)).type == event_type.name


@pytest.mark.parametrize("form", ["short", "legacy"])
def test_each_event_without_an_id_gets_a_new_uuid4(form: str) -> None:
    first, second = parse(payload(form)), parse(payload(form, id=None))
    assert uuid.UUID(first.id).version == uuid.UUID(second.id).version == 4
    assert first.id != second.id


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "value", ["a", "x" * MAX_ID_LENGTH, "e65c1481-e8a-4be", "イベント 1", "id with spaces"]
)
def test_ids_of_printable_text_are_accepted(form: str, value: str) -> None:
    for name in ("id", *OPTIONAL_IDS):
        event = parse(payload(form, **{name: value}))
        assert getattr(event, name) == value


BAD_IDS = [
    ("", "1 to 200 characters"),
    ("x" * (MAX_ID_LENGTH + 1), "1 to 200 characters"),
    (5, "must be a string"),
    (["a"], "must be a string"),
    ("a\x00b", "NUL"),
    ("a\ud800b", "unpaired surrogates"),
    ("line\nbreak", "printable"),
    ("tab\there", "printable"),
    ("zero\u200bwidth", "printable"),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", ["id", *OPTIONAL_IDS])
@pytest.mark.parametrize(("value", "message"), BAD_IDS)
def test_a_bad_id_is_refused_with_its_pointer(
    form: str, name: str, value: object, message: str
) -> None:
    assert_refused(payload(form, **{name: value}), where(form, name), message)


@pytest.mark.parametrize("form", FORMS)
def test_null_optional_ids_are_absent(form: str) -> None:
    event = parse(payload(form, **dict.fromkeys(OPTIONAL_IDS)))
    assert all(getattr(event, name) is None for name in OPTIONAL_IDS)


@pytest.mark.parametrize("form", ["short", "legacy"])
def test_source_defaults_to_hookline(form: str) -> None:
    assert parse(payload(form)).source == "hookline"
    assert parse(payload(form, source=None)).source == "hookline"


@pytest.mark.parametrize("form", FORMS)
def test_source_of_up_to_the_maximum_length_is_kept(form: str) -> None:
    source = "s" * MAX_SOURCE_LENGTH
    assert parse(payload(form, source=source)).source == source


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "1 to 1024 characters"),
        ("s" * (MAX_SOURCE_LENGTH + 1), "1 to 1024 characters"),
        ({"uri": "x"}, "must be a string"),
        ("a\x00", "NUL"),
        ("\udfff", "unpaired surrogates"),
    ],
)
def test_a_bad_source_is_refused(form: str, value: object, message: str) -> None:
    assert_refused(payload(form, source=value), where(form, "source"), message)


# -- time --------------------------------------------------------------------------------


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-03-08T14:51:29Z", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08T14:51:29.316Z", utc(2021, 3, 8, 14, 51, 29, 316000)),
        ("2021-03-08T14:51:29.3167Z", utc(2021, 3, 8, 14, 51, 29, 316000)),
        ("2021-03-08T14:51:29.123456789Z", utc(2021, 3, 8, 14, 51, 29, 123000)),
        ("2021-03-08T23:51:29+09:00", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08T09:51:29-0500", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08T09:51:29-05", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08T14:51:29+00:00", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08t14:51:29z", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08 14:51:29Z", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-08T14:51Z", utc(2021, 3, 8, 14, 51)),
        ("2021-03-08T14:51:29", utc(2021, 3, 8, 14, 51, 29)),
        ("2021-03-09T00:30:00+01:00", utc(2021, 3, 8, 23, 30)),
    ],
)
@pytest.mark.parametrize("form", FORMS)
def test_time_is_read_as_rfc3339_and_stored_in_utc_to_the_millisecond(
    form: str, text: str, expected: datetime
) -> None:
    moment = parse(payload(form, time=text)).time
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2021-03-08",
        "14:51:29Z",
        "yesterday",
        "",
        "20210308T145129Z",
        "2021-03-08T25:00:00Z",
        "2021-02-30T00:00:00Z",
        "2021-03-08T14:51:29+24:00",
        "2021-03-08T14:51:29 Z",
        "2021-03-08T14:51:29.Z",
        "２０２１-03-08T14:51:29Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
@pytest.mark.parametrize("form", FORMS)
def test_a_time_that_is_not_a_date_time_is_refused(form: str, text: str) -> None:
    assert_refused(payload(form, time=text), where(form, "time"), "date-time")


@pytest.mark.parametrize("value", [1615215089, 1615215089.5, True, {"iso": "2021-03-08"}])
def test_a_time_that_is_not_a_string_is_refused(value: object) -> None:
    assert_refused({"type": APP_CREATED, "time": value}, "/time", "date-time")


def test_time_defaults_to_now_cut_to_the_millisecond() -> None:
    now = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert parse({"type": APP_CREATED}, now=now).time == utc(2024, 5, 6, 7, 8, 9, 123000)


def test_a_naive_now_is_taken_as_utc() -> None:
    moment = parse({"type": APP_CREATED}, now=datetime(2024, 5, 6, 7, 8, 9)).time
    assert moment == utc(2024, 5, 6, 7, 8, 9)
    assert moment.tzinfo is UTC


def test_now_in_another_zone_is_stored_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    moment = parse({"type": APP_CREATED}, now=datetime(2024, 5, 6, 16, 8, 9, tzinfo=tokyo)).time
    assert moment == utc(2024, 5, 6, 7, 8, 9)
    assert moment.tzinfo is UTC


# -- data and extension values -------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "data",
    [
        {"id": "app-1", "status": "ok", "nested": {"list": [1, 2.5, True, None, "x"]}},
        [1, 2, 3],
        "text",
        0,
        False,
        [],
        {},
        2**64 - 1,
        -(2**63),
        1e308,
        {"": {"a/b": {"~": "日本語"}}},
    ],
)
def test_any_json_data_is_kept(form: str, data: object) -> None:
    assert parse(payload(form, data=data)).data == data


@pytest.mark.parametrize("form", FORMS)
def test_absent_or_null_data_is_an_empty_object(form: str) -> None:
    assert parse(payload(form)).data == {}
    assert parse(payload(form, data=None)).data == {}


def test_data_nested_up_to_the_maximum_depth_is_kept() -> None:
    data = nested(MAX_JSON_DEPTH)
    assert parse({"type": APP_CREATED, "data": data}).data == data


def test_data_nested_deeper_is_refused_where_it_goes_too_deep() -> None:
    problems = problems_of({"type": APP_CREATED, "data": nested(MAX_JSON_DEPTH + 1)})
    assert [problem.field for problem in problems] == ["/data" + "/0" * (MAX_JSON_DEPTH + 1)]
    assert "nested more than 100 levels" in problems[0].message


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"a": ["ok", "n\x00l"]}, "/a/1", "NUL"),
        ({"a": {"b": "\ud83d"}}, "/a/b", "unpaired surrogates"),
        ({"bad\x00name": 1}, "/bad\x00name", "member name must not contain NUL"),
        ({"a/b": {"~c": "\x00"}}, "/a~1b/~0c", "NUL"),
        ({"big": 2**64}, "/big", "64 bits"),
        ({"small": -(2**63) - 1}, "/small", "64 bits"),
        ({"x": float("nan")}, "/x", "finite"),
        ([float("inf")], "/0", "finite"),
        ({1: "not a JSON name"}, "/1", "names must be strings"),
        ({"when": datetime(2021, 3, 8)}, "/when", "must be JSON"),
        ({"pair": (1, 2)}, "/pair", "must be JSON"),
        ({"raw": b"bytes"}, "/raw", "must be JSON"),
        ({"set": {1}}, "/set", "must be JSON"),
    ],
)
def test_data_that_is_not_storable_json_is_refused_at_its_pointer(
    form: str, data: object, field: str, message: str
) -> None:
    assert_refused(payload(form, data=data), where(form, "data") + field, message)


def test_legacy_extension_values_are_checked_with_their_pointer() -> None:
    body = {"eventType": APP_CREATED, "extensions": {"region": {"code": 2**70}}}
    assert_refused(body, "/extensions/region/code", "64 bits")


def test_every_problem_is_reported_at_once() -> None:
    body = {
        "specversion": "0.3",
        "type": "unknown",
        "time": "later",
        "userid": "",
        "data": {"x": float("nan")},
    }
    assert [problem.field for problem in problems_of(body)] == [
        "/specversion",
        "/id",
        "/source",
        "/type",
        "/data/x",
        "/time",
        "/userid",
    ]


@pytest.mark.parametrize("body", [None, "event", 5, True, [{"type": APP_CREATED}]])
def test_parse_event_needs_a_json_object(body: object) -> None:
    assert_refused(body, "/", "must be a JSON object")


# -- a list of events ----------------------------------------------------------------------


def test_one_object_is_a_list_of_one_event() -> None:
    assert [event.id for event in parse_many({"type": APP_CREATED, "id": "e1"})] == ["e1"]


def test_a_list_may_mix_the_three_forms_and_keeps_their_order() -> None:
    events = parse_many(
        [payload("short", id="e1"), payload("cloud", id="e2"), payload("legacy", id="e3")]
    )
    assert [event.id for event in events] == ["e1", "e2", "e3"]


def test_a_list_of_the_maximum_size_is_accepted() -> None:
    assert len(parse_many([{"type": APP_CREATED}] * MAX_EVENTS)) == MAX_EVENTS


@pytest.mark.parametrize(
    "body", [[], [{"type": APP_CREATED}] * (MAX_EVENTS + 1), "events", 5, None, True]
)
def test_an_empty_or_too_long_list_or_no_event_is_refused_at_the_root(body: object) -> None:
    problems = problems_of(body, many=True)
    assert [problem.field for problem in problems] == ["/"]
    assert "1 to 1000" in problems[0].message


def test_problems_inside_a_list_carry_the_index_of_their_event() -> None:
    body = [
        {"type": APP_CREATED},
        {"type": APP_CREATED},
        "not an event",
        {"type": "unknown"},
        {"eventType": APP_CREATED, "extensions": {"userId": "\x00"}},
    ]
    problems = problems_of(body, many=True)
    assert [(problem.field, problem.message) for problem in problems] == [
        ("/2", "must be a JSON object"),
        ("/3/type", "unknown event type 'unknown'"),
        ("/4/extensions/userId", "must not contain NUL characters"),
    ]


def test_the_same_id_twice_in_one_request_is_accepted() -> None:
    events = parse_many([{"type": APP_CREATED, "id": "e1"}, {"type": APP_DELETED, "id": "e1"}])
    assert [event.id for event in events] == ["e1", "e1"]


def test_events_of_a_list_without_ids_get_distinct_ones() -> None:
    events = parse_many([{"type": APP_CREATED}] * 10)
    assert len({event.id for event in events}) == 10
