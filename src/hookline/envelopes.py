"""The body of a delivery: an event as compact JSON, in one of two envelopes (SPEC 5.1).

The legacy envelope (the default, as Qlik Cloud sends it)::

    {"cloudEventsVersion":"0.1","source":"com.qlik/engine","contentType":"application/json",
     "eventId":"…","eventTime":"2021-03-08T14:51:29Z","eventTypeVersion":"1.0.0",
     "eventType":"com.qlik.v1.app.deleted",
     "extensions":{"ownerId":"…","tenantId":"…","userId":"…","spaceId":"…",
                   "topLevelResourceId":"…", …other extensions},
     "data":{…}}

CloudEvents 1.0 structured JSON (webhooks with ``enableCloudEventDelivery``)::

    {"id":"…","source":"…","specversion":"1.0","type":"…","time":"…",
     "datacontenttype":"application/json","data":{…},"tenantid":"…","userid":"…",
     "ownerid":"…","spaceid":"…","toplevelresourceid":"…", …other extensions}

Ids the event does not have are left out (never ``null``). Other extensions follow in
name order, lower-cased in CloudEvents; none may replace an attribute written before it.
Times are RFC 3339 in UTC with ``Z``, with milliseconds only when they are not zero.

The same event always renders to the same bytes, however its dictionaries are ordered
(a resend carries the body of the first delivery): members of ``data`` and of extension
values are written in name order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from hookline.events import Event, as_utc


def render(event: Event, *, cloud_events: bool) -> bytes:
    """The delivery body of ``event``: CloudEvents 1.0 if ``cloud_events``, else legacy."""
    envelope = _cloud_event(event) if cloud_events else _legacy(event)
    return orjson.dumps(envelope)


def rfc3339(moment: datetime) -> str:
    """``2021-03-08T14:51:29Z``, or ``2021-03-08T14:51:29.123Z``; naive means UTC."""
    utc = as_utc(moment).replace(tzinfo=None)
    precision = "milliseconds" if utc.microsecond >= 1000 else "seconds"
    return utc.isoformat(timespec=precision) + "Z"


def _legacy(event: Event) -> dict[str, Any]:
    extensions = _present(
        {
            "ownerId": event.owner_id,
            "tenantId": event.tenant_id,
            "userId": event.user_id,
            "spaceId": event.space_id,
            "topLevelResourceId": event.top_level_resource_id,
        }
    )
    return {
        "cloudEventsVersion": "0.1",
        "source": event.source,
        "contentType": "application/json",
        "eventId": event.id,
        "eventTime": rfc3339(event.time),
        "eventTypeVersion": "1.0.0",
        "eventType": event.type,
        "extensions": _with_extensions(extensions, event.extensions, lower=False),
        "data": _sorted_json(event.data),
    }


def _cloud_event(event: Event) -> dict[str, Any]:
    attributes = {
        "id": event.id,
        "source": event.source,
        "specversion": "1.0",
        "type": event.type,
        "time": rfc3339(event.time),
        "datacontenttype": "application/json",
        "data": _sorted_json(event.data),
        **_present(
            {
                "tenantid": event.tenant_id,
                "userid": event.user_id,
                "ownerid": event.owner_id,
                "spaceid": event.space_id,
                "toplevelresourceid": event.top_level_resource_id,
            }
        ),
    }
    return _with_extensions(attributes, event.extensions, lower=True)


def _present(ids: dict[str, str | None]) -> dict[str, Any]:
    return {name: value for name, value in ids.items() if value is not None}


def _with_extensions(
    attributes: dict[str, Any], extensions: dict[str, Any], *, lower: bool
) -> dict[str, Any]:
    for name in sorted(extensions):
        attributes.setdefault(name.lower() if lower else name, _sorted_json(extensions[name]))
    return attributes


def _sorted_json(value: Any) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
