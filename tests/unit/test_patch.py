"""Tests for hookline.patch: the restricted JSON Patch applied to a webhook document."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.errors import InvalidInput, Problem, ReadOnlyField
from hookline.patch import Operation, apply, parse_pointer

WRITABLE = frozenset(
    {
        "name",
        "description",
        "url",
        "eventTypes",
        "headers",
        "encryptedHeaders",
        "enabled",
        "secret",
        "filter",
        "enableCloudEventDelivery",
    }
)
MAPS = frozenset({"headers", "encryptedHeaders"})
READ_ONLY = frozenset({"id", "createdAt", "updatedAt", "level", "ownerId", "origin"})


def document() -> dict[str, Any]:
    return {
        "name": "Orders",
        "description": "",
        "url": "https://hooks.example.com/a",
        "eventTypes": ["com.qlik.v1.app.created"],
        "headers": {"X-Team": "orders", "X-Env": "prod"},
        "encryptedHeaders": {},
        "enabled": True,
        "secret": None,
        "filter": None,
        "enableCloudEventDelivery": False,
    }


def op(operation: str, path: str, *value: Any) -> Operation:
    """An operation; ``value`` omitted means the member is absent, as in the JSON."""
    body: dict[str, Any] = {"op": operation, "path": path}
    if value:
        body["value"] = value[0]
    return Operation.model_validate(body)


def patched(*operations: Operation, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    return apply(
        document() if doc is None else doc,
        operations,
        writable=WRITABLE,
        maps=MAPS,
        read_only=READ_ONLY,
    )


def refusal(*operations: Operation) -> Problem:
    with pytest.raises(InvalidInput) as caught:
        patched(*operations)
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


# -- pointers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("/name", ["name"]),
        ("/headers/X-Foo", ["headers", "X-Foo"]),
        ("/", [""]),
        ("/headers/", ["headers", ""]),
        ("/a~1b", ["a/b"]),
        ("/a~0b", ["a~b"]),
        ("/a~01", ["a~1"]),
        ("/a~10", ["a/0"]),
        ("/a/b/c", ["a", "b", "c"]),
    ],
)
def test_parse_pointer_splits_and_unescapes(path: str, parts: list[str]) -> None:
    assert parse_pointer(path) == parts


@pytest.mark.parametrize("path", ["", "name", "headers/X-Foo", "#/name"])
def test_parse_pointer_refuses_path_without_leading_slash(path: str) -> None:
    with pytest.raises(ValueError, match="must be a JSON pointer starting with /"):
        parse_pointer(path)


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_parse_pointer_reverses_escaping(parts: list[str]) -> None:
    path = "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)
    assert parse_pointer(path) == parts


# -- operations on top-level fields --------------------------------------------------------


@pytest.mark.parametrize("operation", ["add", "replace"])
def test_add_or_replace_sets_a_top_level_field(operation: str) -> None:
    result = patched(op(operation, "/name", "Invoices"))
    assert result == {**document(), "name": "Invoices"}


def test_remove_clears_a_top_level_field() -> None:
    result = patched(op("remove", "/description"), op("remove", "/headers"))
    assert result == {**document(), "description": None, "headers": None}


def test_replace_sets_list_and_map_values_whole() -> None:
    result = patched(
        op("replace", "/eventTypes", ["com.qlik.v1.app.deleted"]),
        op("replace", "/headers", {"X-New": "1"}),
    )
    assert result["eventTypes"] == ["com.qlik.v1.app.deleted"]
    assert result["headers"] == {"X-New": "1"}


def test_explicit_null_value_is_a_value() -> None:
    assert patched(op("replace", "/filter", None))["filter"] is None
    assert patched(op("add", "/secret", None))["secret"] is None


def test_operations_apply_in_order() -> None:
    result = patched(
        op("replace", "/name", "first"),
        op("replace", "/name", "second"),
        op("remove", "/description"),
        op("add", "/description", "back"),
    )
    assert (result["name"], result["description"]) == ("second", "back")


def test_no_operations_return_an_equal_copy() -> None:
    original = document()
    result = patched(doc=original)
    assert result == original
    assert result is not original
    assert result["headers"] is not original["headers"]


def test_operation_ignores_unknown_members() -> None:
    operation = Operation.model_validate(
        {"op": "replace", "path": "/name", "value": "n", "from": "/x", "extra": 1}
    )
    assert patched(operation)["name"] == "n"


@pytest.mark.parametrize("operation", ["move", "copy", "test", "REPLACE", ""])
def test_operation_other_than_add_remove_replace_is_refused(operation: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Operation.model_validate({"op": operation, "path": "/name", "value": "n"})


@pytest.mark.parametrize("operation", ["add", "replace"])
def test_add_or_replace_without_value_is_refused(operation: str) -> None:
    problem = refusal(op("replace", "/name", "ok"), op(operation, "/description"))
    assert problem == Problem("/1/value", f"is required for {operation}")


# -- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/id", "/createdAt", "/level", "/ownerId", "/origin", "/id/x"])
def test_path_to_read_only_field_raises_read_only_field(path: str) -> None:
    with pytest.raises(ReadOnlyField) as caught:
        patched(op("replace", path, "x"))
    assert caught.value.field == parse_pointer(path)[0]


def test_remove_of_read_only_field_raises_read_only_field() -> None:
    with pytest.raises(ReadOnlyField):
        patched(op("remove", "/id"))


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/Name",
        "/unknown",
        "/secretKeyAdded",
        "/name/first",
        "/eventTypes/0",
        "/eventTypes/-",
        "/headers/X-Foo/extra",
        "/enabled/x",
    ],
)
def test_path_that_is_not_patchable_is_refused(path: str) -> None:
    problem = refusal(op("replace", path, "x"))
    assert problem == Problem("/0/path", f"{path} is not a patchable path")


@pytest.mark.parametrize("path", ["", "name", "headers/X-Foo"])
def test_path_that_is_not_a_json_pointer_is_refused(path: str) -> None:
    problem = refusal(op("replace", "/name", "n"), op("replace", path, "x"))
    assert problem == Problem("/1/path", "must be a JSON pointer starting with /")


# -- map members ---------------------------------------------------------------------------


def test_add_member_adds_a_header() -> None:
    result = patched(op("add", "/headers/X-Foo", "bar"))
    assert result["headers"] == {"X-Team": "orders", "X-Env": "prod", "X-Foo": "bar"}


def test_add_member_to_an_absent_map_creates_it() -> None:
    result = patched(op("add", "/encryptedHeaders/Authorization", "Bearer t"))
    assert result["encryptedHeaders"] == {"Authorization": "Bearer t"}
    cleared = patched(op("remove", "/headers"), op("add", "/headers/X-Foo", "bar"))
    assert cleared["headers"] == {"X-Foo": "bar"}


@pytest.mark.parametrize("operation", ["add", "replace"])
def test_add_or_replace_of_an_existing_member_matches_its_name_case_insensitively(
    operation: str,
) -> None:
    result = patched(op(operation, "/headers/x-team", "billing"))
    assert result["headers"] == {"X-Env": "prod", "x-team": "billing"}


def test_remove_member_matches_its_name_case_insensitively() -> None:
    result = patched(op("remove", "/headers/X-TEAM"))
    assert result["headers"] == {"X-Env": "prod"}


@pytest.mark.parametrize("operation", ["remove", "replace"])
def test_remove_or_replace_of_a_missing_member_is_refused(operation: str) -> None:
    problem = refusal(op(operation, "/headers/X-Missing", "v"))
    assert problem == Problem("/0/path", "/headers/X-Missing does not exist")


def test_remove_or_replace_of_a_member_of_an_absent_map_is_refused() -> None:
    problem = refusal(op("remove", "/encryptedHeaders/X-Missing"))
    assert problem == Problem("/0/path", "/encryptedHeaders/X-Missing does not exist")


def test_member_name_is_unescaped_from_the_pointer() -> None:
    result = patched(op("add", "/headers/X~0Tilde", "1"), op("add", "/headers/a~1b", "2"))
    assert result["headers"]["X~Tilde"] == "1"
    assert result["headers"]["a/b"] == "2"


@pytest.mark.parametrize("value", ["not an object", ["a", "b"], 5, True])
def test_member_operation_on_a_map_replaced_by_a_non_object_is_refused(value: Any) -> None:
    problem = refusal(op("replace", "/headers", value), op("add", "/headers/X-Foo", "v"))
    assert problem == Problem("/1/path", "/headers is not an object")


# -- the input is never changed ------------------------------------------------------------


def test_apply_does_not_mutate_the_document() -> None:
    original = document()
    before = copy.deepcopy(original)
    patched(
        op("add", "/headers/X-New", "1"),
        op("remove", "/headers/X-Team"),
        op("replace", "/name", "changed"),
        doc=original,
    )
    assert original == before


def test_apply_does_not_mutate_the_operation_values() -> None:
    headers = {"X-A": "1"}
    operations = [op("replace", "/headers", headers), op("add", "/headers/X-B", "2")]
    result = patched(*operations)
    assert result["headers"] == {"X-A": "1", "X-B": "2"}
    assert headers == {"X-A": "1"}
    assert operations[0].value == {"X-A": "1"}


def test_result_does_not_share_values_with_the_operations() -> None:
    event_types = ["com.qlik.v1.app.created"]
    result = patched(op("replace", "/eventTypes", event_types))
    result["eventTypes"].append("com.qlik.v1.app.deleted")
    assert event_types == ["com.qlik.v1.app.created"]


def test_failed_patch_does_not_mutate_the_document() -> None:
    original = document()
    before = copy.deepcopy(original)
    with pytest.raises(InvalidInput):
        patched(
            op("add", "/headers/X-New", "1"),
            op("remove", "/headers/X-Missing"),
            doc=original,
        )
    assert original == before


header_names = st.sampled_from(["X-Team", "x-team", "X-Env", "X-New", "X-Other"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
member_operations = st.builds(
    lambda operation, field, name, value: op(operation, f"/{field}/{name}", value),
    st.sampled_from(["add", "remove", "replace"]),
    st.sampled_from(sorted(MAPS)),
    header_names,
    st.text(max_size=10),
)
field_operations = st.builds(
    lambda operation, field, value: op(operation, f"/{field}", value),
    st.sampled_from(["add", "remove", "replace"]),
    st.sampled_from(sorted(WRITABLE)),
    json_values,
)


@given(st.lists(member_operations | field_operations, max_size=8))
def test_apply_never_mutates_its_inputs(operations: list[Operation]) -> None:
    original = document()
    before = copy.deepcopy(original)
    values_before = [copy.deepcopy(operation.value) for operation in operations]
    try:
        result = patched(*operations, doc=original)
    except InvalidInput:
        pass
    else:
        assert set(result) == set(original)
    assert original == before
    assert [operation.value for operation in operations] == values_before


any_paths = st.sampled_from(
    ["/id", "/createdAt", "/ownerId", "/origin", "/level", "/id/x", "/headers/id", "/name"]
) | st.text(max_size=12)
any_operations = st.builds(
    lambda operation, path, value: op(operation, path, value),
    st.sampled_from(["add", "remove", "replace"]),
    any_paths,
    json_values,
)
RECORD = {
    "id": "w1",
    "createdAt": "2021-01-01T00:00:00Z",
    "updatedAt": "2021-01-01T00:00:00Z",
    "level": "user",
    "ownerId": "bob",
    "origin": "api",
}


@given(st.lists(any_operations | member_operations | field_operations, max_size=8))
def test_apply_never_changes_a_read_only_field(operations: list[Operation]) -> None:
    """Whatever the operations, either they are refused (and only with hookline's own
    errors) or every read-only field keeps its value."""
    try:
        result = patched(*operations, doc={**document(), **RECORD})
    except (InvalidInput, ReadOnlyField):
        return
    assert {field: result[field] for field in RECORD} == RECORD


def rfc6902(document: dict[str, Any], operations: list[Operation]) -> dict[str, Any]:
    """A reference: RFC 6902 add/remove/replace on plain JSON, except that removing a
    top-level field sets it to null (the webhook document always has every field)."""
    result = copy.deepcopy(document)
    for operation in operations:
        *parents, last = parse_pointer(operation.path)
        target = result
        for part in parents:
            target = target[part]
        if operation.op != "add" and last not in target:
            raise KeyError(last)
        if operation.op == "remove":
            if parents:
                del target[last]
            else:
                target[last] = None
        else:
            target[last] = copy.deepcopy(operation.value)
    return result


# Header names that differ case-insensitively too, where RFC 6902 and hookline's
# case-insensitive member matching agree.
distinct_names = st.sampled_from(["X-Team", "X-Env", "X-New"])
reference_member_operations = st.builds(
    lambda operation, field, name, value: op(operation, f"/{field}/{name}", value),
    st.sampled_from(["add", "remove", "replace"]),
    st.sampled_from(sorted(MAPS)),
    distinct_names,
    st.text(max_size=10),
)
reference_field_operations = st.builds(
    lambda operation, field, value: op(operation, f"/{field}", value),
    st.sampled_from(["add", "remove", "replace"]),
    st.sampled_from(sorted(WRITABLE - MAPS)),
    json_values,
) | st.builds(
    lambda operation, field, value: op(operation, f"/{field}", value),
    st.sampled_from(["add", "replace"]),
    st.sampled_from(sorted(MAPS)),
    st.dictionaries(distinct_names, st.text(max_size=5), max_size=3),
)


@given(st.lists(reference_member_operations | reference_field_operations, max_size=8))
def test_apply_equals_the_reference_implementation(operations: list[Operation]) -> None:
    try:
        expected: dict[str, Any] | None = rfc6902(document(), operations)
    except KeyError:
        expected = None
    try:
        result: dict[str, Any] | None = patched(*operations)
    except InvalidInput:
        result = None

    assert result == expected
