"""Events as the store keeps them: a stored event reads back the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hookline.events import Event, from_record, to_record

APP_CREATED = "com.qlik.v1.app.created"

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
