"""The database seam. Every other module reaches the data through a `Store`.

Three backends stand behind one interface:
- MongoDB through PyMongo's `AsyncMongoClient` (`TIMETRAIL_MONGODB_URI` set); stateless servers
  may run side by side on it.
- The embedded store (the default): one SQLite database in the data directory, its tables
  derived from the declared indexes (`sqlite.py`). One server process at a time; a second is
  refused.
- mongomock-motor, in memory, for tests.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

import pymongo.errors

from ..datadir import FILE_MODE, private_dir, private_files
from . import collections as names
from . import migrate
from .adapters import Collection, Doc, DriverCollection, Millis, UpdateOutcome
from .cache import CachedCollection
from .commits import CommitGroup
from .errors import DuplicateKeyError, StoreError
from .sqlite import connect

log = logging.getLogger(__name__)

DATABASE_NAME = "timetrail"
# The embedded store's database, in the data directory.
EMBEDDED_FILE = "store.sqlite3"
# The most values one `$in` carries.
IN_CHUNK = 100


def in_chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    """`values` in lists of at most `IN_CHUNK`, for `$in` conditions."""
    for start in range(0, len(values), IN_CHUNK):
        yield list(values[start : start + IN_CHUNK])


async def find_in(collection: Collection, field: str, values: Sequence[Any]) -> list[Doc]:
    """The documents whose `field` is one of `values`, asked in chunks."""
    docs: list[Doc] = []
    for chunk in in_chunks(values):
        docs += await collection.find({field: {"$in": chunk}})
    return docs


class StoreLockedError(StoreError):
    """Another process has the embedded store open."""


class Store:
    """The collections, named in one place, over one backend."""

    def __init__(
        self, backend: str, make: Any, *, ping: Any, close: Any, durable: Any = None
    ) -> None:
        self.backend = backend
        self._ping = ping
        self._close = close
        self._durable = durable
        self.accounts: Collection = make(names.ACCOUNTS)
        self.users: Collection = make(names.USERS)
        self.tokens: Collection = make(names.TOKENS)
        self.login_attempts: Collection = make(names.LOGIN_ATTEMPTS)
        self.tasks: Collection = make(names.TASKS)
        self.memberships: Collection = make(names.MEMBERSHIPS)
        self.timers: Collection = make(names.TIMERS)  # only read to carry old timers over
        self.entries: Collection = make(names.ENTRIES)
        self.integrations: Collection = make(names.INTEGRATIONS)
        self.oauth_states: Collection = make(names.OAUTH_STATES)
        self.sync_runs: Collection = make(names.SYNC_RUNS)
        self.sync_leases: Collection = make(names.SYNC_LEASES)
        self.idempotency_keys: Collection = make(names.IDEMPOTENCY_KEYS)

    def collection(self, name: str) -> Collection:
        return cast(Collection, getattr(self, name))

    async def ensure_indexes(self) -> None:
        for retired_from, index in names.RETIRED:
            await self.collection(retired_from).drop_index(index)
        for spec in names.INDEXES:
            collection = self.collection(spec.collection)
            try:
                await collection.create_index(spec)
            except pymongo.errors.OperationFailure:
                # An index of that name changed definition in a newer version: replace it.
                log.info("Replacing index %s on %s", spec.name, spec.collection)
                await collection.drop_index(spec.name)
                await collection.create_index(spec)

    async def ping(self) -> None:
        await self._ping()

    async def durable(self) -> None:
        """Returns once every write made so far is on disk (the embedded store commits writes
        in groups: see `commits.py`; the other backends have written them already)."""
        if self._durable is not None:
            await self._durable()

    async def close(self) -> None:
        await self._close()


async def open_mongodb(uri: str, *, database: str | None = None) -> Store:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Doc] = AsyncMongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="timetrail"
    )
    db = client.get_database(database) if database else client.get_default_database(DATABASE_NAME)

    async def ping() -> None:
        await client.admin.command("ping")

    return await _driver_store("mongodb", db, ping=ping, close=client.close)


async def open_mongomock() -> Store:
    """An in-memory store for tests (mongomock-motor)."""
    from mongomock_motor import AsyncMongoMockClient

    client: Any = AsyncMongoMockClient()
    db = client[DATABASE_NAME]

    async def ping() -> None:
        await db.command("ping")

    async def close() -> None:
        client.close()

    return await _driver_store("mongomock", db, ping=ping, close=close)


async def _driver_store(backend: str, db: Any, *, ping: Any, close: Any) -> Store:
    naive_dates = backend == "mongomock"
    store = Store(
        backend, lambda name: DriverCollection(db[name], naive_dates=naive_dates), ping=ping,
        close=close,
    )  # fmt: skip
    await store.ensure_indexes()
    return store


def _lock_data_dir(path: Path) -> IO[str]:
    private_dir(path)
    lock_path = path / "store.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
    handle = os.fdopen(fd, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreLockedError(
            f"The embedded store in {path} is already open by {holder}. Only one Timetrail server "
            "may use an embedded store: stop the other server, or set TIMETRAIL_MONGODB_URI to "
            "run several servers on one MongoDB."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()}\n")
    handle.flush()
    return handle


async def open_embedded(data_dir: Path) -> Store:
    """The default store: one SQLite database in `data_dir`, one process only, used from the
    thread that opens it; its writes commit in groups (`commits.py`). A store an earlier version
    wrote (litemongo's files) is migrated first (`migrate.py`)."""
    lock = _lock_data_dir(data_dir)
    try:
        if migrate.needed(data_dir, EMBEDDED_FILE):
            await migrate.from_litemongo(data_dir, EMBEDDED_FILE, _open_sqlite)
        return await _open_sqlite(data_dir / EMBEDDED_FILE, lock)
    except BaseException:
        lock.close()
        raise


async def _open_sqlite(path: Path, lock: IO[str] | None = None) -> Store:
    try:
        connection = connect(path)
    except sqlite3.Error as exc:
        raise StoreError(f"The embedded store in {path} cannot be opened: {exc}") from exc
    private_files(path.parent)  # (SQLite makes its files with the process's umask)
    commits = CommitGroup(connection)

    async def ping() -> None:
        commits.check()

    async def close() -> None:
        try:
            commits.commit()
        finally:
            connection.close()
            if lock is not None:
                lock.close()  # (which releases it)

    def make(name: str) -> Collection:
        return CachedCollection(connection, name, commits)

    store = Store("embedded", make, ping=ping, close=close, durable=commits.durable)
    await store.ensure_indexes()
    commits.commit()
    return store


async def open_store(mongodb_uri: str | None, data_dir: Path) -> Store:
    if mongodb_uri:
        log.info("Using MongoDB")
        return await open_mongodb(mongodb_uri)
    log.info("Using the embedded store in %s", data_dir)
    return await open_embedded(data_dir)


__all__ = [
    "EMBEDDED_FILE",
    "Collection",
    "Doc",
    "DuplicateKeyError",
    "Millis",
    "Store",
    "StoreError",
    "StoreLockedError",
    "UpdateOutcome",
    "find_in",
    "in_chunks",
    "names",
    "open_embedded",
    "open_mongodb",
    "open_mongomock",
    "open_store",
]
