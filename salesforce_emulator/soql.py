"""A SOQL subset, parsed and evaluated in memory (pure: no I/O, no org state).

Supported: ``SELECT COUNT()`` or a field list (fields of the object and of its parents, e.g.
``Account.Name``, ``What.Name``/``What.Type`` on the polymorphic ``WhatId``) ``FROM`` one object,
``WHERE`` with ``= != <> < <= > >=``, ``[NOT] IN (…)``, ``LIKE``, ``NOT``, ``AND``/``OR`` with
parentheses (mixing them on one level without parentheses is an error, as in Salesforce),
``ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], …``, ``LIMIT n``, ``OFFSET n``. Literals: strings in
single quotes, numbers, ``true``/``false``/``null``, dates (``2026-01-01``), datetimes
(``2026-01-01T00:00:00Z``, ``+00:00`` or ``.000+0000``) and the date literals ``TODAY``,
``YESTERDAY``, ``TOMORROW``, ``LAST_N_DAYS:n`` and ``NEXT_N_DAYS:n`` (days in UTC). String
comparisons ignore case; ids compare in their 18-character form whichever length was written.

A query binds to the schema as one user sees it: an object they cannot read is an unknown type, a
field hidden from them an unknown column, a relationship to an unreadable object an unknown
relationship (a polymorphic one still tells the parent's type, not its name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from .ids import KEY_PREFIXES, to_18
from .schema import (
    ID_TYPES,
    SCHEMA,
    STRING_TYPES,
    Field,
    FieldType,
    SObjectType,
    parse_datetime,
    sobject_type,
    to_json,
)

Record = dict[str, Any]
Resolver = Callable[[str], Record | None]
"""Finds a live record by its 18-character id, for relationship fields."""

_TYPE_BY_PREFIX = {prefix: name for name, prefix in KEY_PREFIXES.items()}
MAX_OFFSET = 2000


class Visibility(Protocol):
    """What the querying user may read (``access.Visibility``)."""

    def object_readable(self, type_name: str) -> bool: ...

    def field_readable(self, type_name: str, field_name: str) -> bool: ...


class _Everything:
    def object_readable(self, type_name: str) -> bool:
        return True

    def field_readable(self, type_name: str, field_name: str) -> bool:
        return True


EVERYTHING: Visibility = _Everything()


class SoqlError(Exception):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


# --- tokens ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::\d+)?)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    (
        *("select", "from", "where", "and", "or", "not", "in", "like", "order", "by"),
        *("asc", "desc", "nulls", "first", "last", "limit", "offset", "true", "false", "null"),
        *("group", "having", "with", "for", "using", "includes", "excludes", "typeof"),
    )
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str  # string, datetime, date, number, op, punct, word, eof
    text: str
    position: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(text: str) -> list[Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _unexpected(text, position, text[position:].split(None, 1)[0])
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


def _unexpected(text: str, position: int, token: str) -> SoqlError:
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, position) + 1
    column = position - line_start
    message = (
        f"\n{line}\n{' ' * column}^\nERROR at Row:{row}:Column:{column + 1}\n"
        f"unexpected token: '{token}'"
    )
    return SoqlError("MALFORMED_QUERY", message)


# --- syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    kind: str  # string, datetime, date, number, boolean, null, relative
    value: Any


@dataclass(frozen=True)
class Comparison:
    path: str
    operator: str
    literal: Literal


@dataclass(frozen=True)
class Membership:
    path: str
    literals: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    path: str
    pattern: str


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class Junction:
    operator: str  # and, or
    operands: tuple[Condition, ...]


Condition = Comparison | Membership | Like | Not | Junction


@dataclass(frozen=True)
class OrderItem:
    path: str
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    sobject: str
    fields: tuple[str, ...]  # empty for COUNT()
    count: bool
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, token: Token | None = None) -> SoqlError:
        token = token or self.token
        return _unexpected(self.text, token.position, token.text)

    def expect_word(self, word: str) -> None:
        if not self.token.is_word(word):
            raise self.fail()
        self.advance()

    def expect_punct(self, punct: str) -> None:
        if self.token.kind != "punct" or self.token.text != punct:
            raise self.fail()
        self.advance()

    def name(self) -> str:
        token = self.token
        if token.kind != "word" or token.text.lower() in _KEYWORDS or ":" in token.text:
            raise self.fail()
        self.advance()
        return token.text

    def query(self) -> Query:
        self.expect_word("select")
        fields: list[str] = []
        count = False
        if self.token.is_word("count") and self.tokens[self.index + 1].text == "(":
            self.advance()
            self.expect_punct("(")
            self.expect_punct(")")
            count = True
        else:
            fields.append(self.select_item())
            while self.token.text == ",":
                self.advance()
                fields.append(self.select_item())
        self.expect_word("from")
        sobject = self.name()
        if self.token.kind == "word" and self.token.text.lower() not in _KEYWORDS:
            raise SoqlError("MALFORMED_QUERY", "object aliases are not supported by the emulator")
        where = None
        if self.token.is_word("where"):
            self.advance()
            where = self.condition()
        order_by: list[OrderItem] = []
        if self.token.is_word("order"):
            self.advance()
            self.expect_word("by")
            order_by.append(self.order_item())
            while self.token.text == ",":
                self.advance()
                order_by.append(self.order_item())
        limit = offset = None
        if self.token.is_word("limit"):
            self.advance()
            limit = self.integer()
        if self.token.is_word("offset"):
            self.advance()
            offset = self.integer()
        if self.token.kind != "eof":
            raise self.fail()
        return Query(sobject, tuple(fields), count, where, tuple(order_by), limit, offset)

    def select_item(self) -> str:
        if self.token.text == "(":
            raise SoqlError("MALFORMED_QUERY", "subqueries are not supported by the emulator")
        if self.token.kind == "word" and self.tokens[self.index + 1].text == "(":
            raise SoqlError(
                "MALFORMED_QUERY", "aggregate functions are not supported by the emulator"
            )
        return self.name()

    def integer(self) -> int:
        token = self.token
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail()
        self.advance()
        return int(token.text)

    def order_item(self) -> OrderItem:
        path = self.name()
        descending = False
        if self.token.is_word("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        nulls_last = descending
        if self.token.is_word("nulls"):
            self.advance()
            if not self.token.is_word("first", "last"):
                raise self.fail()
            nulls_last = self.advance().text.lower() == "last"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        operands = [self.operand()]
        operator = None
        while self.token.is_word("and", "or"):
            word = self.token.text.lower()
            if operator is not None and word != operator:
                raise self.fail()  # SOQL wants parentheses when AND and OR are mixed
            operator = word
            self.advance()
            operands.append(self.operand())
        if operator is None:
            return operands[0]
        return Junction(operator, tuple(operands))

    def operand(self) -> Condition:
        if self.token.is_word("not"):
            self.advance()
            return Not(self.operand())
        if self.token.text == "(":
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        path = self.name()
        if self.token.kind == "op":
            operator = self.advance().text
            return Comparison(path, "!=" if operator == "<>" else operator, self.literal())
        negated = False
        if self.token.is_word("not"):
            self.advance()
            negated = True
            if not self.token.is_word("in"):
                raise self.fail()
        if self.token.is_word("in"):
            self.advance()
            self.expect_punct("(")
            literals = [self.literal()]
            while self.token.text == ",":
                self.advance()
                literals.append(self.literal())
            self.expect_punct(")")
            return Membership(path, tuple(literals), negated)
        if self.token.is_word("like"):
            self.advance()
            token = self.token
            literal = self.literal()
            if literal.kind != "string":
                raise SoqlError("MALFORMED_QUERY", f"LIKE on {path} needs a quoted pattern")
            return Like(path, _unquote(token.text, like=True))
        raise self.fail()

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind == "string":
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            return Literal("number", float(token.text))
        if token.kind == "datetime":
            try:
                return Literal("datetime", parse_datetime(token.text))
            except ValueError:
                raise self.fail(token) from None
        if token.kind == "date":
            try:
                return Literal("date", date.fromisoformat(token.text))
            except ValueError:
                raise self.fail(token) from None
        if token.is_word("true", "false"):
            return Literal("boolean", token.text.lower() == "true")
        if token.is_word("null"):
            return Literal("null", None)
        if token.kind == "word" and _relative_days(token.text) is not None:
            return Literal("relative", token.text.upper())
        raise self.fail(token)


def _unquote(quoted: str, *, like: bool = False) -> str:
    """A string literal's value. For LIKE, escapes that mean something to the pattern stay
    escaped: \\% and \\_ (a literal % or _) and \\\\ (a literal backslash)."""
    body = quoted[1:-1]
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            # \% and \_ stay escaped: they only mean something to LIKE.
            if like and following == "\\":
                out.append("\\\\")
            else:
                out.append(_ESCAPES.get(following, "\\" + following))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _relative_days(word: str) -> tuple[int, int] | None:
    """A date literal as a day range relative to today: (first day offset, days long)."""
    upper = word.upper()
    fixed = {"TODAY": (0, 1), "YESTERDAY": (-1, 1), "TOMORROW": (1, 1)}
    if upper in fixed:
        return fixed[upper]
    match = re.fullmatch(r"(LAST|NEXT)_N_DAYS:(\d+)", upper)
    if match is None:
        return None
    days = int(match.group(2))
    # LAST_N_DAYS:n covers the n days before today and today; NEXT_N_DAYS:n today and n after.
    return (-days, days + 1) if match.group(1) == "LAST" else (0, days + 1)


def parse(text: str) -> Query:
    """The syntax tree of a SOQL query, or SoqlError(MALFORMED_QUERY)."""
    return _Parser(text).query()


# --- binding to the schema ---------------------------------------------------------------

Getter = Callable[[Record, Resolver], Any]


@dataclass(frozen=True)
class _Path:
    """A resolved field path: its canonical names, type and how to read it from a record."""

    names: tuple[str, ...]
    field: Field
    get: Getter


def _no_such_column(name: str, sobject: SObjectType) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{sobject.name}'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names.",
    )


_POLYMORPHIC_FIELDS = {
    "id": Field("Id", FieldType.ID),
    "name": Field("Name", FieldType.STRING),
    "type": Field("Type", FieldType.STRING),
}


def _resolve(text: str, sobject: SObjectType, visible: Visibility) -> _Path:
    parts = text.split(".")
    if len(parts) > 1 and parts[0].lower() == sobject.name.lower():
        parts = parts[1:]  # SELECT Opportunity.Name FROM Opportunity
    if len(parts) == 1:
        field_ = sobject.field(parts[0])
        if field_ is None or not visible.field_readable(sobject.name, field_.name):
            raise _no_such_column(parts[0], sobject)
        name = field_.name
        return _Path((name,), field_, lambda record, _resolver: record.get(name))
    relationship = sobject.relationship(parts[0])
    if relationship is not None and (
        not visible.field_readable(sobject.name, relationship.name)
        or not any(visible.object_readable(t) for t in relationship.reference_to)
    ):
        relationship = None
    if relationship is None:
        raise SoqlError(
            "INVALID_FIELD",
            f"Didn't understand relationship '{parts[0]}' in field path. If you are attempting "
            "to use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )
    key = relationship.name
    rel_name = relationship.relationship_name or ""

    def parent(record: Record, resolver: Resolver) -> Record | None:
        parent_id = record.get(key)
        return resolver(parent_id) if parent_id else None

    if relationship.polymorphic:
        if len(parts) != 2 or parts[1].lower() not in _POLYMORPHIC_FIELDS:
            raise _no_such_column(parts[-1], sobject)
        field_ = _POLYMORPHIC_FIELDS[parts[1].lower()]

        def polymorphic_get(record: Record, resolver: Resolver) -> Any:
            target = parent(record, resolver)
            if target is None:
                return None
            type_name = _TYPE_BY_PREFIX[target["Id"][:3]]
            if field_.name == "Type":
                return type_name
            if field_.name == "Name":
                name_field = SCHEMA[type_name.lower()].name_field
                if not visible.object_readable(type_name):
                    return None
                if not visible.field_readable(type_name, name_field):
                    return None
                return target.get(name_field)
            return target["Id"]

        return _Path((rel_name, field_.name), field_, polymorphic_get)
    target_type = SCHEMA[relationship.reference_to[0].lower()]
    inner = _resolve(".".join(parts[1:]), target_type, visible)

    def related_get(record: Record, resolver: Resolver) -> Any:
        target = parent(record, resolver)
        return None if target is None else inner.get(target, resolver)

    return _Path((rel_name, *inner.names), inner.field, related_get)


# --- conditions --------------------------------------------------------------------------

Predicate = Callable[[Record, Resolver], bool]
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _bad_value(field_: Field, expected: str) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"value of filter criterion for field '{field_.name}' must be of type {expected} and "
        "should not be enclosed in quotes",
    )


def _value(field_: Field, literal: Literal) -> Any:
    """A literal as a value comparable with the field's stored values (strings casefolded)."""
    kind = field_.type
    if kind in ID_TYPES:
        if literal.kind != "string":
            raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{field_.name}'")
        full = to_18(literal.value)
        if full is None:
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}")
        return full
    if kind in STRING_TYPES:
        if literal.kind != "string":
            raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{field_.name}'")
        return literal.value.casefold()
    expected = {
        FieldType.BOOLEAN: ("boolean", "boolean"),
        FieldType.INT: ("number", "int"),
        FieldType.DOUBLE: ("number", "double"),
        FieldType.DATE: ("date", "date"),
        FieldType.DATETIME: ("datetime", "dateTime"),
    }[kind]
    if literal.kind != expected[0]:
        raise _bad_value(field_, expected[1])
    return literal.value


