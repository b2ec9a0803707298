"""CQL2 text (OGC 21-065) for simple comparisons, parsed into a small typed tree.

What is read: `=`, `<>`, `<`, `>`, `<=`, `>=`, `AND`, `OR`, `NOT`, `[NOT] LIKE`,
`[NOT] IN (...)`, `IS [NOT] NULL`, parentheses, `TRUE`/`FALSE`, and literals (strings,
numbers, booleans, `DATE('...')`, `TIMESTAMP('...')`). Anything else (spatial and
temporal functions, BETWEEN, arithmetic, CASEI) is refused with a message naming it.
The tree knows nothing of SQL: `survey.ogc.features` compiles it against a collection's
queryables, so only listed properties can ever reach a statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal as TypingLiteral

from survey.errors import InvalidQuery

MAX_LENGTH = 4_000
MAX_DEPTH = 40

CompareOp = TypingLiteral["=", "<>", "<", ">", "<=", ">="]
LiteralKind = TypingLiteral["string", "number", "boolean", "date", "timestamp"]
Value = str | int | float | bool | date | datetime


@dataclass(frozen=True)
class Literal:
    value: Value
    kind: LiteralKind


@dataclass(frozen=True)
class Comparison:
    """`property op value` (a `value op property` written the other way round)."""

    prop: str
    op: CompareOp
    value: Literal


@dataclass(frozen=True)
class Like:
    prop: str
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class In:
    prop: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    prop: str
    negated: bool = False


@dataclass(frozen=True)
class Constant:
    value: bool


@dataclass(frozen=True)
class And:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    part: Expr


Expr = Comparison | Like | In | IsNull | Constant | And | Or | Not

# one alternative per token kind; order matters (<= before <, numbers before names)
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")+")
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><>|<=|>=|!=|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.:]*)
""", re.VERBOSE)

_FLIP: dict[str, CompareOp] = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=",
                               ">=": "<="}
_OPS: dict[str, CompareOp] = {op: op for op in _FLIP.values()}
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL", "TRUE", "FALSE", "DATE",
             "TIMESTAMP"}
