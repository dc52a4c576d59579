from __future__ import annotations

import json
from datetime import UTC, datetime

from hookline.events import Event
from hookline.publishing import plan
from tests.store.factories import webhook

AT = datetime(2026, 1, 1, tzinfo=UTC)
APP_CREATED = "com.qlik.v1.app.created"


def _event(event_id: str, type_: str = APP_CREATED, owner_id: str | None = None) -> Event:
    return Event(
        id=event_id,
        tenant_id="t1",
        type=type_,
        time=AT,
        source="s",
        data={"id": "a"},
        owner_id=owner_id,
    )


def test_each_event_makes_one_due_delivery_per_webhook_it_reaches() -> None:
    legacy = webhook("t1", 1)
    cloud = webhook("t1", 2, enable_cloud_event_delivery=True)
    someone_elses = webhook("t1", 3, level="user", owner_id="bob")
    filtered_out = webhook("t1", 4, filter='id eq "other"')
    planned = plan(
        [_event("e1", owner_id="alice")], [legacy, cloud, someone_elses, filtered_out], AT
    )

    assert sorted(d.webhook_id for d in planned.deliveries) == sorted([legacy.id, cloud.id])
    by_hook = {d.webhook_id: d for d in planned.deliveries}
    assert json.loads(by_hook[legacy.id].body)["eventId"] == "e1"
    assert json.loads(by_hook[cloud.id].body)["specversion"] == "1.0"
    assert all(d.next_attempt_at == AT and d.triggered_at == AT for d in planned.deliveries)
    assert planned.deleted_owners == frozenset()


def test_a_user_deletion_names_the_user_whose_webhooks_go() -> None:
    planned = plan([_event("e1", "com.qlik.v1.user.deleted")], [], AT)
    assert planned.deleted_owners == frozenset({"a"})
    assert planned.deliveries == []