def _stored(field_: Field, value: Any) -> Any:
    if value is not None and field_.type in STRING_TYPES:
        return value.casefold()
    return value


def _range(field_: Field, word: str, now: datetime) -> tuple[Any, Any]:
    span = _relative_days(word)
    assert span is not None
    today = now.astimezone(UTC).date()
    first = today + timedelta(days=span[0])
    after = first + timedelta(days=span[1])
    if field_.type is FieldType.DATE:
        return first, after
    if field_.type is FieldType.DATETIME:
        return (
            datetime(first.year, first.month, first.day, tzinfo=UTC),
            datetime(after.year, after.month, after.day, tzinfo=UTC),
        )
    raise _bad_value(field_, field_.type.value)


def _check_filterable(field_: Field) -> None:
    if field_.type is FieldType.TEXTAREA:
        raise SoqlError("INVALID_FIELD", f"field '{field_.name}' can not be filtered in query call")


def _compile_comparison(
    node: Comparison, sobject: SObjectType, now: datetime, visible: Visibility
) -> Predicate:
    path = _resolve(node.path, sobject, visible)
    field_, get, operator = path.field, path.get, node.operator
    _check_filterable(field_)
    if node.literal.kind == "null":
        if operator == "=":
            return lambda r, res: get(r, res) is None
        if operator == "!=":
            return lambda r, res: get(r, res) is not None
        raise SoqlError("MALFORMED_QUERY", f"invalid operator on null for field {field_.name}")
    if node.literal.kind == "relative":
        start, end = _range(field_, node.literal.value, now)

        def inside(r: Record, res: Resolver) -> bool:
            value = get(r, res)
            return value is not None and start <= value < end

        if operator == "=":
            return inside
        if operator == "!=":
            return lambda r, res: not inside(r, res)
        bound = {"<": start, "<=": end, ">": end, ">=": start}[operator]
        strict = {"<": True, "<=": True, ">": False, ">=": False}[operator]

        def relative(r: Record, res: Resolver) -> bool:
            value = get(r, res)
            if value is None:
                return False
            return bool(value < bound) if strict else bool(value >= bound)

        return relative
    if field_.type is FieldType.BOOLEAN and operator not in ("=", "!="):
        raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {field_.name}")
    wanted = _value(field_, node.literal)
    if operator == "=":
        return lambda r, res: _stored(field_, get(r, res)) == wanted
    if operator == "!=":
        return lambda r, res: _stored(field_, get(r, res)) != wanted
    compare = _ORDERINGS[operator]

    def ordered(r: Record, res: Resolver) -> bool:
        value = _stored(field_, get(r, res))
        return value is not None and compare(value, wanted)

    return ordered


