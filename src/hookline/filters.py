"""Webhook filter expressions: a subset of the SCIM filter language (RFC 7644 §3.4.2.2).

A webhook's ``filter`` decides whether an event reaches it, e.g.
``id eq "a1" or spaceId eq "s9"``. Grammar (``and`` binds tighter than ``or``;
both chains are left-associative)::

    filter     = or-expr
    or-expr    = and-expr *( "or" and-expr )
    and-expr   = primary *( "and" primary )
    primary    = "(" filter ")" / "not" "(" filter ")" / attribute "pr"
               / attribute operator value
    operator   = "eq" / "ne" / "co" / "sw" / "ew"
    attribute  = name *( "." name )        ; e.g. data.attributes.name
    name       = ALPHA *( ALPHA / DIGIT / "_" / "-" / "$" )
    value      = JSON string / JSON number / "true" / "false" / "null"

Operators and the words ``and``, ``or``, ``not``, ``true``, ``false`` and ``null``
are case-insensitive; attribute names are case-sensitive. These words are only
keywords where the grammar expects them, so they are also valid attribute names
(``not pr`` tests an attribute called ``not``). Tokens are separated by spaces,
tabs or newlines. A filter is at most ``MAX_LENGTH`` characters and nests
parentheses at most ``MAX_DEPTH`` deep, so hostile input cannot exhaust the stack.

Evaluation asks ``lookup(path)`` for each attribute, which returns its value or
``MISSING``:

- ``eq`` is true when the value equals the filter value. Strings compare
  case-sensitively (ids are case-sensitive); booleans never equal numbers. A
  missing attribute equals nothing, except that ``x eq null`` is true when ``x``
  is null or missing. ``ne`` is the negation of ``eq``.
- ``co``, ``sw`` and ``ew`` (contains, starts with, ends with) are true only when
  both sides are strings.
- ``pr`` is true when the value is present and not null, ``""``, ``[]`` or ``{}``.
- When the value is a list, ``eq``, ``co``, ``sw`` and ``ew`` are true when any
  element matches (SCIM multi-valued attributes); ``ne`` negates that.

One evaluation does at most ``MAX_STEPS`` steps of work (``budget``) and raises
``TooCostly`` before it would do more, so no filter and event can make it run long (a
filter of a few hundred ``or`` clauses each walking a list of 200,000 numbers would
otherwise take seconds). The steps are:

- one per node of the filter evaluated (comparison, ``pr``, ``and``, ``or``, ``not``;
  ``and`` and ``or`` stop at the first operand that decides, as in Python);
- one per name in an attribute path looked up (``data.a.b`` is three);
- one per value compared: the attribute's value, or each list element compared until
  one matches;
- for ``co`` on a string of n characters with a filter value of m, before searching it,
  one more per ``CHARACTERS_PER_STEP`` character comparisons the search may need in the
  worst case: (n - m + 1) positions times max(m, 8) (a position costs at least that).

Within the budget the result is exactly that of the rules above. ``compile`` parses each
distinct text once (a bounded cache), for callers that evaluate many events.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress, count, islice
from typing import Final, NamedTuple, TypeAlias

from hookline.errors import FilterSyntaxError, HooklineError

# Python refuses to convert integers of more than 4300 digits by default; staying
# below that keeps int() from raising on any number token.
MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 32
# Steps one evaluation may take (see the module docstring). In CPython 3.11 on two busy
# cores, 10,000 steps of the slowest kinds (list elements, co over short strings) took
# 1-2.5 ms, and the most clauses a filter can hold about 0.5 ms more; a dozen clauses over
# lists of hundreds of elements take a few thousand steps.
MAX_STEPS: Final = 10_000
# Characters a ``co`` search may compare per step, in its worst case (repetitive text):
# CPython tries each position of the string, comparing up to the whole filter value.
CHARACTERS_PER_STEP: Final = 500
# Distinct filter texts ``compile`` keeps parsed; the largest tree is about 90 kB.
COMPILED_CACHE_SIZE: Final = 512

Value: TypeAlias = str | int | float | bool | None


@dataclass(frozen=True)
class Comparison:
    attribute: str
    operator: str  # lower-case: "eq", "ne", "co", "sw" or "ew"
    value: Value


@dataclass(frozen=True)
class Present:
    attribute: str


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    operand: Filter


Filter: TypeAlias = Comparison | Present | And | Or | Not


class TooCostly(HooklineError):
    """Evaluating a filter for one event needed more than its budget of steps."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        super().__init__(f"the filter needed more than {budget:,} steps for this event")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_OPERATORS: Final = ("eq", "ne", "co", "sw", "ew")
