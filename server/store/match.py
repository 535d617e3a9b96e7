"""MongoDB's query rules on documents in memory: the embedded store checks here every candidate
its SQL selected (`sqlite.py`), sorts and projects the matches.

Understood: equality (with array elements and dotted paths, through arrays of documents too),
`$eq $ne $gt $gte $lt $lte $in $nin $exists`, and `$and $or`: what the domain asks.
Values compare as MongoDB compares them: numbers by value, booleans never equal to numbers, a
range condition only meets values of its own kind, datetimes as instants (naive ones are UTC).
Anything else is refused with `StoreError` rather than answered wrongly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import bson

from .errors import StoreError

Doc = dict[str, Any]
Filter = Mapping[str, Any]
T = TypeVar("T")

# Immutable values with no parts (tested by exact type).
PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def utc(value: Any) -> Any:
    """`value` with every datetime timezone-aware (naive ones are UTC), or itself if so already."""
    if _aware(value):
        return value
    return dates(value, lambda d: d.replace(tzinfo=dt.UTC) if d.tzinfo is None else d)


def _aware(value: Any) -> bool:
    """Whether `utc` keeps `value`: dicts and lists (not other mappings, tuples) of aware ones."""
    kind = type(value)
    if kind is dict or kind is list:
        parts = value.values() if kind is dict else value
        return all(type(part) in PLAIN or _aware(part) for part in parts)
    if kind is dt.datetime:
        return value.tzinfo is not None
    return kind in PLAIN or not isinstance(value, Mapping | list | tuple | dt.datetime)


def dates(value: Any, convert: Callable[[dt.datetime], dt.datetime]) -> Any:
    """`value` with every datetime in it converted (its mappings as dicts, sequences as lists)."""
    if isinstance(value, dt.datetime):
        return convert(value)
    if isinstance(value, Mapping):
        return {k: dates(v, convert) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dates(v, convert) for v in value]
    return value


# MongoDB's order of types (BSON comparison order) for the types the store holds (booleans are
# tested before numbers: to Python a bool is an int).
_KINDS: tuple[tuple[type | tuple[type, ...], int], ...] = (
    (type(None), 1), (bool, 8), ((int, float), 2), (str, 3), (dict, 4), (list, 5), (bytes, 6),
    (bson.ObjectId, 7), (dt.datetime, 9),
)  # fmt: skip


def kind(value: Any) -> int:
    """A value's place in MongoDB's order of types."""
    for types, order in _KINDS:
        if isinstance(value, types):
            return order
    return 10


def lookup(node: Any, parts: Sequence[str]) -> Iterator[Any]:
    """The values at a dotted path, MongoDB's way: through arrays of documents, and by
    position in arrays."""
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        if head in node:
            yield from lookup(node[head], rest)
    elif isinstance(node, list):
        if head.isdigit() and int(head) < len(node):
            yield from lookup(node[int(head)], rest)
        for element in node:
            if isinstance(element, dict):
                yield from lookup(element, parts)


def _each(values: list[Any]) -> Iterator[Any]:
    """Each value, and each element of the values that are arrays."""
    for value in values:
        yield value
        if isinstance(value, list):
            yield from value


def equal(a: Any, b: Any) -> bool:
    if kind(a) != kind(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _compare(value: Any, operator: str, wanted: Any) -> bool:
    if kind(value) != kind(wanted) or isinstance(value, dict | list):
        return False
    return bool(_COMPARE[operator](value, wanted))


def _equals(values: list[Any], wanted: Any) -> bool:
    if wanted is None and not values:
        return True  # None matches a missing field
    return any(equal(v, wanted) for v in _each(values))


def _operator(values: list[Any], operator: str, arg: Any) -> bool:
    if operator == "$eq":
        return _equals(values, arg)
    if operator == "$ne":
        return not _equals(values, arg)
    if operator == "$in":
        return any(_equals(values, a) for a in arg)
    if operator == "$nin":
        return not any(_equals(values, a) for a in arg)
    if operator in _COMPARE:
        return any(_compare(v, operator, arg) for v in _each(values))
    if operator == "$exists":
        return bool(values) == bool(arg)
    raise StoreError(f"The embedded store does not understand the query operator {operator}")


def is_operators(cond: Any) -> bool:
    return isinstance(cond, Mapping) and bool(cond) and all(str(k).startswith("$") for k in cond)


def _condition(values: list[Any], cond: Any) -> bool:
    if is_operators(cond):
        return all(_operator(values, op, arg) for op, arg in cond.items())
    return _equals(values, cond)


def matches(doc: Doc, filter: Filter) -> bool:
    """Whether `doc` meets `filter` (datetimes in both timezone-aware: see `utc`)."""
    for key, cond in filter.items():
        if key == "$and":
            ok = all(matches(doc, f) for f in cond)
        elif key == "$or":
            ok = any(matches(doc, f) for f in cond)
        elif key.startswith("$"):
            raise StoreError(f"The embedded store does not understand the query operator {key}")
        elif type(cond) is str and type(value := doc.get(key)) is str:
            ok = value == cond  # (the most frequent condition, decided at once)
        elif (
            type(cond) is dict
            and len(cond) == 1
            and type(ins := cond.get("$in")) is list
            and type(value := doc.get(key)) is str
        ):
            ok = value in ins  # (ids by the hundred: a string equals only an equal string)
        else:
            ok = _condition(list(lookup(doc, key.split("."))), cond)
        if not ok:
            return False
    return True


def matcher(filter: Filter) -> Callable[[Doc], bool]:
    """`matches` for one filter, compiled for many documents (a report's batches). Top-level
    string equalities and datetime ranges (a report's filter) are checked directly on documents
    whose values are plain (a string, a datetime); any other document or filter shape gets
    `matches` itself, so the verdict is always the same."""
    equal: list[tuple[str, str]] = []
    ranges: list[tuple[str, Callable[[Any, Any], bool], dt.datetime]] = []
    for field, cond in filter.items():
        if field.startswith("$") or "." in field:
            return lambda doc: matches(doc, filter)
        if type(cond) is str:
            equal.append((field, cond))
        elif is_operators(cond) and all(
            op in _COMPARE and type(arg) is dt.datetime and arg.tzinfo is not None
            for op, arg in cond.items()
        ):
            ranges += [(field, _COMPARE[op], arg) for op, arg in cond.items()]
        else:
            return lambda doc: matches(doc, filter)

    def check(doc: Doc) -> bool:
        for field, wanted in equal:
            value = doc.get(field)
            if type(value) is not str:
                return matches(doc, filter)  # missing, an array, another type
            if value != wanted:
                return False
        for field, compare, bound in ranges:
            value = doc.get(field)
            if type(value) is not dt.datetime:
                return matches(doc, filter)
            if not compare(value, bound):
                return False
        return True

    return check


def _sort_value(doc: Doc, field: str, descending: bool) -> tuple[int, Any]:
    values = list(lookup(doc, field.split(".")))
    if not values:
        return (1, 0)  # missing sorts with None
    value = values[0] if len(values) == 1 else values
    if isinstance(value, list):
        if not value:
            return (5, 0)
        keys = [_sort_value({"v": v}, "v", descending) for v in value]
        return max(keys) if descending else min(keys)
    if isinstance(value, dict):
        return (4, bson.encode(value))
    if value is None:
        return (1, 0)
    return (kind(value), value)


def sort(items: list[T], order: Sequence[tuple[str, int]], doc: Callable[[T], Doc]) -> list[T]:
    """The items in MongoDB's order of their documents by `order` (1 ascending, -1 descending)."""
    for field, direction in reversed(order):
        descending = direction < 0
        items.sort(key=lambda i: _sort_value(doc(i), field, descending), reverse=descending)
    return items


def projector(projection: Mapping[str, Any] | None) -> Any:
    """A function giving what a projection keeps of a document (top-level fields)."""
    if not projection:
        return None
    keep_id = bool(projection.get("_id", 1))
    fields = {k: bool(v) for k, v in projection.items() if k != "_id"}
    if fields and len(set(fields.values())) > 1:
        raise StoreError("A projection either includes or excludes fields")
    including = not fields or next(iter(fields.values()))
    if including:
        wanted = [f for f in fields if "." not in f]
        if len(wanted) != len(fields):
            raise StoreError("The embedded store projects top-level fields only")

        def include(doc: Doc) -> Doc:
            out = {"_id": doc["_id"]} if keep_id and "_id" in doc else {}
            out.update((f, doc[f]) for f in wanted if f in doc)
            return out

        return include
    dropped = set(fields) | (set() if keep_id else {"_id"})

    def exclude(doc: Doc) -> Doc:
        return {k: v for k, v in doc.items() if k not in dropped}

    return exclude
