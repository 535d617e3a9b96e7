"""Single-document operations addressed by `_id`, planned and applied without the engine's query
machinery: the pure half of the embedded store's fast path (`EmbeddedCollection` does the I/O).

Each function answers only for the shapes it fully understands and returns None (or `UNSURE`)
for anything else; the caller then hands the whole operation to the engine, which stays the
reference for every rule. Understood here:

- filters: `{"_id": <str>}` plus equality conditions on top-level or dotted fields against a
  string, a number, a boolean or None (`{"_id": e, "end": None}`, `{"_id": u, "entry._id": e}`);
  for reads of many documents, such equality conditions alone (`{"user_id": u}`), and
  projections that keep some top-level fields;
- updates: `$set`, `$setOnInsert`, `$unset` and `$inc` on top-level fields, each field named once,
  with values made of strings, numbers, booleans, None, datetimes, lists and documents.

Values are stored as the engine stores them: datetimes naive UTC, truncated to the millisecond
(MongoDB's precision), tuples as lists.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

Doc = dict[str, Any]


class Unsure:
    """The shape is not one this module decides: ask the engine."""

    def __repr__(self) -> str:
        return "UNSURE"


UNSURE: Final = Unsure()
_MISSING: Final = object()

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_CONDITION_TYPES: Final = (str, int, float, bool, type(None))
# Stored values a condition can be decided against; anything else (Decimal128, ObjectId, ...)
# has comparison rules this module does not reproduce.
_DECIDABLE: Final = (str, int, float, bool, type(None), dict, dt.datetime)
_OPERATORS: Final = frozenset({"$set", "$setOnInsert", "$unset", "$inc"})


# (path parts, wanted value) for each equality condition of a filter
Conditions = tuple[tuple[tuple[str, ...], Any], ...]


@dataclass(frozen=True)
class KeyFilter:
    key: str
    conditions: Conditions  # every condition besides `_id`


@dataclass(frozen=True)
class Change:
    operator: str
    field: str
    value: Any


def _valid_name(name: Any) -> bool:
    return (
        type(name) is str
        and name != ""
        and not name.startswith("$")
        and "." not in name
        and "\x00" not in name
    )


def equality_conditions(filter: Mapping[str, Any], *, skip: str = "") -> Conditions | None:
    """The conditions of a filter made only of equalities between a field (top-level or
    dotted) and a string, a number, a boolean or None; None for any other filter."""
    conditions = []
    for field, value in filter.items():
        if field == skip:
            continue
        if type(field) is not str:
            return None
        parts = tuple(field.split("."))
        if not all(_valid_name(p) for p in parts):
            return None
        if type(value) not in _CONDITION_TYPES or (type(value) is float and math.isnan(value)):
            return None  # NaN equals NaN in MongoDB
        conditions.append((parts, value))
    return tuple(conditions)


def key_filter(filter: Mapping[str, Any]) -> KeyFilter | None:
    """The plan for a filter naming one document by a string `_id`, or None."""
    key = filter.get("_id", _MISSING)
    if type(key) is not str:
        return None
    conditions = equality_conditions(filter, skip="_id")
    return None if conditions is None else KeyFilter(key, conditions)


def projected_fields(projection: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The top-level fields an inclusion projection (`{"a": 1, "b": True}`) keeps besides
    `_id`, or None for any other projection."""
    if not projection:
        return None
    for field, value in projection.items():
        if not _valid_name(field) or field == "_id":
            return None
        if value is not True and (type(value) is not int or value != 1):
            return None
    return tuple(projection)


def project(doc: Doc, fields: tuple[str, ...] | None) -> Doc:
    if fields is None:
        return doc
    projected = {"_id": doc["_id"]}
    for field in fields:
        if field in doc:
            projected[field] = doc[field]
    return projected


