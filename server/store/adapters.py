"""Collection adapters: one small async interface over every backend.

The domain modules only see `Collection`. Two implementations exist:
- `DriverCollection` wraps an async driver collection: PyMongo's `AsyncMongoClient` (production
  MongoDB) or mongomock-motor (tests). Their differences are handled here and nowhere else.
- `EmbeddedCollection` wraps a synchronous, pymongo-compatible collection (the embedded litemongo
  engine) and runs every call on the event loop's own thread. The engine may only ever be used
  from one thread, its key lookups and writes take tens of microseconds (less than handing the
  call to a worker thread and back, which was measured at ~0.3 ms a call here), and a call that
  never awaits is atomic with respect to every other request.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import bson
import pymongo
import pymongo.errors
from pymongo import ReturnDocument, UpdateOne

from . import keyed, matching, rows
from .collections import IndexSpec
from .commits import CommitGroup
from .errors import DuplicateKeyError, StoreError
from .memory import LRU

Doc = dict[str, Any]
Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]
T = TypeVar("T")


@dataclass(frozen=True)
class UpdateOutcome:
    matched: int
    modified: int
    upserted_id: Any | None


def _naive(value: Any) -> Any:
    """Mongomock-based engines compare datetimes as Python does: keep them all naive UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, Mapping):
        return {k: _naive(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_naive(v) for v in value]
    return value


# Values `_aware` returns as they are: tested by exact type before any call (documents are
# mostly made of these, and a call per value was most of the conversion's cost).
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _aware(value: Any) -> Any:
    """Every datetime the domain sees is timezone-aware UTC, as with `tz_aware=True`."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN else _aware(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in _PLAIN else _aware(v) for v in value]
    return value


def _all(cursor: Any) -> list[Doc]:
    """Every document of a mongomock-style cursor. Iterating one re-slices its whole result
    list for each document (quadratic: 210 s for 140,000 tasks); computing the results once is
    what iteration does internally, minus the slicing."""
    compute = getattr(cursor, "_compute_results", None)
    if compute is None:
        return list(cursor)
    return list(compute(with_limit_and_skip=True))


_AWARE_UTC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True, tzinfo=dt.UTC)
# UTC as BSON's own fixed offset (equal to `dt.UTC`): decodes in less than half the time.
_AWARE: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True)


class Collection:
    """The async interface every domain module uses."""

    name: str

    def version(self) -> int | None:
        """A number that changes whenever the collection is written, when this process can
        know it (the embedded store, whose only writer it is: see `CachedCollection`); None on
        the backends that other processes write too."""
        return None

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        raise NotImplementedError

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        raise NotImplementedError

    async def scan(
        self, equals: Mapping[str, str], shape: Callable[[Doc], Doc] = lambda doc: doc
    ) -> list[Doc]:
        """Every document whose top-level fields equal these strings, each passed through
        `shape` (what the caller keeps of it): the whole of a large slice of a collection (an
        account's tasks, for its search index)."""
        return [shape(doc) for doc in await self.find(dict(equals))]

    async def batches(
        self, filter: Filter, *, size: int, keyset: Sequence[str] = ("_id",)
    ) -> AsyncIterator[list[Doc]]:
        """Every document matching `filter`, in lists of at most `size` (fewer, even none, where
        a backend filters what it read), each read by a call of its own: a caller works through
        many documents a bounded step at a time and hands the event loop back between steps.
        The order is the backend's: here each batch is asked
        after the previous one's last values of `keyset` (keyset pagination; `keyset` ends
        with `_id` and an index on the filter's equality fields followed by `keyset` makes
        each batch one index range). A document written while the batches are read may or may
        not be among them."""
        order = [(name, 1) for name in keyset]
        after: Filter | None = None
        while True:
            page = await self.find(
                filter if after is None else {"$and": [filter, after]}, sort=order, limit=size
            )
            if page:
                yield page
            if len(page) < size:
                return
            after = _after(page[-1], keyset)

    async def insert_one(self, doc: Doc) -> None:
        raise NotImplementedError

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        raise NotImplementedError

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        raise NotImplementedError

    async def update_many(self, filter: Filter, update: Any) -> int:
        raise NotImplementedError

    async def update_each(self, changes: Sequence[tuple[Filter, Any]]) -> None:
        """Several single-document updates (no upserts), sent together where the backend can
        (one bulk write on MongoDB). Each is atomic on its own, not all of them together."""
        for filter, update in changes:
            await self.update_one(filter, update)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Any,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Doc | None:
        raise NotImplementedError

    async def find_one_and_delete(self, filter: Filter) -> Doc | None:
        raise NotImplementedError

    async def delete_one(self, filter: Filter) -> int:
        raise NotImplementedError

    async def delete_many(self, filter: Filter) -> int:
        raise NotImplementedError

    async def count(self, filter: Filter) -> int:
        raise NotImplementedError

    async def create_index(self, spec: IndexSpec) -> None:
        raise NotImplementedError

    async def drop_index(self, name: str) -> None:
        raise NotImplementedError


def _after(doc: Doc, keyset: Sequence[str]) -> Filter:
    """The documents after `doc` in the order of `keyset`: (a > x) or (a = x and b > y)..."""
    either = []
    for i, name in enumerate(keyset):
        same = {earlier: doc.get(earlier) for earlier in keyset[:i]}
        either.append({**same, name: {"$gt": doc.get(name)}})
    return {"$or": either}


def _index_kwargs(spec: IndexSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
    if spec.sparse:
        kwargs["sparse"] = True
    if spec.partial is not None:
        kwargs["partialFilterExpression"] = spec.partial
    return kwargs


def _return_document(return_new: bool) -> bool:
    return bool(ReturnDocument.AFTER if return_new else ReturnDocument.BEFORE)


class DriverCollection(Collection):
    """PyMongo's async collection, or mongomock-motor's (`naive_dates=True`; its bulk writes
    fail with PyMongo 4.11 and later, so updates go one by one)."""

    def __init__(self, collection: Any, *, naive_dates: bool) -> None:
        self._c = collection
        self.name = collection.name
        self._bulk_writes = not naive_dates
        self._in: Callable[[Any], Any] = _naive if naive_dates else (lambda v: v)
        self._out: Callable[[Any], Any] = _aware if naive_dates else (lambda v: v)

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        doc = await self._c.find_one(
            self._in(filter), projection, sort=list(sort) if sort else None
        )
        return self._out(doc) if doc is not None else None

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        cursor = self._c.find(self._in(filter), projection)
        if sort:
            cursor = cursor.sort(list(sort))
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        # mongomock-motor's to_list ignores its length; the limit above bounds both backends.
        docs = await cursor.to_list(None)
        return [self._out(d) for d in docs]

    async def insert_one(self, doc: Doc) -> None:
        try:
            await self._c.insert_one(self._in(doc))
        except pymongo.errors.DuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from exc

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        try:
            await self._c.insert_many([self._in(d) for d in docs], ordered=True)
        except pymongo.errors.BulkWriteError as exc:
            raise DuplicateKeyError(str(exc)) from exc
        except pymongo.errors.DuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from exc

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        try:
            r = await self._c.update_one(self._in(filter), self._in(update), upsert=upsert)
        except pymongo.errors.DuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from exc
        return UpdateOutcome(r.matched_count, r.modified_count, r.upserted_id)

    async def update_many(self, filter: Filter, update: Any) -> int:
        r = await self._c.update_many(self._in(filter), self._in(update))
        return int(r.matched_count)

    async def update_each(self, changes: Sequence[tuple[Filter, Any]]) -> None:
        if not self._bulk_writes:
            await super().update_each(changes)
        elif changes:
            await self._c.bulk_write([UpdateOne(f, u) for f, u in changes], ordered=False)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Any,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Doc | None:
        try:
            doc = await self._c.find_one_and_update(
                self._in(filter),
                self._in(update),
                upsert=upsert,
                return_document=_return_document(return_new),
                sort=list(sort) if sort else None,
            )
        except pymongo.errors.DuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from exc
        return self._out(doc) if doc is not None else None

    async def find_one_and_delete(self, filter: Filter) -> Doc | None:
        doc = await self._c.find_one_and_delete(self._in(filter))
        return self._out(doc) if doc is not None else None

    async def delete_one(self, filter: Filter) -> int:
        r = await self._c.delete_one(self._in(filter))
        return int(r.deleted_count)

    async def delete_many(self, filter: Filter) -> int:
        r = await self._c.delete_many(self._in(filter))
        return int(r.deleted_count)

    async def count(self, filter: Filter) -> int:
        return int(await self._c.count_documents(self._in(filter)))

    async def create_index(self, spec: IndexSpec) -> None:
        await self._c.create_index(list(spec.keys), **_index_kwargs(spec))

    async def drop_index(self, name: str) -> None:
        await self._c.drop_index(name)


# Told of every document a fast-path write leaves behind: its `_id` and the document as a read
# by `_id` now returns it, or None once deleted (the identity-map cache learns from it).
StoredObserver = Callable[[str, Doc | None], None]


@dataclass(frozen=True)
class _Modified:
    matched: bool
    modified: bool
    upserted: bool
    before: Doc | None  # as stored (naive datetimes)
    after: Doc | None  # as callers see it


@functools.cache
def _litemongo_collection_store() -> type | None:
    try:
        from litemongo.sqlite_store import CollectionStore
    except ImportError:  # pragma: no cover - litemongo is a dependency
        return None
    store_type: type = CollectionStore
    return store_type


class EmbeddedCollection(Collection):
    """A synchronous pymongo-compatible collection, called on the event loop's thread.

    On litemongo, operations on one document named by a string `_id` take a fast path: the
    document is read by key (remembered, or from the engine's `CollectionStore`), the update
    applied here (`keyed.py`), and the row written as the engine's own writes write it, its
    in-memory hash indexes kept exact, left for the `CommitGroup` to commit (`rows.py`). Reads
    by equality conditions alone take the engine's own candidates (its hash indexes, or every
    document) and check them here. The engine's query and update machinery costs 100-500 µs of
    CPU per call; the fast path a few tens. It is taken only where it is exact:
    - reads and deletes, unless the collection has a TTL index (the engine expires documents on
      every access);
    - inserts and updates, only when no index but `_id`'s is partial or TTL, and the unique or
      sparse ones are unique sparse indexes of one top-level field holding strings (checked
      here against the engine's hash index of that field; anything else goes to the engine);
    - only for the filter and update shapes `keyed.py` understands, and only when the stored
      document does not need the engine's rules (arrays on a condition's path, booleans against
      numbers, an `$inc` on a non-number...).
    Everything else goes to the engine, unchanged. Either way a call never awaits, so each
    operation is atomic with respect to every other request.
    """

    def __init__(self, collection: Any, commits: CommitGroup | None = None) -> None:
        self._c = collection
        self.name = collection.name
        self.on_stored: StoredObserver | None = None
        # The fast path's writes wait for this group's commit; without one, they commit at once.
        self._commits = commits if commits is not None else CommitGroup()
        self._recent: rows.Recent = LRU(rows.RECENT)
        self._keyed_reads = False
        self._keyed_writes = False
        self._ttl = False
        self._unique_fields: tuple[str, ...] = ()  # of unique sparse indexes the fast path checks
        self._check_indexes()

    # The fast path ------------------------------------------------------------------------

    def _engine_store(self) -> Any | None:
        """litemongo's `CollectionStore` for this collection, or None on any other engine."""
        store = getattr(self._c, "_store", None)
        return store if type(store) is _litemongo_collection_store() else None

    def _check_indexes(self) -> None:
        """Decide, from the engine's own list of indexes, which fast paths are exact here."""
        store = self._engine_store()
        if store is None:
            self._keyed_reads = self._keyed_writes = False
            return
        indexes = [
            index
            for index in store.indexes.values()
            if [tuple(k) for k in index.get("key", ())] != [("_id", 1)]
        ]
        ttl = any(index.get("expireAfterSeconds") is not None for index in indexes)
        unique_fields = []
        checked = False
        for index in indexes:
            keys = [tuple(k) for k in index.get("key", ())]
            partial = index.get("partialFilterExpression") is not None
            if index.get("unique") and index.get("sparse") and not partial and len(keys) == 1:
                field = keys[0][0]
                if isinstance(field, str) and "." not in field and not field.startswith("$"):
                    unique_fields.append(field)
                    continue
            checked = checked or bool(index.get("unique") or index.get("sparse") or partial)
        self._unique_fields = tuple(unique_fields)
        self._ttl = ttl
        # Builds the engine's in-memory hash indexes now if they are not yet (it would in the
        # first query: 140,000 tasks, ~4 s, in a request), and (re)declares the indexed paths
        # `_candidates` relies on.
        store._get_query_index()
        self._keyed_reads = not ttl
        self._keyed_writes = not ttl and not checked

    def _candidates(self, store: Any, filter: Filter) -> Iterable[Doc]:
        """The engine's candidates for an equality filter (`CollectionStore.find_candidates`),
        from its hash indexes as they stand. The engine itself first asks SQLite whether another
        connection changed the file and re-declares the indexed paths, on every call (~10 µs);
        here no other connection can (the store's lock), and `_check_indexes` follows index
        changes."""
        index = store._query_index
        keys = index.candidates(dict(filter)) if index is not None else None
        found: Iterable[Doc]
        if keys is None:  # no index yet, or one the filter cannot use: the engine's way
            found = store.find_candidates(dict(filter))
            return found
        ordered = index.in_natural_order(keys)
        remembered = [doc for k in ordered if (doc := self._recent.get(k)) is not None]
        if len(remembered) == len(ordered):
            return remembered
        found = store._get_many(ordered)
        return found

    @staticmethod
    def _exists(store: Any, key: str) -> bool:
        index = store._query_index
        if index is None:
            return key in store._documents  # one SELECT
        return store._index_key(key) in index._docs  # every stored key, in memory

    def _keyed(self, filter: Filter, *, writes: bool) -> tuple[Any, keyed.KeyFilter] | None:
        if not (self._keyed_writes if writes else self._keyed_reads):
            return None
        plan = keyed.key_filter(filter)
        if plan is None:
            return None
        store = self._engine_store()
        return None if store is None else (store, plan)

    def _read(self, store: Any, key: str) -> Doc | keyed.Unsure | None:
        # Remembered, or straight from its `TableDict` (one SELECT and a decode):
        # `CollectionStore.__getitem__` adds a reader lock for threads (one thread here) and TTL
        # expiry (none here).
        encoded = store._documents.encode_key(key)
        doc = self._recent.get(encoded)
        if doc is None:
            try:
                doc = store._documents[key]
            except KeyError:
                return None
            assert doc is not None
            self._recent.put(encoded, doc)
        found = doc.get("_id")
        if type(found) is not str or found != key:
            return keyed.UNSURE  # a key shared with another type of id (legacy files)
        return doc

    def _fetch(self, store: Any, encoded: str) -> Doc | None:
        """The document stored under the engine's key `encoded`, as callers see it."""
        doc = self._recent.get(encoded)
        if doc is None:
            stored: Doc | None = next(iter(store._documents.get_many_encoded([encoded])), None)
            if stored is None:
                return None
            self._recent.put(encoded, stored)
            doc = stored
        seen: Doc = _aware(doc)
        return seen

    def _told(self, key: str, doc: Doc | None) -> Doc | None:
        """The document as callers see it (aware datetimes); the observer is told."""
        seen = _aware(doc) if doc is not None else None
        if self.on_stored is not None:
            self.on_stored(key, seen)
        return seen

    def _fast_find(self, filter: Filter) -> tuple[Doc | None] | None:
        current = self._current(filter, writes=False)
        if current is None:
            return None
        _, _, doc, matched = current
        return (_aware(doc) if doc is not None and matched else None,)

    def _fast_find_many(
        self, filter: Filter, projection: Mapping[str, Any] | None, *, first: bool = False
    ) -> list[Doc] | None:
        """Equality conditions alone: the engine's own candidates (its hash indexes, or every
        document), checked here instead of by its query machinery; with `first`, up to the
        first match."""
        if not self._keyed_reads:
            return None
        conditions = keyed.equality_conditions(filter)
        if conditions is None:
            return None
        fields = None
        if projection is not None:
            fields = keyed.projected_fields(projection)
            if fields is None:
                return None
        store = self._engine_store()
        if store is None:
            return None
        docs = []
        for doc in self._candidates(store, filter):
            matched = keyed.matches(doc, conditions)
            if matched is None:
                return None
            if matched:
                docs.append(_aware(keyed.project(doc, fields)))
                if first:
                    break
        return docs

    def _current(
        self, filter: Filter, *, writes: bool
    ) -> tuple[Any, keyed.KeyFilter, Doc | None, bool] | None:
        """The engine's store, the filter's plan, the document under its key and whether that
        meets the filter's other conditions; None when the fast path cannot decide."""
        target = self._keyed(filter, writes=writes)
        if target is None:
            return None
        store, plan = target
        old = self._read(store, plan.key)
        if isinstance(old, keyed.Unsure):
            return None
        matched = old is not None and keyed.matches(old, plan.conditions)
        if matched is None:
            return None
        return store, plan, old, matched

    def _unique_ok(self, store: Any, key: str, doc: Doc) -> bool:
        """True when the fast path may write `doc` under `key`; raises `DuplicateKeyError` when
        a unique sparse index refuses it; False when the engine must decide."""
        taken = self._taken(store, key, doc)
        if taken:
            raise DuplicateKeyError(f"E11000 duplicate key error ({self.name})")
        return taken is not None

    def _taken(self, store: Any, key: str, doc: Doc) -> bool | None:
        """Whether another document holds one of `doc`'s unique sparse values; None when that
        is not for the fast path to decide (a value that is not a string)."""
        own = None
        for field in self._unique_fields:
            if field not in doc:
                continue  # sparse: a document without the field is not in the index
            holders = self._holders(store, field, doc[field])
            if holders is None:
                return None
            own = own or store._index_key(key)
            if holders - {own}:
                return True
        return False

    @staticmethod
    def _holders(store: Any, field: str, value: Any) -> set[str] | None:
        """The engine's keys of the documents whose `field` (a unique sparse one) is the
        string `value`, from its hash index of that field (exact: every write updates it);
        None when that is not for the fast path to say."""
        index = store._query_index
        if type(value) is not str or index is None or field not in index._fields:
            return None
        field_index = index._fields[field]
        if field_index._unkeyed:
            return None  # documents it could not key (arrays on the path): the engine decides
        holders: set[str] = field_index._entries.get(("s", value), set())
        return holders

    def _fast_modify(self, filter: Filter, update: Any, upsert: bool) -> _Modified | None:
        current = self._current(filter, writes=True)
        if current is None:
            return None
        store, plan, old, matched = current
        changes = keyed.plan_update(update, plan.key)
        if changes is None:
            return None
        if not matched:
            if not upsert:
                self._told(plan.key, old)  # what a read by `_id` finds, unchanged
                return _Modified(False, False, False, None, None)
            if old is not None or plan.conditions:
                return None  # the engine decides what an upsert with conditions inserts
            created = keyed.apply(None, plan.key, changes)
            if created is None:
                return None
            if not self._unique_ok(store, plan.key, created):
                return None
            rows.put(store, plan.key, created, self._commits, self._recent)
            return _Modified(False, False, True, None, self._told(plan.key, created))
        assert old is not None
        new = keyed.apply(old, plan.key, changes)
        if new is None:
            return None
        modified = new != old
        if modified:
            if not self._unique_ok(store, plan.key, new):
                return None
            rows.put(store, plan.key, new, self._commits, self._recent)
        return _Modified(True, modified, False, old, self._told(plan.key, new))

    def _fast_delete(self, filter: Filter) -> tuple[Doc | None] | None:
        current = self._current(filter, writes=False)
        if current is None:
            return None
        store, plan, old, matched = current
        if not matched:
            self._told(plan.key, old)  # what a read by `_id` finds, unchanged
            return (None,)
        assert old is not None
        rows.delete(store, plan.key, self._commits, self._recent)
        self._told(plan.key, None)
        return (_aware(old),)

    def _fast_insert(self, doc: Doc) -> bool:
        if not self._keyed_writes:
            return False
        new = keyed.stored_document(doc)
        store = self._engine_store() if new is not None else None
        if new is None or store is None:
            return False
        key: str = new["_id"]
        if self._exists(store, key):
            raise DuplicateKeyError("E11000 Duplicate Key Error")
        if not self._unique_ok(store, key, new):
            return False
        rows.put(store, key, new, self._commits, self._recent)
        if self.on_stored is not None:  # (an insert returns nothing: no copy for nobody)
            self._told(key, new)
        return True

    # The interface ------------------------------------------------------------------------

    async def _run(self, fn: Callable[[], T], *, writes: bool = False) -> T:
        if writes or self._ttl:  # (the engine expires TTL documents on any call)
            # The engine commits its writes at once: what waits for a group commit goes first.
            self._commits.before_engine_write()
            self._recent.clear()  # whatever the engine changes, it does not tell
        try:
            return fn()
        except pymongo.errors.DuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from exc
        except pymongo.errors.BulkWriteError as exc:
            raise DuplicateKeyError(str(exc)) from exc

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        if sort is None and projection is None:
            fast = self._fast_find(filter) if "_id" in filter else None
            if fast is not None:
                return fast[0]
            if len(filter) == 1 and self._keyed_reads:
                [(field, value)] = filter.items()
                if field in self._unique_fields:
                    store = self._engine_store()
                    holders = self._holders(store, field, value) if store is not None else None
                    if holders is not None:
                        return self._fetch(store, next(iter(holders))) if holders else None
            if "_id" not in filter:
                # The first match in natural order, as the engine answers.
                found = self._fast_find_many(filter, None, first=True)
                if found is not None:
                    return found[0] if found else None
        f = _naive(filter)
        doc = await self._run(
            lambda: self._c.find_one(f, projection, sort=list(sort) if sort else None)
        )
        return _aware(doc) if doc is not None else None

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        if not (sort or skip or limit):
            fast = self._fast_find_many(filter, projection)
            if fast is not None:
                return fast
        f = _naive(filter)

        def run() -> list[Doc]:
            cursor = self._c.find(f, projection)
            if sort:
                cursor = cursor.sort(list(sort))
            if skip:
                cursor = cursor.skip(skip)
            if limit:
                cursor = cursor.limit(limit)
            return _all(cursor)

        return [_aware(d) for d in await self._run(run)]

    async def scan(
        self, equals: Mapping[str, str], shape: Callable[[Doc], Doc] = lambda doc: doc
    ) -> list[Doc]:
        """Reads the engine's SQLite file straight, decoding each BSON document once and
        keeping only its shape: the query engine would copy and re-check every document (7 s
        for 140,000 tasks; this takes 2 s) and hold them all. It reads through the engine's own
        connection, so it sees the writes still waiting for their commit, as `find` does."""
        store = self._engine_store()
        if store is None:
            return await super().scan(equals, shape)
        # litemongo's `CollectionStore` keeps each document as a BSON blob in its `documents`
        # table of `(_id, doc)`.
        rows = store._connection.execute("SELECT doc FROM documents ORDER BY ROWID")
        wanted = list(equals.items())
        docs = []
        for (blob,) in rows:
            doc = bson.decode(blob, _AWARE_UTC)
            if all(doc.get(k) == v for k, v in wanted):
                docs.append(shape(doc))
        return docs

    async def batches(
        self, filter: Filter, *, size: int, keyset: Sequence[str] = ("_id",)
    ) -> AsyncIterator[list[Doc]]:
        """Batches in the engine's storage order: its query machinery filters and sorts every
        document of the collection for any condition its hash indexes cannot answer (a range),
        so a batch asked by query costs the whole collection (seconds at 50,000 entries). Each
        batch here reads the next `size` rows of its SQLite file instead (by ROWID, through its
        own connection, as `scan` does) and keeps those the engine's query would return
        (`matching`): a batch may hold fewer documents than `size`, or none, and is still one
        bounded step."""
        store = self._engine_store()
        if store is None or self._ttl:
            async for batch in super().batches(filter, size=size, keyset=keyset):
                yield batch
            return
        matches = matching.matcher(filter)
        last = 0
        while True:
            rows = store._connection.execute(
                "SELECT ROWID, doc FROM documents WHERE ROWID > ? ORDER BY ROWID LIMIT ?",
                (last, size),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            docs = [bson.decode(blob, _AWARE) for _, blob in rows]
            yield [d for d in docs if matches(d)]
            if len(rows) < size:
                return

    async def insert_one(self, doc: Doc) -> None:
        if self._fast_insert(doc):
            return
        d = _naive(doc)
        await self._run(lambda: self._c.insert_one(d), writes=True)

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        ds = [_naive(d) for d in docs]
        await self._run(lambda: self._c.insert_many(ds, ordered=True), writes=True)

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        fast = self._fast_modify(filter, update, upsert)
        if fast is not None:
            upserted_id = fast.after["_id"] if fast.upserted and fast.after else None
            return UpdateOutcome(int(fast.matched), int(fast.modified), upserted_id)
        f, u = _naive(filter), _naive(update)
        r = await self._run(lambda: self._c.update_one(f, u, upsert=upsert), writes=True)
        return UpdateOutcome(r.matched_count, r.modified_count, r.upserted_id)

    async def update_many(self, filter: Filter, update: Any) -> int:
        f, u = _naive(filter), _naive(update)
        r = await self._run(lambda: self._c.update_many(f, u), writes=True)
        return int(r.matched_count)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Any,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Doc | None:
        if sort is None:
            fast = self._fast_modify(filter, update, upsert)
            if fast is not None:
                if return_new:
                    return fast.after
                return _aware(fast.before) if fast.before is not None else None
        f, u = _naive(filter), _naive(update)
        doc = await self._run(
            lambda: self._c.find_one_and_update(
                f,
                u,
                upsert=upsert,
                return_document=_return_document(return_new),
                sort=list(sort) if sort else None,
            ),
            writes=True,
        )
        return _aware(doc) if doc is not None else None

    async def find_one_and_delete(self, filter: Filter) -> Doc | None:
        fast = self._fast_delete(filter)
        if fast is not None:
            return fast[0]
        f = _naive(filter)
        doc = await self._run(lambda: self._c.find_one_and_delete(f), writes=True)
        return _aware(doc) if doc is not None else None

    async def delete_one(self, filter: Filter) -> int:
        fast = self._fast_delete(filter)
        if fast is not None:
            return 0 if fast[0] is None else 1
        f = _naive(filter)
        r = await self._run(lambda: self._c.delete_one(f), writes=True)
        return int(r.deleted_count)

    async def delete_many(self, filter: Filter) -> int:
        f = _naive(filter)
        r = await self._run(lambda: self._c.delete_many(f), writes=True)
        return int(r.deleted_count)

    async def count(self, filter: Filter) -> int:
        f = _naive(filter)
        return int(await self._run(lambda: self._c.count_documents(f)))

    async def create_index(self, spec: IndexSpec) -> None:
        keys = list(spec.keys) if spec.embedded is None else [(f, 1) for f in spec.embedded]
        if not keys:  # MongoDB's alone; a store written by an older version may have it
            if spec.name in await self._run(self._c.index_information):
                await self.drop_index(spec.name)
            return
        kwargs = _index_kwargs(spec)
        try:
            await self._run(lambda: self._c.create_index(keys, **kwargs), writes=True)
        finally:
            self._check_indexes()

    async def drop_index(self, name: str) -> None:
        try:
            await self._run(lambda: self._c.drop_index(name), writes=True)
        finally:
            self._check_indexes()


__all__ = [
    "Collection",
    "Doc",
    "DriverCollection",
    "DuplicateKeyError",
    "EmbeddedCollection",
    "StoreError",
    "UpdateOutcome",
    "pymongo",
]