_LITERALS: Final[dict[str, Value]] = {"true": True, "false": False, "null": None}
_UNEXPECTED: Final = {"end": "unexpected end of filter", ")": 'unexpected ")"'}
_WHITESPACE: Final = " \t\r\n"
_SCALARS: Final = (str, int, float)
# A position of a ``co`` search costs at least about as much as comparing this many characters.
_SEARCH_POSITION_COST: Final = 8
_DELIMITER: Final = re.compile(r'[ \t\r\n()"]')
_NAME: Final = re.compile(r"[A-Za-z][\w$-]*(?:\.[A-Za-z][\w$-]*)*", re.ASCII)
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class _Token(NamedTuple):
    kind: str  # "(", ")", "string", "number", "word" or "end"
    text: str
    position: int
    value: Value = None


def parse(text: str) -> Filter:
    """Parse a filter expression; raises ``FilterSyntaxError`` if it is not valid."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"filter is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip(_WHITESPACE):
        raise FilterSyntaxError("filter is empty", len(text))
    return _Parser(text).parse()


def compile(text: str) -> Filter:
    """``parse(text)``, parsing each distinct text once: the result is cached (at most
    ``COMPILED_CACHE_SIZE`` texts, least recently used first out). Filters are immutable,
    so the same tree may be shared; an invalid text raises each time."""
    return _compile(text)


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compile(text: str) -> Filter:
    return parse(text)


def _tokenize(text: str) -> Iterator[_Token]:
    position = 0
    while True:
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        if position == len(text):
            yield _Token("end", "", position)
            return
        char = text[position]
        if char in "()":
            token = _Token(char, char, position)
        elif char == '"':
            token = _string_token(text, position)
        else:
            token = _bare_token(text, position)
        yield token
        position += len(token.text)


def _string_token(text: str, position: int) -> _Token:
    match = _STRING.match(text, position)
    if match is None:
        raise FilterSyntaxError("unterminated string", position)
    try:
        value = json.loads(match.group())
    except ValueError:
        raise FilterSyntaxError("invalid string", position) from None
    return _Token("string", match.group(), position, value)


def _bare_token(text: str, position: int) -> _Token:
    delimiter = _DELIMITER.search(text, position)
    word = text[position : delimiter.start() if delimiter else len(text)]
    if _NAME.fullmatch(word):
        return _Token("word", word, position)
    if not _NUMBER.fullmatch(word):
        if word[0] in "-0123456789":
            raise FilterSyntaxError("invalid number", position)
        shown = word if len(word) <= 20 else word[:20] + "…"
        raise FilterSyntaxError(f'unexpected "{shown}"', position)
    if not any(char in word for char in ".eE"):
        return _Token("number", word, position, int(word))
    value = float(word)
    if not math.isfinite(value):
        raise FilterSyntaxError("number out of range", position)
    return _Token("number", word, position, value)


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._token = next(self._tokens)
        self._depth = 0

    def parse(self) -> Filter:
        result = self._or()
        if self._token.kind != "end":
            message = _UNEXPECTED.get(self._token.kind, 'expected "and", "or" or the end')
            raise FilterSyntaxError(message, self._token.position)
        return result

    def _advance(self) -> _Token:
        token = self._token
        if token.kind != "end":
            self._token = next(self._tokens)
        return token

    def _is_word(self, *words: str) -> bool:
        return self._token.kind == "word" and self._token.text.lower() in words

    def _expect(self, kind: str, message: str) -> _Token:
        if self._token.kind != kind:
            raise FilterSyntaxError(message, self._token.position)
        return self._advance()

    def _or(self) -> Filter:
        result = self._and()
        while self._is_word("or"):
            self._advance()
            result = Or(result, self._and())
        return result

    def _and(self) -> Filter:
        result = self._primary()
        while self._is_word("and"):
            self._advance()
            result = And(result, self._primary())
        return result

    def _primary(self) -> Filter:
        token = self._advance()
        if token.kind == "(":
            return self._group(token)
        if token.kind == "word":
            if token.text.lower() == "not" and not self._is_word(*_OPERATORS, "pr"):
                return Not(self._group(self._expect("(", 'expected "(" after "not"')))
            return self._attribute_test(token.text)
        message = _UNEXPECTED.get(token.kind, "expected an attribute name")
        raise FilterSyntaxError(message, token.position)

    def _group(self, opening: _Token) -> Filter:
        if self._depth == MAX_DEPTH:
            raise FilterSyntaxError(f"nested more than {MAX_DEPTH} deep", opening.position)
        self._depth += 1
        inner = self._or()
        self._expect(")", 'expected ")"')
        self._depth -= 1
        return inner

    def _attribute_test(self, attribute: str) -> Filter:
        if not self._is_word(*_OPERATORS, "pr"):
            message = "expected an operator (eq, ne, co, sw, ew, pr)"
            raise FilterSyntaxError(message, self._token.position)
        operator = self._advance().text.lower()
        if operator == "pr":
            return Present(attribute)
        return Comparison(attribute, operator, self._value())

    def _value(self) -> Value:
        token = self._advance()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "word" and token.text.lower() in _LITERALS:
            return _LITERALS[token.text.lower()]
        raise FilterSyntaxError("expected a value", token.position)


def render(f: Filter) -> str:
    """Canonical text for ``f``: lower-case keywords, parentheses only where needed.

    ``parse(render(f)) == f`` for every filter ``parse`` can return; a non-finite
    float makes ``json.dumps`` raise ``ValueError``.
    """
    if isinstance(f, Comparison):
        value = json.dumps(f.value, ensure_ascii=False, allow_nan=False)
        return f"{f.attribute} {f.operator} {value}"
    if isinstance(f, Present):
        return f"{f.attribute} pr"
    if isinstance(f, Not):
        return f"not ({render(f.operand)})"
    left, right = render(f.left), render(f.right)
    # Chains are left-associative, so a right operand of equal precedence needs parentheses.
    if _precedence(f.left) < _precedence(f):
        left = f"({left})"
    if _precedence(f.right) <= _precedence(f):
        right = f"({right})"
    return f"{left} {'and' if isinstance(f, And) else 'or'} {right}"


def _precedence(f: Filter) -> int:
    return 1 if isinstance(f, Or) else 2 if isinstance(f, And) else 3


def evaluate(f: Filter, lookup: Callable[[str], object], *, budget: int = MAX_STEPS) -> bool:
    """Whether ``f`` holds; ``lookup(path)`` returns an attribute's value or ``MISSING``.

    Raises ``TooCostly`` as soon as the evaluation would take more than ``budget`` steps
    (see the module docstring), before doing that work."""
    return _Evaluation(lookup, budget).holds(f)


class _Evaluation:
    """One evaluation and the steps it has left."""

    __slots__ = ("budget", "left", "lookup")

    def __init__(self, lookup: Callable[[str], object], budget: int) -> None:
        self.lookup = lookup
        self.budget = budget
        self.left = budget

    def charge(self, steps: int) -> None:
        if steps > self.left:
            raise TooCostly(self.budget)
        self.left -= steps

    def holds(self, f: Filter) -> bool:
        self.charge(1)
        if isinstance(f, Comparison):
            return self.compare(f.operator, self.value(f.attribute), f.value)
        if isinstance(f, Present):
            return _is_present(self.value(f.attribute))
        if isinstance(f, And):
            return self.holds(f.left) and self.holds(f.right)
        if isinstance(f, Or):
            return self.holds(f.left) or self.holds(f.right)
        return not self.holds(f.operand)

    def value(self, attribute: str) -> object:
        self.charge(attribute.count(".") + 1)
        return self.lookup(attribute)

    def compare(self, operator: str, actual: object, expected: Value) -> bool:
        if operator == "ne":
            return not self.compare("eq", actual, expected)
        if actual is MISSING:
            return operator == "eq" and expected is None
        if operator == "co":
            return isinstance(expected, str) and self.contains(actual, expected)
        test = _test(operator, expected)
        if test is None:
            return False
        if not isinstance(actual, list):
            self.charge(1)
            return test(actual)
        # Test no more elements than there are steps left, then pay for those tested.
        tested = next(compress(count(1), map(test, islice(actual, self.left))), 0)
        if tested:
            self.left -= tested
            return True
        self.charge(len(actual))
        return False

    def contains(self, actual: object, expected: str) -> bool:
        """``co``: each value is paid for before it is searched."""
        values = actual if isinstance(actual, list) else [actual]
        per_position = max(len(expected), _SEARCH_POSITION_COST)
        # Strings up to this long cost no more than their own step.
        cheap = len(expected) - 1 + (CHARACTERS_PER_STEP - 1) // per_position
        extra = 0  # the steps of longer strings beyond their own

        def matches(position: int, value: object) -> bool:
            nonlocal extra
            if isinstance(value, str) and len(value) > cheap:
                positions = len(value) - len(expected) + 1
                extra += positions * per_position // CHARACTERS_PER_STEP
            if position + extra > self.left:
                raise TooCostly(self.budget)
            return isinstance(value, str) and expected in value

        found = next(compress(count(1), map(matches, count(1), values)), 0)
        self.left -= (found or len(values)) + extra
        return bool(found)


def _test(operator: str, expected: Value) -> Callable[[object], bool] | None:
    """Whether one value (not a list) matches, for ``eq``, ``sw`` and ``ew``; ``None`` when
    no value can. Only JSON scalars are compared, so an arbitrary object's ``__eq__`` never
    runs; booleans only equal booleans."""
    if operator == "eq" and isinstance(expected, bool):
        return lambda actual: isinstance(actual, bool) and actual == expected
    if operator == "eq":
        return lambda actual: (
            (actual is None or isinstance(actual, _SCALARS))
            and not isinstance(actual, bool)
            and actual == expected
        )
    if not isinstance(expected, str):
        return None
    if operator == "sw":
        return lambda actual: isinstance(actual, str) and actual.startswith(expected)
    if operator == "ew":
        return lambda actual: isinstance(actual, str) and actual.endswith(expected)
    return None


def _is_present(value: object) -> bool:
    is_empty = isinstance(value, str | list | dict) and len(value) == 0
    return not (value is MISSING or value is None or is_empty)
