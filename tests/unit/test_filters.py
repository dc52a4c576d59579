"""Tests for hookline.filters: parsing, rendering and evaluating webhook filters."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.errors import FilterSyntaxError
from hookline.filters import (
    MAX_DEPTH,
    MAX_LENGTH,
    MISSING,
    And,
    Comparison,
    Filter,
    Not,
    Or,
    Present,
    Value,
    evaluate,
    parse,
    render,
)


def eq(attribute: str, value: Value) -> Comparison:
    return Comparison(attribute, "eq", value)


def lookup_in(attributes: dict[str, object]) -> Callable[[str], object]:
    return lambda path: attributes.get(path, MISSING)


def assert_syntax_error(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    assert caught.value.position == position
    assert caught.value.problems[0].message == f"{message} at position {position}"


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('id eq "a1" or spaceId eq "s9"', Or(eq("id", "a1"), eq("spaceId", "s9"))),
        ('a eq "1" or b eq "2" and c eq "3"', Or(eq("a", "1"), And(eq("b", "2"), eq("c", "3")))),
        ('(a eq "1" or b eq "2") and c eq "3"', And(Or(eq("a", "1"), eq("b", "2")), eq("c", "3"))),
        ("a pr and b pr and c pr", And(And(Present("a"), Present("b")), Present("c"))),
        ("a pr or b pr or c pr", Or(Or(Present("a"), Present("b")), Present("c"))),
        ("a pr or (b pr or c pr)", Or(Present("a"), Or(Present("b"), Present("c")))),
        ('not (id eq "x")', Not(eq("id", "x"))),
        ("not(a pr) and b pr", And(Not(Present("a")), Present("b"))),
        ("not (not (a pr))", Not(Not(Present("a")))),
        ("((a pr))", Present("a")),
        ('id EQ "x"', eq("id", "x")),
        ('id eq "x" AND x pr', And(eq("id", "x"), Present("x"))),
        ("NOT (a PR) Or b Pr", Or(Not(Present("a")), Present("b"))),
        ('ID eq "x"', eq("ID", "x")),
        ('data.attributes.name sw "Q"', Comparison("data.attributes.name", "sw", "Q")),
        ("extensions.owner_Id-2$ pr", Present("extensions.owner_Id-2$")),
        ('id ne "a"', Comparison("id", "ne", "a")),
        ('id co "a"', Comparison("id", "co", "a")),
        ('id ew "a"', Comparison("id", "ew", "a")),
        (r'id eq "a\"b"', eq("id", 'a"b')),
        (r'id eq "\u65e5\n\\"', eq("id", "日\n\\")),
        ('id eq ""', eq("id", "")),
        ("n eq 42", eq("n", 42)),
        ("n eq -0.5", eq("n", -0.5)),
        ("n eq 1e3", eq("n", 1000.0)),
        ("b eq true", eq("b", True)),
        ("b eq FALSE", eq("b", False)),
        ("b eq Null", eq("b", None)),
        ('id eq"a"and(b pr)', And(eq("id", "a"), Present("b"))),
        ('\n\tid  eq\t"a"\r\n', eq("id", "a")),
        # Keywords are only keywords where the grammar expects them.
        ("not pr", Present("not")),
        ('and eq "x"', eq("and", "x")),
        ("or pr or pr pr", Or(Present("or"), Present("pr"))),
        ("true eq null", eq("true", None)),
    ],
)
def test_parse(text: str, expected: Filter) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "kind"), [("n eq 1", int), ("n eq 1.0", float), ("n eq 1E0", float)]
)
def test_numbers_keep_their_type(text: str, kind: type) -> None:
    comparison = parse(text)
    assert isinstance(comparison, Comparison)
    assert type(comparison.value) is kind


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "filter is empty"),
        (" \t\n", 3, "filter is empty"),
        ("id eq", 5, "expected a value"),
        ('id xx "a"', 3, "expected an operator (eq, ne, co, sw, ew, pr)"),
        ("id", 2, "expected an operator (eq, ne, co, sw, ew, pr)"),
        ('id eq "abc', 6, "unterminated string"),
        ('id eq "abc\\"', 6, "unterminated string"),
        ('(id eq "a"', 10, 'expected ")"'),
        ('(id eq "a" b pr)', 11, 'expected ")"'),
        ('id eq "a")', 9, 'unexpected ")"'),
        (")", 0, 'unexpected ")"'),
        ("()", 1, 'unexpected ")"'),
        ('id eq "a" and', 13, "unexpected end of filter"),
        ('id eq "a" b pr', 10, 'expected "and", "or" or the end'),
        ('"a" eq id', 0, "expected an attribute name"),
        ("id eq bogus", 6, "expected a value"),
        ("id eq (a pr)", 6, "expected a value"),
        ("not id pr", 4, 'expected "(" after "not"'),
        ("not", 3, 'expected "(" after "not"'),
        (r'id eq "a\x"', 6, "invalid string"),
        ('id eq "a\nb"', 6, "invalid string"),
        ("id eq 01", 6, "invalid number"),
        ("id eq 1abc", 6, "invalid number"),
        ("id eq 1e999", 6, "number out of range"),
        ('id eq "a" && b pr', 10, 'unexpected "&&"'),
        ("data..x pr", 0, 'unexpected "data..x"'),
        ("a" * 30 + "! pr", 0, 'unexpected "' + "a" * 20 + '…"'),
    ],
)
def test_parse_errors(text: str, position: int, message: str) -> None:
    assert_syntax_error(text, position, message)


def test_too_long() -> None:
    fits = 'id eq "' + "x" * (MAX_LENGTH - 8) + '"'
    assert len(fits) == MAX_LENGTH
    assert parse(fits) == eq("id", "x" * (MAX_LENGTH - 8))
    assert_syntax_error(fits + " ", MAX_LENGTH, f"filter is longer than {MAX_LENGTH} characters")


def test_too_deep() -> None:
    deepest = "(" * MAX_DEPTH + "a pr" + ")" * MAX_DEPTH
    assert parse(deepest) == Present("a")
    message = f"nested more than {MAX_DEPTH} deep"
    assert_syntax_error("(" * 100 + "a pr" + ")" * 100, MAX_DEPTH, message)
    assert_syntax_error("not (" * 100 + "a pr" + ")" * 100, 5 * MAX_DEPTH + 4, message)


def test_longest_chain_does_not_exhaust_the_stack() -> None:
    # The deepest tree a filter can produce; compared as text because dataclass
    # equality recurses more steeply than parse, render and evaluate do.
    text = " or ".join(["a pr"] * 512)
    assert len(text) <= MAX_LENGTH
    chain = parse(text)
    assert render(chain) == text
    assert evaluate(chain, lookup_in({})) is False
    assert evaluate(chain, lookup_in({"a": 1})) is True


# -- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Or(eq("a", "1"), And(eq("b", "2"), eq("c", "3"))), 'a eq "1" or b eq "2" and c eq "3"'),
        (And(Or(eq("a", "1"), eq("b", "2")), eq("c", "3")), '(a eq "1" or b eq "2") and c eq "3"'),
        (And(Present("a"), And(Present("b"), Present("c"))), "a pr and (b pr and c pr)"),
        (And(And(Present("a"), Present("b")), Present("c")), "a pr and b pr and c pr"),
        (Or(Present("a"), Or(Present("b"), Present("c"))), "a pr or (b pr or c pr)"),
        (And(Present("a"), Or(Present("b"), Present("c"))), "a pr and (b pr or c pr)"),
        (Not(And(Present("a"), Present("b"))), "not (a pr and b pr)"),
        (Or(Not(Present("a")), Present("b")), "not (a pr) or b pr"),
        (eq("x", 'é"\n'), 'x eq "é\\"\\n"'),
        (Comparison("x", "ne", None), "x ne null"),
        (eq("x", True), "x eq true"),
        (eq("x", 1.5), "x eq 1.5"),
    ],
)
def test_render(tree: Filter, text: str) -> None:
    assert render(tree) == text
    assert parse(text) == tree


# -- evaluation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "attributes", "expected"),
    [
        # eq / ne
        ('id eq "a1"', {"id": "a1"}, True),
        ('id eq "A1"', {"id": "a1"}, False),
        ('id eq "a1"', {}, False),
        ('id eq "a1"', {"id": None}, False),
        ("id eq null", {"id": None}, True),
        ("id eq null", {}, True),
        ("id eq null", {"id": "a1"}, False),
        ("id eq null", {"id": []}, False),
        ('id ne "a1"', {"id": "a1"}, False),
        ('id ne "a1"', {"id": "b2"}, True),
        ('id ne "a1"', {}, True),
        ("id ne null", {}, False),
        ("id ne null", {"id": "a1"}, True),
        ("n eq 1", {"n": 1}, True),
        ("n eq 1.0", {"n": 1}, True),
        ('n eq "1"', {"n": 1}, False),
        ("n eq 1", {"n": "1"}, False),
        ("n eq true", {"n": 1}, False),
        ("n eq 1", {"n": True}, False),
        ("n eq false", {"n": 0}, False),
        ("b eq true", {"b": True}, True),
        ("b eq false", {"b": False}, True),
        ("b ne true", {"b": 1}, True),
        ('d eq "x"', {"d": {"x": 1}}, False),
        ('d eq "x"', {"d": object()}, False),
        # co / sw / ew
        ('s co "lo w"', {"s": "hello world"}, True),
        ('s co "Hello"', {"s": "hello world"}, False),
        ('s sw "hello"', {"s": "hello world"}, True),
        ('s sw "world"', {"s": "hello world"}, False),
        ('s ew "world"', {"s": "hello world"}, True),
        ('s ew "hello"', {"s": "hello world"}, False),
        ('s co ""', {"s": "abc"}, True),
        ('n co "2"', {"n": 123}, False),
        ("s co 1", {"s": "123"}, False),
        ("s sw null", {"s": "abc"}, False),
        ('s sw "a"', {}, False),
        ('s sw "a"', {"s": None}, False),
        ('s ew "a"', {"s": {"a": "a"}}, False),
        # lists match when any element does
        ('tags eq "b"', {"tags": ["a", "b"]}, True),
        ('tags eq "c"', {"tags": ["a", "b"]}, False),
        ('tags ne "b"', {"tags": ["a", "b"]}, False),
        ('tags ne "c"', {"tags": ["a", "b"]}, True),
        ('tags sw "b"', {"tags": ["ab", "ba"]}, True),
        ('tags co "x"', {"tags": ["ab", 1]}, False),
        ("tags eq true", {"tags": [1, True]}, True),
        ("tags eq null", {"tags": [None]}, True),
        ('tags eq "a"', {"tags": [["a"]]}, False),
        # pr
        ("x pr", {"x": "a"}, True),
        ("x pr", {"x": 0}, True),
        ("x pr", {"x": False}, True),
        ("x pr", {"x": [None]}, True),
        ("x pr", {"x": {"k": None}}, True),
        ("x pr", {"x": ""}, False),
        ("x pr", {"x": None}, False),
        ("x pr", {"x": []}, False),
        ("x pr", {"x": {}}, False),
        ("x pr", {}, False),
        # logic
        ('id eq "a1" or spaceId eq "s9"', {"id": "zz", "spaceId": "s9"}, True),
        ('id eq "a1" and spaceId eq "s9"', {"id": "zz", "spaceId": "s9"}, False),
        ('id eq "a1" and spaceId eq "s9"', {"id": "a1", "spaceId": "s9"}, True),
        ("not (x pr)", {}, True),
        ("not (x pr)", {"x": 1}, False),
        ("a pr or b pr and c pr", {"a": 1}, True),
        ("(a pr or b pr) and c pr", {"a": 1}, False),
    ],
)
def test_evaluate(text: str, attributes: dict[str, object], expected: bool) -> None:
    assert evaluate(parse(text), lookup_in(attributes)) is expected


def test_evaluate_looks_up_attributes_by_exact_path() -> None:
    seen: list[str] = []

    def lookup(path: str) -> object:
        seen.append(path)
        return MISSING

    evaluate(parse("data.status pr or ID pr"), lookup)
    assert seen == ["data.status", "ID"]


# -- properties ----------------------------------------------------------------------------

OPERATORS = ["eq", "ne", "co", "sw", "ew"]
KNOWN_NAMES = ["id", "spaceId", "data.status", "not", "and", "OR", "pr", "eq", "true", "null"]

names = st.sampled_from(KNOWN_NAMES) | st.from_regex(
    r"[A-Za-z][A-Za-z0-9_$-]{0,6}(\.[A-Za-z][A-Za-z0-9_$-]{0,6}){0,2}", fullmatch=True
)
values: st.SearchStrategy[Value] = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
leaves: st.SearchStrategy[Filter] = st.builds(
    Comparison, names, st.sampled_from(OPERATORS), values
) | st.builds(Present, names)


def trees(depth: int = 4) -> st.SearchStrategy[Filter]:
    if depth == 0:
        return leaves
    smaller = trees(depth - 1)
    return st.one_of(
        leaves,
        st.builds(And, smaller, smaller),
        st.builds(Or, smaller, smaller),
        st.builds(Not, smaller),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)
lookups = st.dictionaries(
    st.sampled_from(KNOWN_NAMES), json_values | st.builds(object) | st.just(MISSING)
)

TOKENS = [
    *["(", ")", "not", "NOT", "and", "or", "Or", "pr", "true", "null", "false"],
    *OPERATORS,
    *["id", "data.status", "a..b", '"a"', '"', '"\\u12"', '"\\"', "1", "-", "1e999", "-0.5"],
    *["01", "&&", "=", "\\", "$x", "\t", "\n", "日", '"日"'],
]


def parse_or_fail_cleanly(text: str) -> None:
    """Parse ``text``: it either parses or raises FilterSyntaxError at a position inside it."""
    position = syntax_error_position(text)
    assert position is None or 0 <= position <= len(text)


def syntax_error_position(text: str) -> int | None:
    try:
        parse(text)
    except FilterSyntaxError as error:
        return error.position
    return None


@given(trees())
def test_render_round_trips(tree: Filter) -> None:
    text = render(tree)
    assert parse(text) == tree
    assert render(parse(text)) == text


@given(st.text())
def test_parse_arbitrary_text_fails_cleanly(text: str) -> None:
    parse_or_fail_cleanly(text)


@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_parse_token_soup_fails_cleanly(tokens: list[str]) -> None:
    parse_or_fail_cleanly(" ".join(tokens))


@given(trees(), lookups)
def test_evaluate_never_raises(tree: Filter, attributes: dict[str, object]) -> None:
    assert isinstance(evaluate(tree, lookup_in(attributes)), bool)


@given(trees(), lookups)
def test_not_negates(tree: Filter, attributes: dict[str, object]) -> None:
    lookup = lookup_in(attributes)
    assert evaluate(Not(tree), lookup) is not evaluate(tree, lookup)


@given(trees(), lookups, st.sampled_from(["", " ", "  ", "\t"]))
def test_parsed_text_evaluates_as_its_tree(
    tree: Filter, attributes: dict[str, object], space: str
) -> None:
    """Parse and evaluate agree with evaluating the tree the text was rendered from,
    whatever redundant parentheses and spacing surround it."""
    lookup = lookup_in(attributes)
    text = f"{space}({space}{render(tree)}{space}){space}"

    assert evaluate(parse(text), lookup) is evaluate(tree, lookup)


@given(trees(depth=2), trees(depth=2), lookups)
def test_and_and_or_evaluate_as_booleans_do(
    left: Filter, right: Filter, attributes: dict[str, object]
) -> None:
    lookup = lookup_in(attributes)
    a, b = evaluate(left, lookup), evaluate(right, lookup)

    assert evaluate(And(left, right), lookup) is (a and b)
    assert evaluate(Or(left, right), lookup) is (a or b)
    assert evaluate(parse(render(And(left, right))), lookup) is (a and b)
