"""Tests for hookline.api.limits.json_depth: how deeply a JSON text nests, read from bytes."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.api.limits import json_depth

# Text made of what could confuse a byte scanner: brackets, quotes and backslashes.
tricky_text = st.text(st.sampled_from('ab[]{}"\\:, \u00e9'), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | tricky_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3)
    ),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b'"[[{"', 0),
        (b"[]", 1),
        (b'[{"a": [1, {}]}]', 4),
        (b'["\\\\"]', 1),
        (b'["\\\\", "[["]', 1),
        (b'{"a\\"[": ["]\\\\\\""]}', 2),
        (b"[" * 100_000 + b"]" * 100_000, 100_000),
    ],
)
def test_depth_counts_arrays_and_objects_but_not_brackets_in_strings(
    text: bytes, depth: int
) -> None:
    assert json_depth(text) == depth


@given(value=json_values)
def test_depth_of_any_json_text_is_that_of_its_value(value: Any) -> None:
    assert json_depth(orjson.dumps(value)) == depth_of(value)
    assert json_depth(json.dumps(value, indent=2).encode()) == depth_of(value)
