"""Tests for hookline.filters: parsing, rendering and evaluating webhook filters."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline import filters
from hookline.errors import FilterSyntaxError, HooklineError
from hookline.filters import (
    CHARACTERS_PER_STEP,
    COMPILED_CACHE_SIZE,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_STEPS,
    MISSING,
    And,
    Comparison,
    Filter,
    Not,
    Or,
    Present,
    TooCostly,
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


# -- compiling -----------------------------------------------------------------------------


def test_compile_parses_each_text_once() -> None:
    text = 'id eq "compiled-once" or spaceId pr'
    compiled = filters.compile(text)
    assert compiled == parse(text)
    assert filters.compile(text) is compiled


def test_compile_keeps_a_bounded_number_of_texts() -> None:
    first = filters.compile('id eq "evicted-first"')
    for number in range(COMPILED_CACHE_SIZE):
        filters.compile(f"id eq {number} and spaceId pr")
    again = filters.compile('id eq "evicted-first"')
    assert again == first
    assert again is not first


def test_compile_refuses_an_invalid_text_every_time() -> None:
    for _ in range(2):
        with pytest.raises(FilterSyntaxError):
            filters.compile('id eq "a" and')


# -- cost bound ----------------------------------------------------------------------------


def reference(f: Filter, lookup: Callable[[str], object]) -> bool:
    """The rules of the module docstring without a budget: evaluate before it had one."""

    def equals(actual: object, expected: Value) -> bool:
        if not (actual is None or isinstance(actual, str | int | float)):
            return False
        if isinstance(actual, bool) != isinstance(expected, bool):
            return False
        return actual == expected

    def matches(operator: str, actual: object, expected: Value) -> bool:
        if operator == "eq":
            return equals(actual, expected)
        if not (isinstance(actual, str) and isinstance(expected, str)):
            return False
        if operator == "co":
            return expected in actual
        if operator == "sw":
            return actual.startswith(expected)
        return operator == "ew" and actual.endswith(expected)

    def compare(operator: str, actual: object, expected: Value) -> bool:
        if operator == "ne":
            return not compare("eq", actual, expected)
        if actual is MISSING:
            return operator == "eq" and expected is None
        if isinstance(actual, list):
            return any(matches(operator, item, expected) for item in actual)
        return matches(operator, actual, expected)

    if isinstance(f, Comparison):
        return compare(f.operator, lookup(f.attribute), f.value)
    if isinstance(f, Present):
        value = lookup(f.attribute)
        is_empty = isinstance(value, str | list | dict) and len(value) == 0
        return not (value is MISSING or value is None or is_empty)
    if isinstance(f, And):
        return reference(f.left, lookup) and reference(f.right, lookup)
    if isinstance(f, Or):
        return reference(f.left, lookup) or reference(f.right, lookup)
    return not reference(f.operand, lookup)


def steps_needed(f: Filter, lookup: Callable[[str], object]) -> int:
    """The least budget ``f`` evaluates within (a binary search up to a million)."""
    low, high = 0, 1_000_000
    while low < high:
        middle = (low + high) // 2
        try:
            evaluate(f, lookup, budget=middle)
        except TooCostly:
            low = middle + 1
        else:
            high = middle
    return low


class CountedList(list[object]):
    """A list that counts the elements anyone iterates over."""

    visited = 0

    def __iter__(self) -> Iterator[object]:
        for item in super().__iter__():
            self.visited += 1
            yield item


class WatchedString(str):
    """A string that records whether anyone searched it."""

    searched = False

    def __contains__(self, key: object) -> bool:
        self.searched = True
        return isinstance(key, str) and super().__contains__(key)


def test_the_filter_bomb_stops_at_the_budget() -> None:
    """Issue 11: 270 "or" clauses each walking 200,000 numbers took seconds; the first
    clause's walk now stops once it has used the budget."""
    bomb = parse(" or ".join(["data.a eq 1"] * 270))
    numbers = CountedList(range(2, 200_002))
    looked_up: list[str] = []

    def lookup(path: str) -> object:
        looked_up.append(path)
        return numbers if path == "data.a" else MISSING

    with pytest.raises(TooCostly) as caught:
        evaluate(bomb, lookup)

    assert numbers.visited <= MAX_STEPS
    assert looked_up == ["data.a"]
    assert caught.value.budget == MAX_STEPS
    assert str(caught.value) == "the filter needed more than 10,000 steps for this event"
    assert isinstance(caught.value, HooklineError)


