"""An identity-map cache for the embedded store.

Only one process may open an embedded store (the data dir is locked), and every write goes
through this process, so documents read by `_id` can be kept in memory and stay exact: every
write tells what it left behind under each `_id` it touched (`SqliteCollection._stored`), and
that is what is kept (write-through; callers get copies). Each call runs to its end without
handing the event loop back, so no read can race a write. Reads by `_id` — tokens, users, tasks,
accounts, the entry a timer stop ends — then cost no SQL at all, and neither do reads by the
value of a unique key (a user's running timer by `timer_of`), once it is known who holds it.

The count of writes of a collection is its `version()`: it tells the domain when what it read
may be kept (a caller, a user's roles: `server.memory.Remembered`).

MongoDB deployments may run several processes, so they are never cached.
"""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from ..memory import LRU
from . import match
from .adapters import Doc, Filter, Sort
from .collections import IndexSpec
from .commits import CommitGroup
from .sqlite import SqliteCollection

# The identity map keeps this many documents a collection (the least recently used go first):
# the hot ones (tokens, users, running timers) many times over, without holding a large import
# (20,000 tasks as Python objects take ~64 MB).
MAX_DOCUMENTS = 4_000
_MISSING = object()


class CachedCollection(SqliteCollection):
    def __init__(self, connection: sqlite3.Connection, name: str, commits: CommitGroup) -> None:
        super().__init__(connection, name, commits)
        # By `_id`: (its row, the document), or None where there is none.
        self._docs: LRU[Any, tuple[int, Doc] | None] = LRU(MAX_DOCUMENTS)
        self._writes = 0
        # By field of a unique index on it alone: which `_id` holds a (text) value, or None
        # where none does. Every write records the values it leaves (`_stored`), so a document
        # that no longer holds its value means that nobody does (`_found`).
        self._holders: dict[str, LRU[str, Any]] = {}

    def version(self) -> int | None:
        return self._writes

    def _stored(self, rowid: int, key: Any, doc: Doc | None) -> None:
        self._writes += 1
        self._docs.put(key, None if doc is None else (rowid, doc))
        for field, holders in self._holders.items():
            if doc is not None and type(value := doc.get(field)) is str:
                holders.put(value, key)

    def _row(self, key: Any) -> tuple[int, Doc] | None:
        """The document with this `_id` and its row, from memory or read into it."""
        kept = self._docs.get(key, _MISSING)
        if kept is not _MISSING:
            return cast(tuple[int, Doc] | None, kept)
        row = super()._found({"_id": key}, None)
        self._docs.put(key, row)
        return row

    def _found(self, filter: Filter, sort: Sort | None) -> tuple[int, Doc] | None:
        key = _MISSING if sort else self._key(filter)
        if key is _MISSING:
            return super()._found(filter, sort)
        row = None if key is None else self._row(key)
        # (not matched: a holder that let its value go, and then nobody holds it, see `_holders`)
        return row if row is not None and match.matches(row[1], filter) else None

    def _key(self, filter: Filter) -> Any:
        """The `_id` of the one document `filter` can match (None: none can), or `_MISSING`:
        the filter's own, or the holder of the value of a unique key it asks (a user's running
        timer, a user by email), read once and then known."""
        if "_id" in filter:  # with plain equalities on top-level fields at most
            plain = (
                type(v) in match.PLAIN and "$" not in f and "." not in f for f, v in filter.items()
            )
            return filter["_id"] if all(plain) else _MISSING
        if len(filter) != 1:
            return _MISSING
        [(field, value)] = filter.items()
        holders = self._holders.get(field)
        if holders is None or type(value) is not str or field in self._loose:
            return _MISSING
        key = holders.get(value, _MISSING)
        if key is _MISSING:
            found = super()._found(filter, None)
            key = None if found is None else found[1]["_id"]
            holders.put(value, key)
        return key

    async def create_index(self, spec: IndexSpec) -> None:
        await super().create_index(spec)
        [(field, _), *others] = spec.keys
        if spec.unique and not others and field != "_id" and "." not in field:
            self._holders[field] = LRU(MAX_DOCUMENTS)

    async def drop_index(self, name: str) -> None:
        await super().drop_index(name)
        self._holders.clear()  # (until the indexes are declared again)