def matches(doc: Doc, conditions: Conditions) -> bool | None:
    """Whether `doc` (as stored) meets the conditions; None when undecided here (arrays on
    the path, booleans against numbers, exotic types)."""
    for parts, wanted in conditions:
        value: Any = doc
        for part in parts:
            if type(value) is dict:
                value = value.get(part, _MISSING)
            elif type(value) is list:
                return None  # array paths match element-wise: the engine's business
            else:
                value = _MISSING
            if value is _MISSING:
                break
        if value is _MISSING:
            if wanted is not None:
                return False
            continue
        if type(value) not in _DECIDABLE:
            return None
        if wanted is None:
            if value is not None:
                return False
            continue
        if (type(value) is bool) != (type(wanted) is bool):
            if type(value) in (int, float, bool) and type(wanted) in (int, float, bool):
                return None  # MongoDB never equates them; mongomock does: let the engine say
            return False
        if type(wanted) is str:
            if type(value) is not str or value != wanted:
                return False
        elif type(value) in (int, float, bool):
            if value != wanted:
                return False
        else:
            return False  # a document or a datetime never equals a scalar
    return True


def stored_value(value: Any) -> Any:
    """`value` as the engine stores it (datetimes naive UTC to the millisecond, tuples as
    lists), a fresh copy; `UNSURE` for anything else."""
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else UNSURE
    if kind is dt.datetime:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or k.startswith("$") or "\x00" in k:
                return UNSURE
            if type(v) is str or v is None:  # most values: kept as they are, without a call
                out[k] = v
                continue
            stored = stored_value(v)
            if stored is UNSURE:
                return UNSURE
            out[k] = stored
        return out
    if kind is list or kind is tuple:
        items = []
        for v in value:
            stored = stored_value(v)
            if stored is UNSURE:
                return UNSURE
            items.append(stored)
        return items
    return UNSURE


def stored_document(doc: Mapping[str, Any]) -> Doc | None:
    """A whole document to insert, as stored, or None when it is not one for the fast path
    (no string `_id`, a field name the engine would refuse or treat specially)."""
    if type(doc) is not dict or type(doc.get("_id")) is not str:
        return None
    if not all(type(k) is str and not k.startswith("$") for k in doc):
        return None
    stored = stored_value(doc)
    return stored if type(stored) is dict else None


def plan_update(update: Any, key: str) -> list[Change] | None:
    """The changes an update document makes, in the order the engine applies them, or None."""
    if type(update) is not dict or not update:
        return None
    changes: list[Change] = []
    seen: set[str] = set()
    for operator, fields in update.items():
        if operator not in _OPERATORS or type(fields) is not dict or not fields:
            return None
        for field, raw in fields.items():
            if not _valid_name(field) or field in seen:
                return None
            seen.add(field)
            if field == "_id":
                # Only the no-op of naming the same `_id` (an upsert's `$setOnInsert: doc`).
                if operator not in ("$set", "$setOnInsert") or type(raw) is not str or raw != key:
                    return None
                continue
            if operator == "$inc":
                if type(raw) not in (int, float):
                    return None
                value = stored_value(raw)
            elif operator == "$unset":
                value = None
            else:
                value = stored_value(raw)
            if value is UNSURE:
                return None
            changes.append(Change(operator, field, value))
    return changes


def apply(old: Doc | None, key: str, changes: list[Change]) -> Doc | None:
    """The document after the changes (`old` None: the one an upsert inserts), or None when an
    `$inc` meets a value it cannot add to (the engine then raises its own error)."""
    inserting = old is None
    new: Doc = {"_id": key} if old is None else dict(old)
    for change in changes:
        field = change.field
        if change.operator == "$set":
            new[field] = _fresh(change.value)
        elif change.operator == "$setOnInsert":
            if inserting:
                new[field] = _fresh(change.value)
        elif change.operator == "$unset":
            new.pop(field, None)
        else:  # $inc
            current = new.get(field, _MISSING)
            if current is _MISSING:
                total = change.value
            elif type(current) in (int, float):
                total = current + change.value
            else:
                return None
            if type(total) is int and not _INT64_MIN <= total <= _INT64_MAX:
                return None
            new[field] = total
    return new


def _fresh(value: Any) -> Any:
    """A copy of a planned value, so that two documents built from one plan share nothing."""
    if type(value) is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if type(value) is list:
        return [_fresh(v) for v in value]
    return value