@pytest.mark.parametrize(
    ("text", "attributes", "steps", "expected"),
    [
        # one node, one name looked up, one value compared
        ('id eq "a"', {"id": "a"}, 3, True),
        ("id eq null", {}, 2, True),
        ("x pr", {"x": ""}, 2, False),
        ("data.a.b pr", {"data.a.b": 1}, 4, True),
        # a list: each element compared until one matches
        ("data.a eq 5", {"data.a": [1, 2, 3, 4, 5, 6]}, 8, True),
        ("data.a eq 9", {"data.a": [1, 2, 3, 4, 5, 6]}, 9, False),
        ("data.a ne 9", {"data.a": [1, 2, 3, 4, 5, 6]}, 9, True),
        ('data.a sw "b"', {"data.a": ["a", "b"]}, 5, True),
        ("data.a eq 1", {"data.a": []}, 3, False),
        ("data.a eq 2 and b pr", {"data.a": [1, 2, 3], "b": 1}, 8, True),
        # co, sw and ew compare nothing when the filter value is not a string
        ("data.a co 1", {"data.a": [1, 2, 3]}, 3, False),
        # and, or, not: one more each, and only the operands that decide
        ("a pr and b pr", {}, 3, False),
        ("a pr or b pr", {}, 5, False),
        ("a pr or b pr", {"a": 1}, 3, True),
        ("not (a pr)", {}, 3, True),
        # co pays (n - m + 1) * max(m, 8) / CHARACTERS_PER_STEP more for a string
        ('s co "b"', {"s": "a" * 1000}, 3 + 1000 * 8 // CHARACTERS_PER_STEP, False),
        ('s co "' + "b" * 20 + '"', {"s": "a" * 1000}, 3 + 981 * 20 // CHARACTERS_PER_STEP, False),
        ('s co "aab"', {"s": "ab"}, 3, False),
        ('s co "b"', {"s": "a" * 62}, 3, False),  # 62 * 8 < 500
        ('s co "b"', {"s": "a" * 63}, 4, False),  # 63 * 8 >= 500
        ('s co "b"', {"s": ["a" * 62, "a" * 63, "b", "a" * 63]}, 6, True),
        ('s co "b"', {"s": [1, "a" * 62, None, "a" * 62]}, 6, False),
        ('s co "b" or t pr', {"s": "a" * 1000, "t": 1}, 6 + 1000 * 8 // 500, True),
        ('s co "b"', {"s": ["a" * 1000, "b", "c" * 1000]}, 4 + 1000 * 8 // 500, True),
    ],
)
def test_steps_at_the_edge_of_the_budget(
    text: str, attributes: dict[str, object], steps: int, expected: bool
) -> None:
    f, lookup = parse(text), lookup_in(attributes)

    assert evaluate(f, lookup, budget=steps) is expected
    with pytest.raises(TooCostly, match=f"more than {steps - 1} steps"):
        evaluate(f, lookup, budget=steps - 1)


def test_nothing_is_looked_up_without_a_step_to_spend() -> None:
    looked_up: list[str] = []

    def lookup(path: str) -> object:
        looked_up.append(path)
        return 1

    with pytest.raises(TooCostly):
        evaluate(parse("a pr"), lookup, budget=1)
    assert looked_up == []


def test_a_string_too_long_for_the_budget_is_not_searched() -> None:
    huge = WatchedString("a" * 8_000_000)
    with pytest.raises(TooCostly):
        evaluate(parse('s co "ab"'), lookup_in({"s": [huge]}))
    assert not huge.searched
    assert evaluate(parse('s co "ab"'), lookup_in({"s": WatchedString("xab")})) is True


def test_realistic_filters_stay_well_within_the_budget() -> None:
    tags = [f"tag-{number}" for number in range(1000)]
    text = (
        'data.status eq "ok" and (spaceId eq "s9" or id sw "app-")'
        ' and not (data.tags eq "x" or data.tags eq "y" or data.tags co "zz")'
    )
    attributes: dict[str, object] = {"data.status": "ok", "id": "app-1", "data.tags": tags}

    assert evaluate(parse(text), lookup_in(attributes)) is True
    assert steps_needed(parse(text), lookup_in(attributes)) < MAX_STEPS / 2


def test_the_longest_chain_fits_the_budget() -> None:
    chain = parse(" or ".join(["data.a eq 1"] * 270))
    assert steps_needed(chain, lookup_in({"data.a": 2})) < MAX_STEPS / 2


texts = st.text(alphabet="ab", max_size=700)
long_lookups = st.dictionaries(
    st.sampled_from(KNOWN_NAMES), texts | st.lists(texts | st.integers(0, 2), max_size=5)
)
long_leaves: st.SearchStrategy[Filter] = st.builds(
    Comparison, st.sampled_from(KNOWN_NAMES), st.sampled_from(OPERATORS), texts | values
)


@given(trees(depth=3) | long_leaves, lookups | long_lookups, st.integers(0, 10_000))
def test_within_its_budget_evaluate_keeps_the_rules(
    tree: Filter, attributes: dict[str, object], budget: int
) -> None:
    """With any budget, evaluate either raises TooCostly or answers as the unbudgeted rules
    do; a budget large enough never raises."""
    lookup = lookup_in(attributes)
    expected = reference(tree, lookup)

    assert evaluate(tree, lookup, budget=10**9) is expected
    try:
        result = evaluate(tree, lookup, budget=budget)
    except TooCostly:
        return
    assert result is expected


@given(trees(depth=3) | long_leaves, lookups | long_lookups)
def test_every_budget_below_the_steps_needed_raises(
    tree: Filter, attributes: dict[str, object]
) -> None:
    lookup = lookup_in(attributes)
    needed = steps_needed(tree, lookup)

    assert evaluate(tree, lookup, budget=needed) is reference(tree, lookup)
    for budget in (needed - 1, needed // 2, 0):
        if budget < needed:
            with pytest.raises(TooCostly):
                evaluate(tree, lookup, budget=budget)
