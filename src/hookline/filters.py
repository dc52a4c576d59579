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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple, TypeAlias

from hookline.errors import FilterSyntaxError

# Python refuses to convert integers of more than 4300 digits by default; staying
# below that keeps int() from raising on any number token.
MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 32

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


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_OPERATORS: Final = ("eq", "ne", "co", "sw", "ew")
_LITERALS: Final[dict[str, Value]] = {"true": True, "false": False, "null": None}
_UNEXPECTED: Final = {"end": "unexpected end of filter", ")": 'unexpected ")"'}
_WHITESPACE: Final = " \t\r\n"
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


def evaluate(f: Filter, lookup: Callable[[str], object]) -> bool:
    """Whether ``f`` holds; ``lookup(path)`` returns an attribute's value or ``MISSING``."""
    if isinstance(f, Comparison):
        return _compare(f.operator, lookup(f.attribute), f.value)
    if isinstance(f, Present):
        return _is_present(lookup(f.attribute))
    if isinstance(f, And):
        return evaluate(f.left, lookup) and evaluate(f.right, lookup)
    if isinstance(f, Or):
        return evaluate(f.left, lookup) or evaluate(f.right, lookup)
    return not evaluate(f.operand, lookup)


def _compare(operator: str, actual: object, expected: Value) -> bool:
    if operator == "ne":
        return not _compare("eq", actual, expected)
    if actual is MISSING:
        return operator == "eq" and expected is None
    if isinstance(actual, list):
        return any(_matches(operator, item, expected) for item in actual)
    return _matches(operator, actual, expected)


def _matches(operator: str, actual: object, expected: Value) -> bool:
    if operator == "eq":
        return _equals(actual, expected)
    if not (isinstance(actual, str) and isinstance(expected, str)):
        return False
    if operator == "co":
        return expected in actual
    if operator == "sw":
        return actual.startswith(expected)
    return operator == "ew" and actual.endswith(expected)


def _equals(actual: object, expected: Value) -> bool:
    # Only compare JSON scalars, so an arbitrary object's __eq__ never runs.
    if not (actual is None or isinstance(actual, str | int | float)):
        return False
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    return actual == expected


def _is_present(value: object) -> bool:
    is_empty = isinstance(value, str | list | dict) and len(value) == 0
    return not (value is MISSING or value is None or is_empty)


class TooCostly(Exception):  # placeholder until the bounded evaluation lands
    pass


def compile(text: str) -> Filter:
    return parse(text)
