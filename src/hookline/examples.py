"""Test sends: which event type a webhook's test is, and the example event it delivers.

A test send (``POST /api/v1/webhooks/{id}/actions/test``) delivers an example event of a
type the webhook subscribes to: the one asked for, else the first of its types. The event
is new (a fresh id, the time now), carries the catalog's example as its ``data``, and says
where it comes from in its ``source`` (``hookline/test``), so a receiver can tell it from
a real event.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from hookline.catalog import Catalog
from hookline.errors import InvalidInput
from hookline.events import Event
from hookline.webhooks import Webhook

TEST_SOURCE = "hookline/test"
FIELD = "/eventType"


def type_to_send(webhook: Webhook, asked: str | None, catalog: Catalog) -> str:
    """The type of ``webhook``'s test event: ``asked``, which the webhook must subscribe to,
    else the first type it subscribes to. InvalidInput when there is none to send."""
    if asked is None:
        if not webhook.event_types:
            raise InvalidInput.one(FIELD, "is required: the webhook subscribes to no event type")
        return webhook.event_types[0]
    if asked not in catalog:
        raise InvalidInput.one(FIELD, f"unknown event type {asked!r}")
    if asked not in webhook.event_types:
        raise InvalidInput.one(FIELD, f"{asked} is not one of the webhook's event types")
    return asked


def example_event(webhook: Webhook, event_type: str, catalog: Catalog, at: datetime) -> Event:
    """A new event of ``event_type`` for ``webhook``'s tenant, as if its owner caused it."""
    known = catalog.get(event_type)
    return Event(
        id=str(uuid.uuid4()),
        tenant_id=webhook.tenant_id,
        type=event_type,
        time=at,
        source=TEST_SOURCE,
        data=known.example if known else {},
        user_id=webhook.owner_id,
        owner_id=webhook.owner_id,
    )
