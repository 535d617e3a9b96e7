"""Collection adapters: one small async interface over every backend.

The domain modules only see `Collection`. `DriverCollection` wraps an async driver collection:
PyMongo's `AsyncMongoClient` (production MongoDB) or mongomock-motor (tests); their differences
are handled here and nowhere else. The embedded store's collection is `sqlite.SqliteCollection`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pymongo.errors
from pymongo import ReturnDocument, UpdateOne

from . import match
from .collections import IndexSpec
from .errors import DuplicateKeyError

Doc = dict[str, Any]
Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class UpdateOutcome:
    matched: int
    modified: int
    upserted_id: Any | None


def _naive(value: Any) -> Any:
    """Mongomock-based engines compare datetimes as Python does: keep them all naive UTC."""
    return match.dates(
        value, lambda d: d if d.tzinfo is None else d.astimezone(dt.UTC).replace(tzinfo=None)
    )


class Millis(int):
    """A datetime as `Collection.rows` gives it: milliseconds since 1970 (UTC), what the
    store keeps of it."""

    EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    MS = dt.timedelta(milliseconds=1)

    @classmethod
    def of(cls, moment: dt.datetime) -> int:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return (moment - cls.EPOCH) // cls.MS


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

    async def batches(
        self, filter: Filter, *, size: int, keyset: Sequence[str] = ("_id",)
    ) -> AsyncIterator[list[Doc]]:
        """Every document matching `filter`, in lists of at most `size` (fewer, even none, where
        a backend filters what it read), each read by a call of its own: a caller works through
        many documents a bounded step at a time and hands the event loop back between steps.
        Each batch is asked after the last values of `keyset` read (it ends with `_id`; an
        index on the filter's equality fields then `keyset` makes each batch one index range).
        A document written while the batches are read may or may not be among them."""
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

    async def rows(
        self,
        filter: Filter,
        fields: Mapping[str, type],
        *,
        size: int,
        keyset: Sequence[str] = ("_id",),
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """`batches`, each document as the tuple of its `fields`' values (None where missing):
        for a caller reading many documents for a few fields, which a backend may read from its
        indexes alone. `fields` names each one's type, which the caller vouches documents hold
        there and in the fields the filter names (or null): `str`, `int` (booleans are ints: a
        backend may give 0 and 1), or `Millis` for a datetime, as milliseconds since 1970."""

        def value(doc: Doc, name: str) -> Any:
            found = doc.get(name)
            return Millis.of(found) if found is not None and fields[name] is Millis else found

        async for batch in self.batches(filter, size=size, keyset=keyset):
            yield [tuple(value(doc, name) for name in fields) for doc in batch]

    async def insert_one(self, doc: Doc) -> None:
        raise NotImplementedError

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        for doc in docs:  # in order, up to the first refused
            await self.insert_one(doc)

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
        return 0 if await self.find_one_and_delete(filter) is None else 1

    async def delete_many(self, filter: Filter) -> int:
        raise NotImplementedError

    async def count(self, filter: Filter) -> int:
        return len(await self.find(filter, projection={"_id": 1}))

    async def create_index(self, spec: IndexSpec) -> None:
        raise NotImplementedError

    async def drop_index(self, name: str) -> None:
        raise NotImplementedError


def _after(doc: Doc, keyset: Sequence[str]) -> Filter:
    """The documents after `doc` in the order of `keyset`: (a > x) or (a = x and b > y)...
    (null, or missing, sorts first; nothing is greater than null, `$gt`, but every value)."""
    either = []
    for i, name in enumerate(keyset):
        same = {earlier: doc.get(earlier) for earlier in keyset[:i]}
        value = doc.get(name)
        either.append({**same, name: {"$gt": value} if value is not None else {"$ne": None}})
    return {"$or": either}


@contextlib.contextmanager
def _duplicates() -> Iterator[None]:
    """The driver's duplicate-key errors (one write's or a bulk write's) as the store's."""
    try:
        yield
    except (pymongo.errors.DuplicateKeyError, pymongo.errors.BulkWriteError) as exc:
        raise DuplicateKeyError(str(exc)) from exc


class DriverCollection(Collection):
    """PyMongo's async collection, or mongomock-motor's (`naive_dates=True`; its bulk writes
    fail with PyMongo 4.11 and later, so updates go one by one)."""

    def __init__(self, collection: Any, *, naive_dates: bool) -> None:
        self._c = collection
        self.name = collection.name
        self._bulk_writes = not naive_dates
        self._in: Callable[[Any], Any] = _naive if naive_dates else (lambda v: v)
        self._out: Callable[[Any], Any] = match.utc if naive_dates else (lambda v: v)

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
        with _duplicates():
            await self._c.insert_one(self._in(doc))

    async def insert_many(self, docs: Sequence[Doc]) -> None:
        if docs:
            with _duplicates():
                await self._c.insert_many([self._in(d) for d in docs], ordered=True)

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        with _duplicates():
            r = await self._c.update_one(self._in(filter), self._in(update), upsert=upsert)
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
        with _duplicates():
            doc = await self._c.find_one_and_update(
                self._in(filter),
                self._in(update),
                upsert=upsert,
                return_document=ReturnDocument.AFTER if return_new else ReturnDocument.BEFORE,
                sort=list(sort) if sort else None,
            )
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
        options: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
        if spec.sparse:
            options["sparse"] = True
        if spec.partial is not None:
            options["partialFilterExpression"] = spec.partial
        await self._c.create_index(list(spec.keys), **options)

    async def drop_index(self, name: str) -> None:
        with contextlib.suppress(pymongo.errors.OperationFailure):  # (none of that name)
            await self._c.drop_index(name)