def _like_pattern(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _compile_condition(
    node: Condition, sobject: SObjectType, now: datetime, visible: Visibility
) -> Predicate:
    if isinstance(node, Comparison):
        return _compile_comparison(node, sobject, now, visible)
    if isinstance(node, Membership):
        path = _resolve(node.path, sobject, visible)
        _check_filterable(path.field)
        values = {
            None if literal.kind == "null" else _value(path.field, literal)
            for literal in node.literals
        }
        member_get, member_field = path.get, path.field
        if node.negated:
            return lambda r, res: _stored(member_field, member_get(r, res)) not in values
        return lambda r, res: _stored(member_field, member_get(r, res)) in values
    if isinstance(node, Like):
        path = _resolve(node.path, sobject, visible)
        _check_filterable(path.field)
        if path.field.type not in STRING_TYPES:
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on id field: {path.field.name}"
            )
        regex = _like_pattern(node.pattern)
        like_get = path.get

        def like(r: Record, res: Resolver) -> bool:
            value = like_get(r, res)
            return value is not None and regex.fullmatch(value) is not None

        return like
    if isinstance(node, Not):
        inner = _compile_condition(node.operand, sobject, now, visible)
        return lambda r, res: not inner(r, res)
    parts = [_compile_condition(operand, sobject, now, visible) for operand in node.operands]
    if node.operator == "and":
        return lambda r, res: all(p(r, res) for p in parts)
    return lambda r, res: any(p(r, res) for p in parts)


