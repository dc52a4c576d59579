"""Tests for hookline.envelopes: the legacy and CloudEvents bodies of a delivery (SPEC 5.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.catalog import load_catalog
from hookline.envelopes import render, rfc3339
from hookline.events import (
    MAX_ID_LENGTH,
    MAX_SOURCE_LENGTH,
    Event,
    parse_event,
)
from tests.unit.test_events import REFERENCE_BODY

CATALOG = load_catalog()
TIME = datetime(2021, 3, 8, 14, 51, 29, tzinfo=UTC)
APP_CREATED = "com.qlik.v1.app.created"


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "id": "event-1",
        "tenant_id": "tenant-1",
        "type": APP_CREATED,
        "time": TIME,
        "source": "com.example/apps",
        "data": {"id": "app-1"},
    }
    values.update(fields)
    return Event(**values)


def parse_back(body: bytes, tenant_id: str) -> Event:
    return parse_event(orjson.loads(body), tenant_id=tenant_id, catalog=CATALOG, now=TIME)


# -- the legacy envelope -------------------------------------------------------------------


def test_legacy_envelope_of_the_reference_example_is_its_body_in_compact_json() -> None:
    tenant_id = REFERENCE_BODY["extensions"]["tenantId"]
    body = render(parse_back(orjson.dumps(REFERENCE_BODY), tenant_id), cloud_events=False)
    assert body == (
        b'{"cloudEventsVersion":"0.1","source":"com.qlik/engine",'
        b'"contentType":"application/json","eventId":"e65c1481-e8a-4be-a5ca-27dfcde077d7",'
        b'"eventTime":"2021-03-08T14:51:29Z","eventTypeVersion":"1.0.0",'
        b'"eventType":"com.qlik.v1.app.deleted",'
        b'"extensions":{"ownerId":"vNRGrDZIypJzauw59BbpvkRhqbmI",'
        b'"tenantId":"oZcMPa_1PwH4FUdrh6839YHHdEJN","userId":"vNRGrDZIypJtcGTzauw59BbpqbmI"},'
        b'"data":{"attributes":{"createdDate":"2021-03-08T14:51:28.888Z",'
        b'"hasSectionAccess":false,"id":"0984fec4-aa8c-4253-b1d1-4fd4f9c78","modifiedDate":'
        b'"2021-03-08T14:51:29.316Z","name":"New App","owner":'
        b'"auth0|b62a17c577a4abe6e807b07d18c4d82286352542d633d120100b03fb11",'
        b'"ownerId":"vNRGrDZIypJtcGTzauw59BbpvbmI","published":false}}}'
    )
    assert orjson.loads(body) == REFERENCE_BODY


def test_legacy_envelope_carries_every_id_and_then_other_extensions_by_name() -> None:
    body = render(
        event(
            user_id="user-1",
            owner_id="owner-1",
            space_id="space-1",
            top_level_resource_id="resource-1",
            extensions={"zone": "eu", "attempt": {"b": 1, "a": 2}},
        ),
        cloud_events=False,
    )
    assert b'"extensions":{"ownerId":"owner-1","tenantId":"tenant-1","userId":"user-1",' in body
    assert b'"spaceId":"space-1","topLevelResourceId":"resource-1",' in body
    assert b'"attempt":{"a":2,"b":1},"zone":"eu"},"data"' in body


def test_legacy_envelope_leaves_out_absent_ids() -> None:
    envelope = orjson.loads(render(event(), cloud_events=False))
    assert envelope["extensions"] == {"tenantId": "tenant-1"}


def test_legacy_extensions_cannot_replace_the_ids() -> None:
    tricky = {"tenantId": "other", "ownerId": "other", "eventId": "x"}
    envelope = orjson.loads(
        render(event(owner_id="owner-1", extensions=tricky), cloud_events=False)
    )
    assert envelope["eventId"] == "event-1"
    assert envelope["extensions"] == {"ownerId": "owner-1", "tenantId": "tenant-1", "eventId": "x"}


# -- CloudEvents ---------------------------------------------------------------------------


def test_cloud_event_is_structured_json_with_lower_case_extension_attributes() -> None:
    body = render(
        event(
            user_id="user-1",
            owner_id="owner-1",
            space_id="space-1",
            top_level_resource_id="resource-1",
            extensions={"traceParent": "00-abc-01", "subject": "app-1"},
        ),
        cloud_events=True,
    )
    assert body == (
        b'{"id":"event-1","source":"com.example/apps","specversion":"1.0",'
        b'"type":"com.qlik.v1.app.created","time":"2021-03-08T14:51:29Z",'
        b'"datacontenttype":"application/json","data":{"id":"app-1"},"tenantid":"tenant-1",'
        b'"userid":"user-1","ownerid":"owner-1","spaceid":"space-1",'
        b'"toplevelresourceid":"resource-1","subject":"app-1","traceparent":"00-abc-01"}'
    )


def test_cloud_event_leaves_out_absent_ids() -> None:
    envelope = orjson.loads(render(event(), cloud_events=True))
    assert set(envelope) == {
        "id",
        "source",
        "specversion",
        "type",
        "time",
        "datacontenttype",
        "data",
        "tenantid",
    }


def test_cloud_event_extensions_cannot_replace_attributes() -> None:
    tricky = {"ID": "x", "tenantid": "other", "Data": [], "specversion": "0.3", "userid": "u"}
    envelope = orjson.loads(render(event(user_id="user-1", extensions=tricky), cloud_events=True))
    assert (envelope["id"], envelope["tenantid"], envelope["userid"]) == (
        "event-1",
        "tenant-1",
        "user-1",
    )
    assert (envelope["data"], envelope["specversion"]) == ({"id": "app-1"}, "1.0")


# -- both envelopes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2021, 3, 8, 14, 51, 29, tzinfo=UTC), "2021-03-08T14:51:29Z"),
        (datetime(2021, 3, 8, 14, 51, 29, 123000, tzinfo=UTC), "2021-03-08T14:51:29.123Z"),
        (datetime(2021, 3, 8, 14, 51, 29, 123999, tzinfo=UTC), "2021-03-08T14:51:29.123Z"),
        (datetime(2021, 3, 8, 14, 51, 29, 1000, tzinfo=UTC), "2021-03-08T14:51:29.001Z"),
        (datetime(2021, 3, 8, 14, 51, 29, 999, tzinfo=UTC), "2021-03-08T14:51:29Z"),
        (
            datetime(2021, 3, 8, 23, 51, 29, tzinfo=timezone(timedelta(hours=9))),
            "2021-03-08T14:51:29Z",
        ),
        (datetime(2021, 3, 8, 14, 51, 29), "2021-03-08T14:51:29Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_time_is_rfc3339_utc_with_milliseconds_only_when_not_zero(
    moment: datetime, text: str
) -> None:
    assert rfc3339(moment) == text
    assert orjson.loads(render(event(time=moment), cloud_events=True))["time"] == text
    assert orjson.loads(render(event(time=moment), cloud_events=False))["eventTime"] == text


@pytest.mark.parametrize("cloud_events", [False, True])
def test_body_is_compact_utf8_json(cloud_events: bool) -> None:
    body = render(event(data={"name": "アプリ", "list": [1, 2]}), cloud_events=cloud_events)
    assert b" " not in body
    assert "アプリ".encode() in body
    assert orjson.dumps(orjson.loads(body)) == body


@pytest.mark.parametrize("cloud_events", [False, True])
def test_body_does_not_depend_on_the_order_of_dictionaries(cloud_events: bool) -> None:
    data = {"b": {"y": 1, "x": 2}, "a": [{"d": 1, "c": 2}]}
    reordered = {"a": [{"c": 2, "d": 1}], "b": {"x": 2, "y": 1}}
    extensions = {"zeta": {"q": 1, "p": 2}, "alpha": 1}
    first = render(event(data=data, extensions=extensions), cloud_events=cloud_events)
    second = render(
        event(data=reordered, extensions=dict(reversed(extensions.items()))),
        cloud_events=cloud_events,
    )
    assert first == second
    assert first == render(event(data=data, extensions=extensions), cloud_events=cloud_events)


# -- round trips ---------------------------------------------------------------------------

printable = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S"))
ids = st.text(printable, min_size=1, max_size=MAX_ID_LENGTH)
optional_ids = st.none() | ids
storable_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4)
    ),
    max_leaves=12,
)
times = st.datetimes(timezones=st.just(UTC)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
)
RESERVED_CLOUD_EVENT_NAMES = {
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "datacontenttype",
    "data",
    "data_base64",
    "tenantid",
    "userid",
    "ownerid",
    "spaceid",
    "toplevelresourceid",
}
RESERVED_LEGACY_NAMES = {"ownerId", "tenantId", "userId", "spaceId", "topLevelResourceId"}
cloud_event_extension_names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(
    lambda name: name not in RESERVED_CLOUD_EVENT_NAMES
)
legacy_extension_names = storable_text.filter(lambda name: name not in RESERVED_LEGACY_NAMES)
non_null = json_values.filter(lambda value: value is not None)


# The types that parse: hookline's own (hookline.*) are rendered too, but nobody publishes them.
PUBLISHABLE_TYPES = [t.name for t in CATALOG.all() if not t.name.startswith("hookline.")]


def events(extension_names: st.SearchStrategy[str]) -> st.SearchStrategy[Event]:
    return st.builds(
        Event,
        id=ids,
        tenant_id=ids,
        type=st.sampled_from(PUBLISHABLE_TYPES),
        time=times,
        source=st.text(printable, min_size=1, max_size=MAX_SOURCE_LENGTH),
        data=non_null,
        user_id=optional_ids,
        owner_id=optional_ids,
        space_id=optional_ids,
        top_level_resource_id=optional_ids,
        extensions=st.dictionaries(extension_names, non_null, max_size=4),
    )


@given(events(cloud_event_extension_names))
def test_an_event_rendered_as_a_cloud_event_parses_back_to_itself(original: Event) -> None:
    body = render(original, cloud_events=True)
    assert parse_back(body, original.tenant_id) == original


@given(events(legacy_extension_names))
def test_an_event_rendered_as_a_legacy_envelope_parses_back_to_itself(original: Event) -> None:
    body = render(original, cloud_events=False)
    assert parse_back(body, original.tenant_id) == original


@given(events(cloud_event_extension_names), st.booleans())
def test_rendering_twice_gives_the_same_bytes(original: Event, cloud_events: bool) -> None:
    assert render(original, cloud_events=cloud_events) == render(
        parse_back(render(original, cloud_events=cloud_events), original.tenant_id),
        cloud_events=cloud_events,
    )
