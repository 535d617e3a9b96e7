"""The embedded store: each collection a table of one SQLite database, with its schema derived
from the indexes `collections.py` declares.

A collection's table holds each document as a BSON blob (`doc`), its `_id` (unique), and one
column per field its indexes name, holding the field's value in a form SQLite orders: text,
numbers (booleans as 0 and 1), datetimes as milliseconds since 1970 (UTC), an explicit null as
`x''` (a missing field is SQL NULL). Fields whose documents hold arrays (`IndexSpec.arrays`)
have a side table instead, one row per element. The declared indexes are SQLite indexes on those
columns: composite B-trees in the declared order, unique ones `UNIQUE` (partial and sparse ones
`WHERE ... IS NOT NULL`; two documents without the field do not collide, unlike MongoDB).

A query is answered in two steps: the conditions SQL can decide on indexed columns (equality,
`$in`, ranges, `$exists`, within `$and` and `$or`) select candidates through the indexes, and
every candidate is then checked against the whole filter (`match.py`), so SQL may only ever
select too much, never too little. A field one document holds something SQL does not order in
(a document, an array where a scalar was declared) is marked loose: SQL stops deciding on it.
Updates are applied in memory (`keyed.py`) and the row rewritten, only the changed columns set.

Everything runs on the event loop's thread, one call at a time (each call is atomic with
respect to every other request); writes wait for the `CommitGroup` to commit them together.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import bson

from . import keyed, match
from .adapters import Collection, Doc, Filter, Millis, Sort, UpdateOutcome
from .collections import IndexSpec
from .commits import CommitGroup
from .errors import DuplicateKeyError, StoreError

CODEC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True, tzinfo=dt.UTC)
# UTC as BSON's own fixed offset (equal to `dt.UTC`, compares and prints the same): decodes in
# less than half the time, for the many documents of a report's batches.
BATCH_CODEC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True)
NULL = b""  # an explicit null
LOOSE = b"\x01"  # a value SQL does not order: conditions on the field go to `match` alone
_INT32, _INT64 = 2**31, 2**63
_KEPT = frozenset({str, bool, float, type(None), bson.ObjectId})  # read back as they are
_RANGES = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_UNORDERED = (dict, list, tuple, re.Pattern)
_ABSENT = object()


def q(name: str) -> str:
    """An SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_value(value: Any) -> Any:
    """A field's value as its column holds it."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return NULL
    if kind is bool:
        return int(value)
    if kind is int:
        return value if -_INT64 <= value < _INT64 else float(value)
    if kind is float:
        return LOOSE if math.isnan(value) else value
    if kind is dt.datetime:
        return Millis.of(value)
    return LOOSE


def key_value(value: Any) -> Any:
    """An `_id` as its column holds it."""
    return value if type(value) in (str, int) else bson.encode({"": value})


def read_back(value: Any) -> Any:
    """`value` as the store reads it back (`bson.decode(bson.encode({"": value}), CODEC)`) when
    made of text, numbers, booleans, None, datetimes (to UTC, to the millisecond), ObjectIds,
    lists and plain dicts, derived without that round trip; `TypeError` for any other value."""
    kind = type(value)
    if kind is dict and "$ref" not in value:  # (a DBRef is read back as one)
        return {k: v if type(v) in _KEPT else read_back(v) for k, v in value.items()}
    if kind is dt.datetime:
        if value.tzinfo is dt.UTC and not value.microsecond % 1000 and not value.fold:
            return value  # (the store's own clock gives such)
        moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000, fold=0)
    if kind is int:
        return value if -_INT32 <= value < _INT32 else bson.Int64(value)
    if kind is list or kind is tuple:
        return [v if type(v) in _KEPT else read_back(v) for v in value]
    if kind in _KEPT:
        return value
    raise TypeError(kind)


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    # (as the engine before it: a commit survives the process, the OS's crash needs a checkpoint)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA cache_size=-32768")  # 32 MB of pages
    connection.execute(
        'CREATE TABLE IF NOT EXISTS "loose"(collection, field, UNIQUE(collection, field))'
    )
    connection.commit()
    return connection


class SqliteCollection(Collection):
    def __init__(self, connection: sqlite3.Connection, name: str, commits: CommitGroup) -> None:
        self.name = name
        self._db = connection
        self._writer = connection.cursor()  # (the writes' own: cheaper than one a write)
        self._commits = commits
        self._t = q(name)
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {self._t}"
            "(id INTEGER PRIMARY KEY, _id NOT NULL UNIQUE, doc BLOB NOT NULL)"
        )
        info = connection.execute(f"PRAGMA table_info({self._t})").fetchall()
        self._columns = [row[1][1:] for row in info if row[1].startswith("@")]
        sides = connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE ? ESCAPE '\\'",
            (name.replace("_", "\\_") + "@%",),
        )
        self._arrays = [row[0][len(name) + 1 :] for row in sides]
        self._loose = {
            row[0]
            for row in connection.execute('SELECT field FROM "loose" WHERE collection=?', (name,))
        }
        self._prepare()

    def _prepare(self) -> None:
        columns = "".join(f", {q('@' + c)}" for c in self._columns)
        marks = ", ?" * len(self._columns)
        self._insert_sql = f"INSERT INTO {self._t}(_id, doc{columns}) VALUES(?, ?{marks})"
        self._updates: dict[tuple[str, ...], str] = {}  # UPDATE statements by the columns set

    def _side(self, field: str) -> str:
        return q(f"{self.name}@{field}")

    # Values of the indexed fields ---------------------------------------------------------

    def _column(self, doc: Doc, field: str) -> Any:
        at_once = "." not in field and field in doc  # (most columns, on every write)
        values = [doc[field]] if at_once else list(match.lookup(doc, field.split(".")))
        value = None if not values else sql_value(values[0]) if len(values) == 1 else LOOSE
        if value is LOOSE:
            self._mark_loose(field)
        return value

    def _elements(self, doc: Doc, field: str) -> list[Any]:
        elements: list[Any] = []
        for value in match.lookup(doc, field.split(".")):
            elements += value if isinstance(value, list) else [value]
        encoded = [sql_value(e) for e in elements]
        if LOOSE in encoded:
            self._mark_loose(field)
        return list(dict.fromkeys(e for e in encoded if e is not LOOSE and e != NULL))

    def _mark_loose(self, field: str) -> None:
        if field not in self._loose:
            self._loose.add(field)
            self._db.execute('INSERT OR IGNORE INTO "loose" VALUES(?, ?)', (self.name, field))

    # Candidates ---------------------------------------------------------------------------

    def _condition(self, field: str, cond: Any, where: list[str], params: list[Any]) -> bool:
        """Add what SQL can decide of one field's condition (a superset of its matches);
        whether that is all of it."""
        if field == "_id":
            column, side, encode = "_id", None, key_value
        elif field in self._loose:
            return False
        elif field in self._columns:
            column, side, encode = q("@" + field), None, sql_value
        elif field in self._arrays:
            column, side, encode = "value", self._side(field), sql_value
        else:
            return False
        exact = True
        operators = cond.items() if match.is_operators(cond) else [("$eq", cond)]
        for given, condition in operators:
            operator, arg = given, condition
            if operator == "$eq" and not isinstance(arg, _UNORDERED):
                operator, arg = "$in", [arg]
            if operator == "$in" and not any(isinstance(a, _UNORDERED) for a in arg):
                values = [encode(a) for a in arg if a is not None]
                expr = f"{column} IN ({', '.join('?' * len(values))})"
                if None in arg:
                    if side is not None:
                        exact = False
                        continue  # a missing array field has no row to find
                    expr = f"({expr} OR {column} IS NULL OR {column} = x'')"
            elif operator in _RANGES and type(arg) in (str, int, float, dt.datetime):
                values = [encode(arg)]
                expr = f"{column} {_RANGES[operator]} ?"
            elif operator == "$exists" and side is None:
                values = []
                expr = f"{column} IS {'NOT ' if arg else ''}NULL"
            else:
                exact = False
                continue
            if side is not None:
                expr = f"id IN (SELECT doc FROM {side} WHERE {expr})"
            where.append(expr)
            params += values
        return exact

    def _where(self, filter: Filter, where: list[str], params: list[Any]) -> bool:
        """Add what SQL can decide of `filter`; whether that is all of it (for documents whose
        fields hold one type each: SQL compares across types where MongoDB does not)."""
        exact = True
        for field, cond in filter.items():
            if field == "$and":
                for part in cond:
                    exact &= self._where(part, where, params)
            elif field == "$or":
                branches: list[str] = []
                values: list[Any] = []
                for part in cond:
                    conjuncts: list[str] = []
                    exact &= self._where(part, conjuncts, values)
                    if not conjuncts:
                        break  # a branch SQL cannot narrow: the whole `$or` goes to `match`
                    branches.append(" AND ".join(conjuncts))
                else:
                    if branches:
                        where.append("((" + ") OR (".join(branches) + "))")
                        params += values
                        continue
                exact = False
            elif field.startswith("$"):
                exact = False
            else:
                exact &= self._condition(field, cond, where, params)
        return exact

    def select(self, filter: Filter, columns: str = "id, doc") -> tuple[str, list[Any]]:
        """The SQL selecting the candidates of `filter`."""
        where: list[str] = []
        params: list[Any] = []
        self._where(filter, where, params)
        if not where:
            return f"SELECT {columns} FROM {self._t} ORDER BY id", params
        # In the order of the index read, as MongoDB answers (sorting by `id` would make
        # SQLite read the whole table in its order rather than search an index)
        return f"SELECT {columns} FROM {self._t} WHERE {' AND '.join(where)}", params

    def plan(self, filter: Filter) -> list[str]:
        """SQLite's plan for the candidates of `filter` (how it reads them: index or scan)."""
        sql, params = self.select(match.utc(filter))
        return [row[3] for row in self._db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    def _rows(self, filter: Filter) -> Iterator[tuple[int, Doc]]:
        self._commits.check()
        sql, params = self.select(filter)
        cursor = self._db.execute(sql, params)
        try:
            for rowid, blob in cursor:
                doc = bson.decode(blob, CODEC)
                if match.matches(doc, filter):
                    yield rowid, doc
        finally:  # (also when the caller stops early: a generator dropped is closed)
            cursor.close()

    def _found(self, filter: Filter, sort: Sort | None) -> tuple[int, Doc] | None:
        """The first match (in `sort`'s order) and its row: read only (the identity map's)."""
        filter = match.utc(filter)
        if not sort:
            return next(self._rows(filter), None)
        rows = match.sort(list(self._rows(filter)), sort, lambda row: row[1])
        return rows[0] if rows else None

    # Writes -------------------------------------------------------------------------------

    def _stored(self, rowid: int, key: Any, doc: Doc | None) -> None:
        """Told of every document a write leaves behind (None: deleted), once written: the
        store's from then on (the identity map, `cache.py`, keeps it)."""

    def _encoded(self, doc: Doc) -> tuple[bytes, Doc]:
        try:
            blob = bson.encode(doc)
        except (bson.errors.InvalidDocument, OverflowError) as exc:
            raise StoreError(f"A document the store cannot hold: {exc}") from exc
        try:
            return blob, read_back(doc)
        except TypeError:
            return blob, bson.decode(blob, CODEC)

    def _duplicate(self, exc: sqlite3.IntegrityError) -> DuplicateKeyError:
        return DuplicateKeyError(f"E11000 duplicate key error collection: {self.name}: {exc}")

    def _elements_into(self, rowid: int, elements: list[Any], field: str) -> None:
        sql = f"INSERT INTO {self._side(field)}(doc, value) VALUES(?, ?)"
        self._db.executemany(sql, [(rowid, e) for e in elements])  # (none: nothing done)

    def _insert(self, doc: Doc) -> Doc:
        # An `_id` made as MongoDB's drivers make it, first (where BSON writes it)
        doc = {"_id": doc["_id"] if "_id" in doc else bson.ObjectId(), **doc}
        blob, stored = self._encoded(doc)
        values = [self._column(stored, c) for c in self._columns]
        self._commits.check()
        try:
            self._writer.execute(self._insert_sql, [key_value(stored["_id"]), blob, *values])
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(exc) from None
        rowid = self._writer.lastrowid
        assert rowid is not None
        for field in self._arrays:
            self._elements_into(rowid, self._elements(stored, field), field)
        self._commits.wrote()
        self._stored(rowid, stored["_id"], stored)
        return stored

    def _replace(self, rowid: int, old: Doc, new: Doc) -> Doc:
        """Write `new` over `old` (its row `rowid`), setting only the columns that change."""
        blob, stored = self._encoded(new)
        changed, values = [], [blob]
        for column in self._columns:
            if "." not in column and new.get(column, _ABSENT) is old.get(column, _ABSENT):
                continue  # none, or the value the applier kept (`keyed.apply` shares those)
            value, before = self._column(stored, column), self._column(old, column)
            if value != before or type(value) is not type(before):
                changed.append(column)
                values.append(value)
        if (sql := self._updates.get(sets := tuple(changed))) is None:
            columns = "".join(f", {q('@' + column)} = ?" for column in sets)
            sql = self._updates[sets] = f"UPDATE {self._t} SET doc = ?{columns} WHERE id = ?"
        self._commits.check()
        try:
            self._writer.execute(sql, [*values, rowid])
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(exc) from None
        for field in self._arrays:
            elements = self._elements(stored, field)
            if elements != self._elements(old, field):
                self._db.execute(f"DELETE FROM {self._side(field)} WHERE doc = ?", (rowid,))
                self._elements_into(rowid, elements, field)
        self._commits.wrote()
        self._stored(rowid, stored["_id"], stored)
        return stored

    def _delete(self, rowid: int, doc: Doc) -> None:
        self._commits.check()
        self._db.execute(f"DELETE FROM {self._t} WHERE id = ?", (rowid,))
        for field in self._arrays:
            self._db.execute(f"DELETE FROM {self._side(field)} WHERE doc = ?", (rowid,))
        self._commits.wrote()
        self._stored(rowid, doc["_id"], None)

    def _modify(
        self, filter: Filter, update: Mapping[str, Any], upsert: bool, sort: Sort | None = None
    ) -> tuple[Doc | None, Doc | None, bool]:
        """(the document before, after, whether it was inserted) for a one-document update."""
        update = match.utc(update)
        found = self._found(filter, sort)
        if found is None:
            if not upsert:
                return None, None, False
            new = keyed.apply(None, update, keyed.seed(match.utc(filter)))
            return None, self._insert(new), True
        rowid, old = found
        new = keyed.apply(old, update)
        if new == old and match.equal(new, old):
            return old, old, False  # nothing to write
        return old, self._replace(rowid, old, new), False

    # The interface ------------------------------------------------------------------------

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        found = self._found(filter, sort)
        if found is None:
            return None
        project = match.projector(projection)
        return cast(Doc, keyed.fresh(project(found[1]) if project else found[1]))

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        project = match.projector(projection)
        docs: Iterable[Doc] = (doc for _, doc in self._rows(match.utc(filter)))
        if sort:
            docs = match.sort(list(docs), sort, lambda doc: doc)
        window = itertools.islice(docs, skip, skip + limit if limit else None)
        return [project(d) for d in window] if project else list(window)  # (projected as read)

    async def batches(
        self, filter: Filter, *, size: int, keyset: Sequence[str] = ("_id",)
    ) -> AsyncIterator[list[Doc]]:
        """Each batch one SQL range after the last row read (`(keyset) > (last values)`,
        `ORDER BY keyset LIMIT size`), its candidates checked as `find` checks them."""
        order = [self._key_column(field) for field in keyset]
        if None in order:  # a keyset field without a column SQL orders by
            async for batch in super().batches(filter, size=size, keyset=keyset):
                yield batch
            return
        filter = match.utc(filter)
        matches = match.matcher(filter)
        async for rows in self._keyset_rows(filter, keyset[0], order, ["doc"], size):
            docs = [bson.decode(row[0], BATCH_CODEC) for row in rows]
            yield [doc for doc in docs if matches(doc)]

    async def rows(
        self,
        filter: Filter,
        fields: Mapping[str, type],
        *,
        size: int,
        keyset: Sequence[str] = ("_id",),
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Read from the columns (an index holding them all answers alone) when SQL decides the
        whole filter and every field asked for is a column."""
        filter = match.utc(filter)
        order = [self._key_column(field) for field in keyset]
        selected = [self._key_column(field) for field in fields]
        exact = self._where(filter, [], [])
        if not exact or None in order or None in selected:
            async for batch in super().rows(filter, fields, size=size, keyset=keyset):
                yield batch
            return
        columns = [f"NULLIF({column}, x'')" for column in selected]  # (explicit nulls)
        async for rows in self._keyset_rows(filter, keyset[0], order, columns, size):
            yield rows  # (datetimes are held as milliseconds, booleans as 0 and 1)

    async def _keyset_rows(
        self, filter: Filter, first: str, order: list[Any], columns: list[str], size: int
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """`columns` of what SQL selects of `filter`, by `order`, each SQL range after the last."""
        last: tuple[Any, ...] | None = None
        while True:
            self._commits.check()
            sql, params = self._batch_select(filter, first, order, last, columns)
            rows = self._db.execute(sql, [*params, size]).fetchall()
            if not rows:
                return
            last = tuple(rows[-1][: len(order)])
            yield [row[len(order) :] for row in rows]
            if len(rows) < size:
                return

    def _batch_select(
        self,
        filter: Filter,
        first: str,
        order: list[str],
        last: tuple[Any, ...] | None,
        columns: Sequence[str] = ("doc",),
    ) -> tuple[str, list[Any]]:
        """The SQL of the batch after `last`. After the first batch, the rows wanted start after
        `last` in the index's order; the filter's own lower bounds on the first keyset field
        (`first`) are then implied, and left out of the SQL: SQLite bounds an index range by
        one lower bound, and given the filter's it would read every row already read again
        before reaching `last` (quadratic over a report)."""
        if last is not None and None not in last:
            filter = _without_lower_bounds(filter, first)
        where: list[str] = []
        params: list[Any] = []
        self._where(filter, where, params)
        if last is not None:
            after, values = _after(order, last)
            where.append(after)
            params += values
        sql = f"SELECT {', '.join([*order, *columns])} FROM {self._t}"
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        return f"{sql} ORDER BY {', '.join(order)} LIMIT ?", params

    def batch_plan(
        self, filter: Filter, keyset: Sequence[str], fields: Iterable[str] = ()
    ) -> list[str]:
        """SQLite's plan for a batch after the first of `batches(filter, keyset=keyset)` (of
        `rows(filter, fields, keyset=keyset)` when `fields` are given)."""
        order = [self._key_column(field) or "" for field in keyset]
        columns = [self._key_column(field) or "" for field in fields] or ["doc"]
        last = tuple(0 for _ in order)
        sql, params = self._batch_select(match.utc(filter), keyset[0], order, last, columns)
        return [row[3] for row in self._db.execute(f"EXPLAIN QUERY PLAN {sql}", [*params, 1])]

    def _key_column(self, field: str) -> str | None:
        if field == "_id":
            return "_id"
        if field in self._columns and field not in self._loose:
            return q("@" + field)
        return None

    async def insert_one(self, doc: Doc) -> None:
        self._insert(doc)

    async def update_one(
        self, filter: Filter, update: Any, *, upsert: bool = False
    ) -> UpdateOutcome:
        before, after, inserted = self._modify(filter, update, upsert)
        if inserted and after is not None:
            return UpdateOutcome(0, 0, after["_id"])
        return UpdateOutcome(int(before is not None), int(before is not after), None)

    async def update_many(self, filter: Filter, update: Any) -> int:
        update = match.utc(update)
        rows = list(self._rows(match.utc(filter)))
        changed = [(rowid, old, keyed.apply(old, update)) for rowid, old in rows]
        for rowid, old, new in changed:
            if not match.equal(new, old):
                self._replace(rowid, old, new)
        return len(rows)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Any,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Doc | None:
        before, after, _ = self._modify(filter, update, upsert, sort)
        return cast(Doc | None, keyed.fresh(after if return_new else before))

    async def find_one_and_delete(self, filter: Filter) -> Doc | None:
        found = self._found(filter, None)
        if found is None:
            return None
        self._delete(*found)
        return cast(Doc, keyed.fresh(found[1]))

    async def delete_many(self, filter: Filter) -> int:
        rows = list(self._rows(match.utc(filter)))
        for rowid, doc in rows:
            self._delete(rowid, doc)
        return len(rows)

    # Indexes ------------------------------------------------------------------------------

    def _add_field(self, field: str, array: bool) -> None:
        """A column (or a side table) for `field`, filled from every document."""
        if field in self._columns or field in self._arrays:
            return
        self._commits.check()
        rows = self._db.execute(f"SELECT id, doc FROM {self._t}").fetchall()
        if array:
            side = self._side(field)
            self._db.execute(f"CREATE TABLE {side}(doc INTEGER NOT NULL, value)")
            self._db.execute(f"CREATE INDEX {q(f'{self.name}@{field}.doc')} ON {side}(doc)")
            self._arrays.append(field)
            for rowid, blob in rows:
                self._elements_into(rowid, self._elements(bson.decode(blob, CODEC), field), field)
        else:
            column = q("@" + field)
            self._db.execute(f"ALTER TABLE {self._t} ADD COLUMN {column}")
            self._columns.append(field)
            self._db.executemany(
                f"UPDATE {self._t} SET {column} = ? WHERE id = ?",
                [(self._column(bson.decode(blob, CODEC), field), rowid) for rowid, blob in rows],
            )
            self._prepare()
        self._commits.wrote()

    def _index_sql(self, spec: IndexSpec) -> str:
        name = q(f"{self.name}.{spec.name}")
        fields = [field for field, _ in spec.keys]
        arrays = [f for f in fields if f in spec.arrays]
        if arrays:
            if len(fields) > 1 or spec.unique:
                raise StoreError(f"{spec.name}: an array field is indexed alone, not unique")
            return f"CREATE INDEX {name} ON {self._side(fields[0])}(value, doc)"
        keys = ", ".join(
            f"{self._key_column(field) or q('@' + field)}{' DESC' if direction < 0 else ''}"
            for field, direction in spec.keys
        )
        where = ""
        if spec.partial is not None:
            if any(cond != {"$exists": True} for cond in spec.partial.values()):
                raise StoreError(f"{spec.name}: only `$exists: True` partial indexes are supported")
            where = " WHERE " + " AND ".join(f"{q('@' + f)} IS NOT NULL" for f in spec.partial)
        elif spec.sparse:
            where = " WHERE " + " OR ".join(f"{q('@' + f)} IS NOT NULL" for f in fields)
        unique = "UNIQUE " if spec.unique else ""
        return f"CREATE {unique}INDEX {name} ON {self._t}({keys}){where}"

    async def create_index(self, spec: IndexSpec) -> None:
        """Create the index (and the columns it needs), or replace one of that name that was
        declared differently."""
        for field, _ in spec.keys:
            if field != "_id":  # (a column of every table)
                self._add_field(field, field in spec.arrays)
        for field in spec.partial or {}:
            self._add_field(field, False)
        sql = self._index_sql(spec)
        name = f"{self.name}.{spec.name}"
        existing = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type='index' AND name=?", (name,)
        ).fetchone()
        if existing is not None and existing[0] == sql:
            return
        self._commits.check()
        try:
            if existing is not None:
                self._db.execute(f"DROP INDEX {q(name)}")
            self._db.execute(sql)
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(exc) from None
        finally:
            self._commits.wrote()

    async def drop_index(self, name: str) -> None:
        self._commits.check()
        self._db.execute(f"DROP INDEX IF EXISTS {q(f'{self.name}.{name}')}")
        self._commits.wrote()


def _without_lower_bounds(filter: Filter, field: str) -> Filter:
    """`filter` without its top-level `$gt`/`$gte` conditions on `field` (for SQL only: the
    whole filter still checks every row)."""
    cond = filter.get(field)
    if cond is None or not match.is_operators(cond):
        return filter
    rest = {k: v for k, v in cond.items() if k not in ("$gt", "$gte")}
    narrowed = {k: v for k, v in filter.items() if k != field}
    if rest:
        narrowed[field] = rest
    return narrowed


def _after(columns: list[str], last: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """SQL true for the rows after `last` in the order of `columns` (ascending, NULL first as
    SQLite orders it). Without a NULL in `last`, one row-value comparison (which an index on
    those columns answers as a range)."""
    if None not in last:
        marks = ", ".join("?" * len(last))
        return f"({', '.join(columns)}) > ({marks})", list(last)
    column, value = columns[0], last[0]
    if len(columns) == 1:
        return (f"{column} IS NOT NULL", []) if value is None else (f"{column} > ?", [value])
    rest, rest_values = _after(columns[1:], last[1:])
    if value is None:
        return f"({column} IS NOT NULL OR ({column} IS NULL AND {rest}))", rest_values
    return f"({column} > ? OR ({column} = ? AND {rest}))", [value, value, *rest_values]