# --- compiled queries --------------------------------------------------------------------


@dataclass(frozen=True)
class _Sort:
    get: Getter
    field: Field
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class CompiledQuery:
    sobject: SObjectType
    columns: tuple[_Path, ...]
    count_only: bool
    predicate: Predicate | None
    sorts: tuple[_Sort, ...]
    limit: int | None
    offset: int

    def run(self, rows: Iterable[Record], resolver: Resolver) -> list[Record]:
        """The matching records, ordered, after OFFSET and LIMIT."""
        predicate = self.predicate
        matched = list(rows) if predicate is None else [r for r in rows if predicate(r, resolver)]
        for sort in reversed(self.sorts):
            matched.sort(key=_sort_key(sort, resolver), reverse=sort.descending)
        end = None if self.limit is None else self.offset + self.limit
        return matched[self.offset : end]

    def project(self, record: Record, resolver: Resolver, version: str) -> dict[str, Any]:
        """A record as the REST API returns it: ``attributes`` first, then the selected fields
        in order, parent fields nested under the relationship name (null without a parent)."""
        out: dict[str, Any] = {"attributes": _attributes(self.sobject.name, record, version)}
        for column in self.columns:
            _place(out, record, column, self.sobject, resolver, version)
        return out


def _sort_key(sort: _Sort, resolver: Resolver) -> Callable[[Record], tuple[int, Any]]:
    # Nulls go in their own group, placed first or last whichever way the sort runs.
    null_group = 0 if sort.nulls_last == sort.descending else 2

    def key(record: Record) -> tuple[int, Any]:
        value = _stored(sort.field, sort.get(record, resolver))
        return (null_group, 0) if value is None else (1, value)

    return key


