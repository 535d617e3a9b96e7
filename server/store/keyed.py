"""MongoDB's update operators applied to a document in memory, and the document an upsert
inserts: the embedded store's updates (`sqlite.py`) run here, then write the result.

Understood: `$set $setOnInsert $unset $inc $min $rename $push $addToSet $pull`, on top-level or
dotted fields (a position in an array as the last part), with
`$each` for `$push` and `$addToSet`. An update MongoDB would refuse (an `$inc` on text, a path
through a scalar, an unknown operator) raises `pymongo.errors.WriteError` and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pymongo.errors import WriteError

from . import match

Doc = dict[str, Any]
_MISSING: Any = object()
# Immutable values, kept as they are (tested by exact type: documents are mostly made of these).
_ATOMS = match.PLAIN | {dt.datetime}


def _refuse(message: str) -> WriteError:
    return WriteError(message, code=2)


def fresh(value: Any) -> Any:
    """A copy sharing nothing mutable with `value` (its mappings as dicts, its sequences as
    lists), much cheaper than `copy.deepcopy`. (Datetimes are kept as given: the store makes
    them timezone-aware before, `match.utc`.)"""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: v if type(v) in _ATOMS else fresh(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _ATOMS else fresh(v) for v in value]
    if isinstance(value, Mapping):
        return {k: fresh(v) for k, v in value.items()}
    return value


def _parent(doc: Doc, path: str, create: bool) -> tuple[Any, Any] | None:
    """The container holding the last part of `path` and that part (a position in an array,
    the last part only); None when the path does not exist and `create` is false."""
    if "." not in path:
        return doc, path
    *parts, last = path.split(".")
    node: Any = doc
    for part in parts:
        if isinstance(node, dict) and (part in node or create):
            node = node.setdefault(part, {})
        elif create or isinstance(node, list):
            raise _refuse(f"cannot reach {path!r} through an array or a value")
        else:
            return None
    if isinstance(node, dict):
        return node, last
    if isinstance(node, list):
        if last.isdigit() and int(last) < len(node):
            return node, int(last)
        raise _refuse(f"cannot reach {path!r}: an array takes a position within it")
    if create:
        raise _refuse(f"cannot create the field {path!r} inside a value")
    return None


def _get(doc: Doc, path: str) -> Any:
    found = _parent(doc, path, create=False)
    if found is None:
        return _MISSING
    node, key = found
    return node[key] if isinstance(node, list) else node.get(key, _MISSING)


def _put(doc: Doc, path: str, value: Any) -> None:
    found = _parent(doc, path, create=True)
    assert found is not None
    node, key = found
    node[key] = value


def _remove(doc: Doc, path: str) -> None:
    found = _parent(doc, path, create=False)
    if found is None:
        return
    node, key = found
    if isinstance(node, list):
        node[key] = None  # MongoDB leaves a null where an element was unset
    else:
        node.pop(key, None)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _arithmetic(current: Any, arg: Any, operator: str, path: str) -> Any:
    if not _number(arg):
        raise _refuse(f"{operator} needs a number for {path!r}")
    if current is _MISSING:
        return arg
    if not _number(current):
        raise _refuse(f"cannot apply {operator} to the non-number {path!r}")
    return current + arg


def _array(current: Any, path: str, operator: str) -> list[Any]:
    if current is _MISSING:
        return []
    if not isinstance(current, list):
        raise _refuse(f"{operator} needs an array at {path!r}")
    return list(current)


def _each(arg: Any) -> list[Any]:
    if isinstance(arg, Mapping) and "$each" in arg:
        return [fresh(v) for v in arg["$each"]]
    return [fresh(arg)]


def _removed(element: Any, arg: Any) -> bool:
    if match.is_operators(arg):
        return match.matches({"v": element}, {"v": arg})
    if isinstance(arg, Mapping) and isinstance(element, dict):
        return match.matches(element, arg)
    return match.equal(element, arg)


def _apply_one(doc: Doc, operator: str, path: str, arg: Any) -> None:
    current = _MISSING if operator in ("$set", "$unset") else _get(doc, path)
    if operator == "$set":
        _put(doc, path, fresh(arg))
    elif operator == "$unset":
        _remove(doc, path)
    elif operator == "$inc":
        _put(doc, path, _arithmetic(current, arg, operator, path))
    elif operator == "$min":
        value = match.utc(arg)
        if current is _MISSING:
            _put(doc, path, fresh(value))
        else:
            pair = match.sort([current, value], [("v", 1)], lambda v: {"v": v})
            _put(doc, path, fresh(pair[0]))
    elif operator == "$rename":
        if current is not _MISSING:
            _remove(doc, path)
            _put(doc, arg, current)
    elif operator == "$push":
        _put(doc, path, _array(current, path, operator) + _each(arg))
    elif operator == "$addToSet":
        items = _array(current, path, operator)
        for value in _each(arg):
            if not any(match.equal(item, value) for item in items):
                items.append(value)
        _put(doc, path, items)
    elif operator == "$pull":
        if current is not _MISSING:
            kept = [i for i in _array(current, path, operator) if not _removed(i, match.utc(arg))]
            _put(doc, path, kept)
    else:
        raise _refuse(f"The embedded store does not understand the update operator {operator}")


def apply(old: Doc | None, update: Mapping[str, Any], seed: Doc | None = None) -> Doc:
    """The document after `update`: `old` changed (it is not), or, when `old` is None, the one
    an upsert inserts, starting from `seed` (the filter's equalities and `_id`)."""
    if not match.is_operators(update):
        raise _refuse("an update needs update operators (replacing a document is not supported)")
    inserting = old is None
    new: Doc = fresh(old if old is not None else seed or {})
    key = new.get("_id", _MISSING)
    for given, fields in update.items():
        if given == "$setOnInsert" and not inserting:
            continue
        operator = "$set" if given == "$setOnInsert" else given
        if not isinstance(fields, Mapping):
            raise _refuse(f"{operator} needs a document of fields")
        for path, arg in fields.items():
            _apply_one(new, operator, path, arg)
    after = new.get("_id", _MISSING)  # (kept as it was, mostly: then the very same)
    if key is not _MISSING and after is not key and not match.equal(after, key):
        raise _refuse("an update cannot change a document's _id")
    return new


def seed(filter: Mapping[str, Any]) -> Doc:
    """What an upsert's new document takes from its filter: the equalities on fields (within
    `$and` too), dotted paths as nested documents."""
    doc: Doc = {}
    for field, cond in filter.items():
        if field == "$and":
            for part in cond:
                doc.update(seed(part))
        elif field.startswith("$"):
            continue
        elif match.is_operators(cond):
            if "$eq" in cond:
                _put(doc, field, fresh(cond["$eq"]))
        else:
            _put(doc, field, fresh(cond))
    return doc
