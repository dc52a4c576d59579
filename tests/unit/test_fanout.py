from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hookline.events import Event, from_record, to_record
from hookline.fanout import deleted_owner, delivery
from tests.store.factories import webhook

AT = datetime(2026, 1, 1, tzinfo=UTC)
APP_CREATED = "com.qlik.v1.app.created"


def _event(event_id: str, type_: str = APP_CREATED, data: object = None) -> Event:
    return Event(
        id=event_id, tenant_id="t1", type=type_, time=AT, source="s", data=data or {"id": "a"}
    )


def test_a_delivery_is_due_at_once_in_its_webhooks_envelope() -> None:
    cloud = webhook("t1", 2, enable_cloud_event_delivery=True)
    made = delivery(_event("e1"), cloud, AT)
    assert (made.tenant_id, made.webhook_id, made.event_id) == ("t1", cloud.id, "e1")
    assert made.cloud_events is True
    assert made.triggered_at == made.next_attempt_at == AT
    assert delivery(_event("e1"), webhook("t1", 1), AT).cloud_events is False


def test_only_a_user_deletion_names_a_user_whose_webhooks_go() -> None:
    assert deleted_owner(_event("e1", "com.qlik.v1.user.deleted")) == "a"
    assert deleted_owner(_event("e1", "com.qlik.v1.user.deleted", {"id": 7})) is None
    assert deleted_owner(_event("e1")) is None


_ids = st.none() | st.text(min_size=1, max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(
    data=_json,
    ids=st.tuples(_ids, _ids, _ids, _ids),
    extensions=st.dictionaries(st.text(min_size=1, max_size=8), _json, max_size=3),
    milliseconds=st.integers(0, 10**11),
)
def test_a_stored_event_reads_back_the_same(
    data: object,
    ids: tuple[str | None, str | None, str | None, str | None],
    extensions: dict[str, object],
    milliseconds: int,
) -> None:
    event = Event(
        id="e1",
        tenant_id="t1",
        type=APP_CREATED,
        time=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds),
        source="s",
        data=data,
        user_id=ids[0],
        owner_id=ids[1],
        space_id=ids[2],
        top_level_resource_id=ids[3],
        extensions=extensions,
    )
    assert from_record("t1", "e1", APP_CREATED, to_record(event)) == event
