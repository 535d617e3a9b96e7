"""An identity-map cache for the embedded store.

Only one process may open an embedded store (the data dir is locked), and every write goes
through this process, so documents read by `_id` can be kept in memory and stay exact: every
write tells what it left behind under each `_id` it touched (`SqliteCollection._stored`), and
that is what is kept (write-through). Each call runs to its end without handing the event loop
back, so no read can race a write. Reads by `_id` — tokens, users, tasks, accounts, the entry a
timer stop ends — then cost no SQL at all, and neither do reads by the value of a unique key
(a user's running timer by `timer_of`), once it is known which `_id` holds it.

Small results of other equality queries (a user's memberships) are kept too, per collection,
until the collection's next write of any kind. The count of writes is also
the collection's `version()`: it tells the domain when what it read may be kept (a caller, a
user's roles).

MongoDB deployments may run several processes, so they are never cached.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any, cast

from . import match
from .adapters import Doc, Filter, Sort
from .collections import IndexSpec
from .commits import CommitGroup
from .memory import LRU
from .sqlite import SqliteCollection

_SCALARS = (str, int, float, bool, type(None))
# The identity map keeps this many documents a collection (the least recently used go first):
# the hot ones (tokens, users, running timers) many times over, without holding a large import
# (20,000 tasks as Python objects take ~64 MB).
MAX_DOCUMENTS = 4_000
# The query cache keeps results of at most this many documents, and this many documents in all
# per collection (least recently used results go first).
_QUERY_MAX_DOCUMENTS = 200
_QUERY_TOTAL_DOCUMENTS = 4_000
_MISSING = object()
# Immutable values, shared by copies; tested by exact type before any call.
_ATOMS: frozenset[type] = frozenset({str, int, float, bool, type(None), dt.datetime})


def _copy(value: Any) -> Any:
    """A copy of a stored document (dicts, lists and immutable scalars), much cheaper than
    `copy.deepcopy`; callers may change what they get without touching the cache."""
    if isinstance(value, dict):
        copied = value.copy()  # then only the values that are containers again
        for k, v in value.items():
            if type(v) not in _ATOMS:
                copied[k] = _copy(v)
        return copied
    if isinstance(value, list):
        return [v if type(v) in _ATOMS else _copy(v) for v in value]
    return value


def _plain(value: Any) -> bool:
    return isinstance(value, _SCALARS)


def _key_and_rest(filter: Filter) -> tuple[Any, list[tuple[str, Any]]] | None:
    """(the `_id` value, the other plain equality conditions), or None when the filter is
    anything else."""
    if "_id" not in filter:
        return None
    rest = []
    for field, value in filter.items():
        if field == "_id":
            continue
        if field.startswith("$") or "." in field or not _plain(value):
            return None
        rest.append((field, value))
    key = filter["_id"]
    return (key, rest) if _plain(key) else None


def _query_key(filter: Filter, projection: Mapping[str, Any] | None) -> Hashable | None:
    """A key for an equality query on scalar values (with a projection of scalar values),
    or None. Types are part of it: 1, 1.0 and True are different queries."""
    parts: list[tuple[str, type, Any]] = []
    for spec in (filter, projection or {}):
        for field, value in spec.items():
            if type(field) is not str or field.startswith("$") or type(value) not in _SCALARS:
                return None
            parts.append((field, type(value), value))
        parts.append(("$", type(None), None))  # the filter ends here
    return tuple(parts) if projection is not None else (*parts, "no projection")


class CachedCollection(SqliteCollection):
    def __init__(
        self,
        connection: sqlite3.Connection,
        name: str,
        commits: CommitGroup,
        max_documents: int = MAX_DOCUMENTS,
    ) -> None:
        super().__init__(connection, name, commits)
        # By `_id`: (its row, the document), or None where there is none.
        self._docs: LRU[Any, tuple[int, Doc] | None] = LRU(max_documents)
        # Results of small equality queries without `_id` (a user's memberships), dropped
        # whole by every write to the collection.
        self._queries: OrderedDict[Hashable, list[Doc]] = OrderedDict()
        self._queried_documents = 0  # in `_queries`, counting each result one more
        self._writes = 0
        # By field of a unique index on it alone: which `_id` holds a (text) value, or None
        # where none does. Every write records the values it leaves (`_stored`), so a document
        # that no longer holds its value means that nobody does (`_by_unique`).
        self._holders: dict[str, LRU[str, Any]] = {}
        self._max_documents = max_documents

    def version(self) -> int | None:
        return self._writes

    def _stored(self, rowid: int, key: Any, doc: Doc | None) -> None:
        self._writes += 1
        if self._queries:
            self._queries.clear()
            self._queried_documents = 0
        self._docs.put(key, None if doc is None else (rowid, _copy(doc)))
        for field, holders in self._holders.items():
            if doc is not None and type(value := doc.get(field)) is str:
                holders.put(value, key)

    def _row(self, key: Any) -> tuple[int, Doc] | None:
        """The document with this `_id` and its row, from memory or read into it."""
        kept = self._docs.get(key, _MISSING)
        if kept is not _MISSING:
            return cast(tuple[int, Doc] | None, kept)
        row = super()._found({"_id": key}, None)
        self._docs.put(key, None if row is None else (row[0], _copy(row[1])))
        return row

    def _found(self, filter: Filter, sort: Sort | None) -> tuple[int, Doc] | None:
        plan = _key_and_rest(filter) if not sort else None
        if plan is None:
            return super()._found(filter, sort)
        row = self._row(plan[0])
        if row is None or not match.matches(row[1], dict(plan[1])):
            return None
        return row[0], _copy(row[1])

    # Reads --------------------------------------------------------------------------------

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        if sort is not None or projection is not None:
            return await super().find_one(filter, sort=sort, projection=projection)
        if "_id" in filter:
            found = self._found(filter, None)
            return found[1] if found is not None else None
        if len(filter) == 1:
            [(field, value)] = filter.items()
            holders = self._holders.get(field)
            if holders is not None and type(value) is str and field not in self._loose:
                return await self._by_unique(field, value, holders)
        return await super().find_one(filter)

    async def _by_unique(self, field: str, value: str, holders: LRU[str, Any]) -> Doc | None:
        """The document holding `value` in a field a unique index covers (a user's running
        timer, a user by email): a key lookup in memory once its holder is known."""
        key = holders.get(value, _MISSING)
        if key is _MISSING:
            doc = await super().find_one({field: value})
            holders.put(value, None if doc is None else doc["_id"])
            return doc
        # (Not held there any more: nobody holds it, or whoever took it since was recorded.)
        found = None if key is None else self._found({"_id": key, field: value}, None)
        return None if found is None else found[1]

    async def create_index(self, spec: IndexSpec) -> None:
        await super().create_index(spec)
        [(field, _), *others] = spec.keys
        if spec.unique and not others and field != "_id" and "." not in field:
            self._holders[field] = LRU(self._max_documents)

    async def drop_index(self, name: str) -> None:
        await super().drop_index(name)
        self._holders.clear()  # (until the indexes are declared again)

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        if sort or skip or limit or "_id" in filter:
            return await super().find(
                filter, sort=sort, skip=skip, limit=limit, projection=projection
            )
        return await self._query(filter, projection)

    def _keep(self, key: Hashable, docs: list[Doc]) -> None:
        self._queries[key] = [_copy(doc) for doc in docs]
        self._queried_documents += len(docs) + 1  # an empty result still takes room
        while self._queried_documents > _QUERY_TOTAL_DOCUMENTS:
            _, dropped = self._queries.popitem(last=False)
            self._queried_documents -= len(dropped) + 1

    async def _query(self, filter: Filter, projection: Mapping[str, Any] | None) -> list[Doc]:
        """A query the identity map cannot answer: from the query cache when it is a small
        equality query seen since the collection's last write."""
        key = _query_key(filter, projection)
        if key is None:
            return await super().find(filter, projection=projection)
        cached = self._queries.get(key)
        if cached is not None:
            self._queries.move_to_end(key)
            return [_copy(doc) for doc in cached]
        docs = await super().find(filter, projection=projection)
        if len(docs) <= _QUERY_MAX_DOCUMENTS:
            self._keep(key, docs)
        return docs