def _attributes(type_name: str, record: Record, version: str) -> dict[str, str]:
    return {
        "type": type_name,
        "url": f"/services/data/v{version}/sobjects/{type_name}/{record['Id']}",
    }


def _place(
    out: dict[str, Any],
    record: Record,
    column: _Path,
    sobject: SObjectType,
    resolver: Resolver,
    version: str,
) -> None:
    if len(column.names) == 1:
        out[column.names[0]] = to_json(record.get(column.names[0]))
        return
    rel_name = column.names[0]
    relationship = sobject.relationship(rel_name)
    assert relationship is not None
    parent_id = record.get(relationship.name)
    parent = resolver(parent_id) if parent_id else None
    if parent is None:
        out[rel_name] = None
        return
    nested = out.get(rel_name)
    parent_type = _TYPE_BY_PREFIX[parent["Id"][:3]]
    if nested is None:
        attributes = _attributes(parent_type, parent, version)
        if relationship.polymorphic:
            attributes["type"] = "Name"  # polymorphic parents come back as the Name object
        nested = out[rel_name] = {"attributes": attributes}
    if relationship.polymorphic:
        nested[column.names[1]] = to_json(column.get(record, resolver))
        return
    tail = _Path(column.names[1:], column.field, lambda r, res: None)
    _place(nested, parent, tail, SCHEMA[parent_type.lower()], resolver, version)


def compile_query(query: Query, now: datetime, visible: Visibility = EVERYTHING) -> CompiledQuery:
    """Bind a parsed query to the schema as a user sees it, or SoqlError (INVALID_TYPE,
    INVALID_FIELD, …)."""
    sobject = sobject_type(query.sobject)
    if sobject is None or not visible.object_readable(sobject.name):
        raise SoqlError(
            "INVALID_TYPE",
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
        )
    columns = tuple(_resolve(name, sobject, visible) for name in query.fields)
    seen: set[tuple[str, ...]] = set()
    for column in columns:
        key = tuple(n.lower() for n in column.names)
        if key in seen:
            raise SoqlError(
                "MALFORMED_QUERY", f"duplicate field selected: {'.'.join(column.names)}"
            )
        seen.add(key)
    sorts = []
    for item in query.order_by:
        path = _resolve(item.path, sobject, visible)
        if path.field.type is FieldType.TEXTAREA:
            raise SoqlError(
                "INVALID_FIELD", f"field '{path.field.name}' can not be sorted in a query call"
            )
        sorts.append(_Sort(path.get, path.field, item.descending, item.nulls_last))
    offset = query.offset or 0
    if offset > MAX_OFFSET:
        raise SoqlError(
            "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    predicate = (
        None if query.where is None else _compile_condition(query.where, sobject, now, visible)
    )
    return CompiledQuery(
        sobject, columns, query.count, predicate, tuple(sorts), query.limit, offset
    )


def prepare(text: str, now: datetime, visible: Visibility = EVERYTHING) -> CompiledQuery:
    """Parse and bind in one step."""
    return compile_query(parse(text), now, visible)
