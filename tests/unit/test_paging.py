"""Tests for hookline.paging: sort parameters and opaque cursors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.errors import InvalidInput, Problem
from hookline.paging import Cursor, Sort, decode_cursor, encode_cursor, parse_sort

KEYS = ("name", "url", "createdAt", "updatedAt")
DEFAULT = Sort("createdAt", descending=True)
SORT_PROBLEM = Problem(
    "sort", "must be one of name, url, createdAt, updatedAt, optionally prefixed by + or -"
)


def cursor_text(payload: object) -> str:
    """A cursor made by hand from any JSON payload."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def refused_cursor(text: str, sort: Sort = DEFAULT) -> Problem:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(text, "next", sort)
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


# -- sort ----------------------------------------------------------------------------------


def test_absent_sort_is_the_default() -> None:
    assert parse_sort(None, KEYS, DEFAULT) is DEFAULT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name", Sort("name", descending=False)),
        ("+name", Sort("name", descending=False)),
        ("-name", Sort("name", descending=True)),
        ("createdAt", Sort("createdAt", descending=False)),
        ("-updatedAt", Sort("updatedAt", descending=True)),
        ("+url", Sort("url", descending=False)),
    ],
)
def test_sort_key_with_optional_direction_is_parsed(text: str, expected: Sort) -> None:
    assert parse_sort(text, KEYS, DEFAULT) == expected


def test_sort_with_plus_decoded_as_space_from_a_query_string_is_ascending() -> None:
    # "?sort=+name" reaches the API as " name": form decoding turns "+" into a space.
    assert parse_sort(" name", KEYS, DEFAULT) == Sort("name", descending=False)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "Name",
        "createdat",
        "unknown",
        "--name",
        "++name",
        "+-name",
        "-+name",
        "-",
        "+",
        "name-",
        "name,url",
        "  name",
        "name ",
        "id",
    ],
)
def test_unknown_or_malformed_sort_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_sort(text, KEYS, DEFAULT)
    assert caught.value.problems == [SORT_PROBLEM]


def test_sort_renders_with_explicit_direction() -> None:
    assert str(Sort("name", descending=False)) == "+name"
    assert str(Sort("createdAt", descending=True)) == "-createdAt"


@given(key=st.sampled_from(KEYS), prefix=st.sampled_from(["", "+", "-"]))
def test_parsed_sort_renders_back_to_its_text(key: str, prefix: str) -> None:
    parsed = parse_sort(prefix + key, KEYS, DEFAULT)
    assert str(parsed) == (prefix or "+") + key
    assert parse_sort(str(parsed), KEYS, DEFAULT) == parsed


# -- cursors -------------------------------------------------------------------------------


def test_cursor_round_trips() -> None:
    cursor = Cursor(DEFAULT, "2024-05-01T12:00:00+00:00", "5b0c7c6e-id", backward=False)
    assert decode_cursor(encode_cursor(cursor), "next", DEFAULT) == cursor


def test_encoded_cursor_is_url_safe_without_padding() -> None:
    cursor = Cursor(Sort("name", descending=False), "ü?/+=&" * 5, "id", backward=True)
    text = encode_cursor(cursor)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_made_for_another_sort_is_refused() -> None:
    text = encode_cursor(Cursor(Sort("name", descending=False), "a", "id", backward=False))
    assert refused_cursor(text, Sort("name", descending=True)) == Problem(
        "next", "was made for sort +name, not -name"
    )
    assert refused_cursor(text, Sort("url", descending=False)) == Problem(
        "next", "was made for sort +name, not +url"
    )


def test_cursor_problem_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor("!!!", "prev", DEFAULT)
    assert caught.value.problems == [Problem("prev", "is not a valid cursor")]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!!",
        "é",
        "a",
        "bm90IGpzb24",  # "not json"
        cursor_text(None),
        cursor_text({}),
        cursor_text([]),
        cursor_text(["-createdAt", "v", "id"]),
        cursor_text(["-createdAt", "v", "id", False, "extra"]),
        cursor_text(["", "v", "id", False]),
        cursor_text([5, "v", "id", False]),
        cursor_text(42),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
    ],
)
def test_garbage_cursor_is_refused(text: str) -> None:
    problem = refused_cursor(text)
    assert problem.field == "next"


@given(
    sort=st.builds(Sort, st.sampled_from(KEYS), st.booleans()),
    value=st.text(),
    row_id=st.text(),
    backward=st.booleans(),
)
def test_any_cursor_round_trips(sort: Sort, value: str, row_id: str, backward: bool) -> None:
    cursor = Cursor(sort, value, row_id, backward)
    text = encode_cursor(cursor)
    assert "=" not in text
    assert decode_cursor(text, "next", sort) == cursor


def problem_fields(text: str, *, time_sort: bool = False) -> list[str]:
    """The fields named by decoding ``text``; any exception but InvalidInput propagates."""
    try:
        decode_cursor(text, "next", DEFAULT, time_sort=time_sort)
    except InvalidInput as error:
        return [problem.field for problem in error.problems]
    return []


@given(st.text())
def test_decode_cursor_only_ever_raises_invalid_input(text: str) -> None:
    assert problem_fields(text) in ([], ["next"])


@given(st.binary())
def test_decode_cursor_of_any_bytes_only_ever_raises_invalid_input(raw: bytes) -> None:
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert problem_fields(text) in ([], ["next"])


# -- cursors on a time sort ----------------------------------------------------------------


def test_time_sort_cursor_round_trips_as_an_aware_datetime() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    cursor = Cursor(DEFAULT, at, "row-1", backward=False)
    decoded = decode_cursor(encode_cursor(cursor), "next", DEFAULT, time_sort=True)
    assert decoded == cursor
    assert isinstance(decoded.value, datetime)
    assert decoded.value.utcoffset() == timedelta(0)


def test_time_sort_cursor_is_plain_text_when_not_read_as_time() -> None:
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    text = encode_cursor(Cursor(DEFAULT, at, "row-1", backward=True))
    assert decode_cursor(text, "next", DEFAULT).value == at.isoformat()


@pytest.mark.parametrize("value", ["noon", "", "2024-13-01T00:00:00", 5, None, ["2024"]])
def test_time_sort_cursor_with_a_value_that_is_not_a_time_is_refused(value: object) -> None:
    text = cursor_text(["-createdAt", value, "row-1", False])
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(text, "next", DEFAULT, time_sort=True)
    assert caught.value.problems == [Problem("next", "is not a valid cursor")]


@given(
    at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9))])),
    row_id=st.text(),
    backward=st.booleans(),
)
def test_any_time_cursor_round_trips(at: datetime, row_id: str, backward: bool) -> None:
    cursor = Cursor(Sort("updatedAt", descending=False), at, row_id, backward)
    text = encode_cursor(cursor)
    assert decode_cursor(text, "prev", cursor.sort, time_sort=True) == cursor


@given(st.binary())
def test_decode_time_cursor_of_any_bytes_only_ever_raises_invalid_input(raw: bytes) -> None:
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert problem_fields(text, time_sort=True) in ([], ["next"])
