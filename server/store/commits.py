"""Group commit for the embedded store: one SQLite commit for the writes of many requests.

litemongo commits every write it makes (~16 µs each on these machines: the WAL frames and, now
and then, a checkpoint). The embedded store's fast path writes the same rows itself without
committing, tells a `CommitGroup`, and the group commits every file written once per turn of the
event loop, for all the requests that wrote during it. Two rules keep it exactly as safe as a
commit after every write:
- Nobody hears of a write before it is on disk: a response waits for `durable()` (the HTTP
  middleware does it for every request), and closing the store commits.
- What reaches the disk is always a prefix of the writes in the order they were made, so a crash
  leaves a state that a crash of the commit-every-write store could have left too: files commit
  in the order they were first written, and writing to a file that waits for its commit when
  another file was written after it first commits everything waiting. The engine's own writes
  (which commit themselves) commit everything waiting first as well.
A failed commit leaves memory (the engine's indexes, the caches) ahead of the disk: the group then
refuses every further write and durability wait with `StoreError` until the server restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

from .errors import StoreError

log = logging.getLogger(__name__)


class CommitGroup:
    def __init__(self) -> None:
        # Connections with uncommitted writes, in the order of their first write since the last
        # commit (dicts keep insertion order).
        self._pending: dict[int, sqlite3.Connection] = {}
        self._last: sqlite3.Connection | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        # The loop the next commit is scheduled on. (Asking asyncio for the running loop is a
        # `getpid` system call on Python 3.11, several microseconds here: once per commit, not
        # once per request.)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed: BaseException | None = None

    def before_write(self, connection: sqlite3.Connection) -> None:
        """Call before writing through `connection` without committing."""
        self._check()
        if self._pending and connection is not self._last and id(connection) in self._pending:
            self.commit()  # it would overtake what was written to other files since

    def wrote(self, connection: sqlite3.Connection) -> None:
        """Call after writing through `connection` without committing."""
        self._pending.setdefault(id(connection), connection)
        self._last = connection
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.commit()  # nobody to wait for: now
            return
        self._scheduled = True
        self._loop = loop
        loop.call_soon(self._commit_soon)

    def before_engine_write(self) -> None:
        """Call before the engine writes (it commits its own connection at once)."""
        self._check()
        if self._pending:
            self.commit()

    def _commit_soon(self) -> None:
        self._scheduled = False
        with contextlib.suppress(StoreError):  # logged, and the waiters told
            self.commit()

    def commit(self) -> None:
        """Commit every file written since the last commit, in the order first written."""
        pending = list(self._pending.values())
        self._pending.clear()
        self._last = None
        try:
            for connection in pending:
                connection.commit()
        except sqlite3.Error as exc:
            self._failed = exc
            log.critical(
                "The embedded store could not commit (%s); it refuses every further operation "
                "until the server restarts.",
                exc,
            )
            for connection in pending:
                with contextlib.suppress(sqlite3.Error):
                    connection.rollback()
            self._release()
            raise StoreError("The embedded store could not write to its files.") from exc
        self._release()

    def _release(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if self._failed is not None:
                waiter.set_exception(StoreError("The embedded store could not write to its files."))
            else:
                waiter.set_result(None)

    def _check(self) -> None:
        if self._failed is not None:
            raise StoreError("The embedded store failed to write earlier; restart the server.")

    async def durable(self) -> None:
        """Returns once every write made so far is committed."""
        self._check()
        if not self._pending:
            return
        # Something waits, so a commit is scheduled on `_loop` (`wrote` commits at once when
        # no loop runs).
        assert self._loop is not None and self._scheduled
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter


__all__ = ["CommitGroup"]
