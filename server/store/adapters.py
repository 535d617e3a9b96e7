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
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import bson
import pymongo
import pymongo.errors
from pymongo import ReturnDocument, UpdateOne

from .collections import IndexSpec

Doc = dict[str, Any]
Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]
T = TypeVar("T")


class StoreError(Exception):
    """The store could not be opened or reached."""


class DuplicateKeyError(StoreError):
    """A unique index (or `_id`) refused a write."""


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


def _aware(value: Any) -> Any:
    """Every datetime the domain sees is timezone-aware UTC, as with `tz_aware=True`."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value
    if isinstance(value, dict):
        return {k: _aware(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_aware(v) for v in value]
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


def _document_rows(collection: Any) -> Iterator[tuple[bytes]] | None:
    """The BSON rows of a litemongo collection in insertion order, or None when this engine
    does not keep them where litemongo 0.2 does (its `CollectionStore`: a `documents` table of
    `(_id, doc)` on an SQLite connection)."""
    store = getattr(collection, "_store", None)
    connection = getattr(store, "_connection", None)
    table = getattr(store, "DOCUMENTS", None)
    if not isinstance(connection, sqlite3.Connection) or table != "documents":
        return None
    rows: Iterator[tuple[bytes]] = connection.execute("SELECT doc FROM documents ORDER BY ROWID")
    return rows


class Collection:
    """The async interface every domain module uses."""

    name: str

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


def _index_kwargs(spec: IndexSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
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


class EmbeddedCollection(Collection):
    """A synchronous pymongo-compatible collection, called on the event loop's thread."""

    def __init__(self, collection: Any) -> None:
        self._c = collection
        self.name = collection.name

    async def _run(self, fn: Callable[[], T]) -> T:
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
        for 140,000 tasks; this takes 2 s) and hold them all. Every write has been committed by
        the time it runs (writes run to the end on this thread), so it sees what `find` would."""
        rows = _document_rows(self._c)
        if rows is None:
            return await super().scan(equals, shape)
        wanted = list(equals.items())
        docs = []
        for (blob,) in rows:
            doc = bson.decode(blob, _AWARE_UTC)
            if all(doc.get(k) == v for k, v in wanted):
                docs.append(shape(doc))
        return docs

    async def insert_one(self, doc: Doc) -> None:
        d = _naive(doc)
        await self._run(lambda: self._c.insert_one(d))

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        ds = [_naive(d) for d in docs]
        await self._run(lambda: self._c.insert_many(ds, ordered=True))

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        f, u = _naive(filter), _naive(update)
        r = await self._run(lambda: self._c.update_one(f, u, upsert=upsert))
        return UpdateOutcome(r.matched_count, r.modified_count, r.upserted_id)

    async def update_many(self, filter: Filter, update: Any) -> int:
        f, u = _naive(filter), _naive(update)
        r = await self._run(lambda: self._c.update_many(f, u))
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
        f, u = _naive(filter), _naive(update)
        doc = await self._run(
            lambda: self._c.find_one_and_update(
                f,
                u,
                upsert=upsert,
                return_document=_return_document(return_new),
                sort=list(sort) if sort else None,
            )
        )
        return _aware(doc) if doc is not None else None

    async def find_one_and_delete(self, filter: Filter) -> Doc | None:
        f = _naive(filter)
        doc = await self._run(lambda: self._c.find_one_and_delete(f))
        return _aware(doc) if doc is not None else None

    async def delete_one(self, filter: Filter) -> int:
        f = _naive(filter)
        r = await self._run(lambda: self._c.delete_one(f))
        return int(r.deleted_count)

    async def delete_many(self, filter: Filter) -> int:
        f = _naive(filter)
        r = await self._run(lambda: self._c.delete_many(f))
        return int(r.deleted_count)

    async def count(self, filter: Filter) -> int:
        f = _naive(filter)
        return int(await self._run(lambda: self._c.count_documents(f)))

    async def create_index(self, spec: IndexSpec) -> None:
        kwargs = _index_kwargs(spec)
        await self._run(lambda: self._c.create_index(list(spec.keys), **kwargs))

    async def drop_index(self, name: str) -> None:
        await self._run(lambda: self._c.drop_index(name))


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