# named so that a refusal says what was meant, not only "unexpected"
_UNSUPPORTED = {"BETWEEN", "ILIKE", "CASEI", "ACCENTI", "INTERVAL", "A_CONTAINS",
                "A_EQUALS", "A_OVERLAPS", "A_CONTAINEDBY", "DIV"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string, quoted, number, op, punct, name, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise InvalidQuery(f"filter: cannot read {text[at:at + 12]!r} at character "
                               f"{at + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), at))
        at = match.end()
    out.append(_Token("end", "", len(text)))
    return out


def _parse_date(text: str) -> date:
    # GDAL's OAPIF driver writes a date as 'YYYY-MM-DDT'
    try:
        return date.fromisoformat(text.removesuffix("T"))
    except ValueError as exc:
        raise InvalidQuery(f"filter: {text!r} is not a date (YYYY-MM-DD)") from exc


def _parse_timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise InvalidQuery(f"filter: {text!r} is not a timestamp "
                           "(YYYY-MM-DDTHH:MM:SSZ)") from exc
    if value.tzinfo is None:
        raise InvalidQuery(f"filter: timestamp {text!r} needs a time zone (Z for UTC)")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0

    # --- the cursor ---

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    def is_word(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "name" and token.text.upper() == word

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text.upper() != text:
            raise self.error(token, f"expected {text!r}")

    def error(self, token: _Token, what: str) -> InvalidQuery:
        found = repr(token.text) if token.kind != "end" else "the end of the filter"
        return InvalidQuery(f"filter: {what} at character {token.at + 1}, found {found}")

    # --- booleanExpression = term {OR term}; term = factor {AND factor} ---

    def expression(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidQuery(f"filter: nested more than {MAX_DEPTH} levels deep")
        parts = [self.term()]
        while self.is_word("OR"):
            self.take()
            parts.append(self.term())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def term(self) -> Expr:
        parts = [self.factor()]
        while self.is_word("AND"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def factor(self) -> Expr:
        if self.is_word("NOT"):
            self.take()
            return Not(self.factor())
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        return self.predicate()

    # --- predicates ---

    def predicate(self) -> Expr:
        token = self.peek()
        if token.kind == "name" and token.text.upper() in ("TRUE", "FALSE") and (
                self.peek(1).kind in ("end", "punct") or self.is_word("AND", 1)
                or self.is_word("OR", 1)):
            self.take()
            return Constant(token.text.upper() == "TRUE")
        if self._is_property(token):
            return self.property_predicate(self.property_name())
        left = self.literal()
        op = self.take()
        if op.kind != "op":
            raise self.error(op, "expected a comparison (=, <>, <, >, <=, >=)")
        right = self.peek()
        if not self._is_property(right):
            raise self.error(right, "expected a property name: compare a property "
                                    "with a value")
        return Comparison(self.property_name(), _FLIP[_op(op.text)], left)

    def _is_property(self, token: _Token) -> bool:
        if token.kind == "quoted":
            return True
        if token.kind != "name":
            return False
        word = token.text.upper()
        if word in _UNSUPPORTED or (self.peek(1).text == "(" and word not in _KEYWORDS):
            raise InvalidQuery(f"filter: {token.text} is not supported here: only "
                               "comparisons, LIKE, IN and IS NULL joined by AND, OR and "
                               "NOT are")
        return word not in _KEYWORDS

    def property_name(self) -> str:
        token = self.take()
        if token.kind == "quoted":
            return token.text[1:-1].replace('""', '"')
        return token.text

    def property_predicate(self, prop: str) -> Expr:
        token = self.peek()
        if token.kind == "op":
            self.take()
            value_token = self.peek()
            if self._is_property(value_token):
                raise self.error(value_token, "expected a value: compare a property with "
                                              "a value")
            return Comparison(prop, _op(token.text), self.literal())
        negated = False
        if self.is_word("NOT"):
            self.take()
            negated = True
        if self.is_word("LIKE"):
            self.take()
            pattern = self.literal()
            if pattern.kind != "string":
                raise InvalidQuery("filter: LIKE takes a quoted pattern, e.g. 'UA-%'")
            return Like(prop, str(pattern.value), negated)
        if self.is_word("IN"):
            self.take()
            self.expect("(")
            values = [self.literal()]
            while self.peek().text == ",":
                self.take()
                values.append(self.literal())
            self.expect(")")
            return In(prop, tuple(values), negated)
        if self.is_word("IS") and not negated:
            self.take()
            if self.is_word("NOT"):
                self.take()
                negated = True
            self.expect("NULL")
            return IsNull(prop, negated)
        if self.is_word("BETWEEN"):
            raise InvalidQuery("filter: BETWEEN is not supported: write "
                               "prop >= a AND prop <= b")
        raise self.error(self.peek(), f"expected a comparison after {prop!r} (=, <>, <, >, "
                                      "<=, >=, LIKE, IN or IS NULL)")

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), "string")
        if token.kind == "number":
            text = token.text
            number: int | float = (int(text) if re.fullmatch(r"[+-]?\d+", text)
                                   else float(text))
            return Literal(number, "number")
        if token.kind == "name":
            word = token.text.upper()
            if word in ("TRUE", "FALSE"):
                return Literal(word == "TRUE", "boolean")
            if word in ("DATE", "TIMESTAMP"):
                self.expect("(")
                inner = self.take()
                if inner.kind != "string":
                    raise self.error(inner, f"{word} takes a quoted value")
                self.expect(")")
                text = inner.text[1:-1]
                if word == "DATE":
                    return Literal(_parse_date(text), "date")
                return Literal(_parse_timestamp(text), "timestamp")
        raise self.error(token, "expected a value (a 'string', a number, TRUE, FALSE, "
                                "DATE('...') or TIMESTAMP('...'))")


def _op(text: str) -> CompareOp:
    return _OPS["<>" if text == "!=" else text]


def parse(text: str) -> Expr:
    """The tree of a CQL2 text filter; InvalidQuery says what could not be read."""
    if len(text) > MAX_LENGTH:
        raise InvalidQuery(f"filter: longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise InvalidQuery("filter: empty")
    parser = _Parser(text)
    tree = parser.expression()
    end = parser.peek()
    if end.kind != "end":
        raise parser.error(end, "expected AND, OR or the end of the filter")
    return tree


def properties_of(tree: Expr) -> set[str]:
    """The property names a tree compares."""
    if isinstance(tree, And | Or):
        return set().union(*(properties_of(part) for part in tree.parts))
    if isinstance(tree, Not):
        return properties_of(tree.part)
    if isinstance(tree, Constant):
        return set()
    return {tree.prop}
