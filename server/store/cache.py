"""An identity-map cache for the embedded store.

Only one process may open an embedded store (the data dir is locked), and every write goes
through this process, so documents read by `_id` can be kept in memory and stay exact: each
write drops what it may have changed before and after it runs, and a read that raced a write
never fills the cache (a generation counter tells). The embedded store's writes tell exactly
what they left behind under their `_id` (`SqliteCollection.on_stored`): that is kept
(write-through), unless another write ran meanwhile. Reads by `_id` — tokens,
users, tasks, accounts — then cost no SQL at all.

Small results of other equality queries (a user's memberships) are kept too, per collection,
until the collection's next write of any kind. The generation counter is also the collection's
`version()`: it tells the domain when what it read may be kept (a caller, a user's roles).
Entries are cached too: a running timer is read far more often than written.

MongoDB deployments may run several processes, so they are never cached.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from typing import Any

from . import match
from .adapters import Collection, Doc, Filter, Sort, UpdateOutcome
from .collections import IndexSpec
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
    """(the `_id` value or `{"$in": [...]}`, the other plain equality conditions), or None when
    the filter is anything else."""
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
    if _plain(key):
        return key, rest
    if isinstance(key, Mapping) and set(key) == {"$in"} and all(_plain(v) for v in key["$in"]):
        return key, rest
    return None


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


class CachedCollection(Collection):
    def __init__(self, inner: Collection, max_documents: int = MAX_DOCUMENTS) -> None:
        self._inner = inner
        self.name = inner.name
        self._docs: LRU[Any, Doc | None] = LRU(max_documents)
        # Results of small equality queries without `_id` (a user's memberships), dropped
        # whole by every write to the collection.
        self._queries: OrderedDict[Hashable, list[Doc]] = OrderedDict()
        self._queried_documents = 0  # in `_queries`, counting each result one more
        self._generation = 0
        # What the running write told us it stored (see `_write`), when the inner collection
        # tells (the embedded store's does).
        self._learned: list[tuple[Any, Doc | None]] | None = None
        if isinstance(inner, SqliteCollection):
            inner.on_stored = self._learn

    def version(self) -> int | None:
        return self._generation  # every write steps it (`_forget`)

    # Cache bookkeeping --------------------------------------------------------------------

    def _get(self, key: Any) -> Any:
        return self._docs.get(key, _MISSING)

    def _put(self, key: Any, doc: Doc | None, generation: int) -> None:
        if generation != self._generation:
            return  # a write ran meanwhile: what we read may already be stale
        self._docs.put(key, _copy(doc))

    def _forget(self, filter: Filter | None) -> None:
        """Drop what a write with this filter may change: the documents it names by `_id`,
        or everything when it names none."""
        self._generation += 1
        if self._queries:
            self._queries.clear()
            self._queried_documents = 0
        key = filter.get("_id", _MISSING) if filter is not None else _MISSING
        if _plain(key):
            self._docs.drop(key)
        elif isinstance(key, Mapping) and set(key) == {"$in"}:
            for k in key["$in"]:
                self._docs.drop(k)
        else:
            self._docs.clear()

    def _learn(self, key: Any, doc: Doc | None) -> None:
        if self._learned is not None:
            self._learned.append((key, doc))

    async def _write(self, filter: Filter | None, run: Any) -> Any:
        """Run a write, dropping what it may change before and after; then keep what it told
        it stored (write-through), provided no other write ran meanwhile: this write's second
        `_forget` must be the only generation step since its first."""
        self._forget(filter)
        generation = self._generation
        learned: list[tuple[Any, Doc | None]] = []
        self._learned = learned
        try:
            result = await run
        finally:
            if self._learned is learned:
                self._learned = None
            self._forget(filter)
        if self._generation == generation + 1:
            for key, doc in learned:
                self._put(key, doc, self._generation)
        return result

    # Reads --------------------------------------------------------------------------------

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        plan = _key_and_rest(filter) if sort is None and projection is None else None
        if plan is None and sort is None and projection is None:
            return await self._first(filter)
        if plan is None or isinstance(plan[0], Mapping):
            return await self._inner.find_one(filter, sort=sort, projection=projection)
        key, rest = plan
        cached = self._get(key)
        if cached is _MISSING:
            generation = self._generation
            cached = await self._inner.find_one({"_id": key})
            self._put(key, cached, generation)
        if cached is None:
            return None
        if not match.matches(cached, dict(rest)):
            return None
        copied: Doc = _copy(cached)
        return copied

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        plan = _key_and_rest(filter)
        if sort or skip or limit:
            return await self._inner.find(
                filter, sort=sort, skip=skip, limit=limit, projection=projection
            )
        if plan is None or projection is not None:
            return await self._query(filter, projection)
        key, rest = plan
        keys = list(dict.fromkeys(key["$in"] if isinstance(key, Mapping) else [key]))
        found: dict[Any, Doc | None] = {}
        missing = []
        for k in keys:
            cached = self._get(k)
            if cached is _MISSING:
                missing.append(k)
            else:
                found[k] = cached
        if missing:
            generation = self._generation
            docs = await self._inner.find({"_id": {"$in": missing}})
            fetched = {d["_id"]: d for d in docs}
            for k in missing:
                found[k] = fetched.get(k)
                self._put(k, fetched.get(k), generation)
        docs = [doc for k in keys if (doc := found[k]) is not None]
        return [_copy(doc) for doc in docs if match.matches(doc, dict(rest))]

    async def _first(self, filter: Filter) -> Doc | None:
        """The first match of an equality query (a running timer by its user), kept like the
        results of `_query` until the collection's next write."""
        query = _query_key(filter, None)
        if query is None:
            return await self._inner.find_one(filter)
        key = (query, "first")
        cached = self._queries.get(key)
        if cached is None:
            generation = self._generation
            found = await self._inner.find_one(filter)
            cached = [] if found is None else [found]
            if generation == self._generation:
                self._keep(key, cached)
        return _copy(cached[0]) if cached else None

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
            return await self._inner.find(filter, projection=projection)
        cached = self._queries.get(key)
        if cached is not None:
            self._queries.move_to_end(key)
            return [_copy(doc) for doc in cached]
        generation = self._generation
        docs = await self._inner.find(filter, projection=projection)
        if generation == self._generation and len(docs) <= _QUERY_MAX_DOCUMENTS:
            self._keep(key, docs)
        return docs

    async def count(self, filter: Filter) -> int:
        return await self._inner.count(filter)

    def batches(
        self, filter: Filter, *, size: int, keyset: Sequence[str] = ("_id",)
    ) -> AsyncIterator[list[Doc]]:
        return self._inner.batches(filter, size=size, keyset=keyset)

    async def scan(
        self, equals: Mapping[str, str], shape: Callable[[Doc], Doc] = lambda doc: doc
    ) -> list[Doc]:
        return await self._inner.scan(equals, shape)

    # Writes -------------------------------------------------------------------------------

    async def insert_one(self, doc: Doc) -> None:
        await self._write(
            {"_id": doc["_id"]} if "_id" in doc else None, self._inner.insert_one(doc)
        )

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        ids = [d["_id"] for d in docs if "_id" in d]
        key = {"_id": {"$in": ids}} if len(ids) == len(docs) else None
        await self._write(key, self._inner.insert_many(docs))

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        outcome: UpdateOutcome = await self._write(
            filter, self._inner.update_one(filter, update, upsert=upsert)
        )
        return outcome

    async def update_many(self, filter: Filter, update: Any) -> int:
        matched: int = await self._write(filter, self._inner.update_many(filter, update))
        return matched

    async def update_each(self, changes: Sequence[tuple[Filter, Any]]) -> None:
        ids = [f["_id"] for f, _ in changes if _plain(f.get("_id", _MISSING))]
        key = {"_id": {"$in": ids}} if len(ids) == len(changes) else None
        await self._write(key, self._inner.update_each(changes))

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Any,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Doc | None:
        doc: Doc | None = await self._write(
            filter,
            self._inner.find_one_and_update(
                filter, update, upsert=upsert, return_new=return_new, sort=sort
            ),
        )
        return doc

    async def find_one_and_delete(self, filter: Filter) -> Doc | None:
        doc: Doc | None = await self._write(filter, self._inner.find_one_and_delete(filter))
        return doc

    async def delete_one(self, filter: Filter) -> int:
        deleted: int = await self._write(filter, self._inner.delete_one(filter))
        return deleted

    async def delete_many(self, filter: Filter) -> int:
        deleted: int = await self._write(filter, self._inner.delete_many(filter))
        return deleted

    async def create_index(self, spec: IndexSpec) -> None:
        await self._inner.create_index(spec)

    async def drop_index(self, name: str) -> None:
        await self._inner.drop_index(name)
