"""Group commit for the embedded store: one SQLite commit for the writes of many requests.

Committing every write costs a WAL append each (and now and then a checkpoint). The embedded
store writes without committing, tells the `CommitGroup`, and the group commits once per turn of
the event loop, for all the requests that wrote during it. Two rules keep it exactly as safe as a
commit after every write:
- Nobody hears of a write before it is on disk: a response waits for `durable()` (the HTTP
  middleware does it for every request), and closing the store commits.
- What reaches the disk is always a prefix of the writes in the order they were made, so a crash
  leaves a state that a crash of the commit-every-write store could have left too: every
  collection is a table of one database, written through one connection, and a commit is atomic.
A failed commit leaves memory (the caches) ahead of the disk: the group then refuses every
further read, write and durability wait with `StoreError` until the server restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

from .errors import StoreError

log = logging.getLogger(__name__)


class CommitGroup:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._pending = False
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        # The loop the next commit is scheduled on. (Asking asyncio for the running loop is a
        # `getpid` system call on Python 3.11, several microseconds here: once per commit, not
        # once per request.)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed: BaseException | None = None

    def wrote(self) -> None:
        """Call after writing without committing."""
        self._pending = True
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

    def _commit_soon(self) -> None:
        self._scheduled = False
        with contextlib.suppress(StoreError):  # logged, and the waiters told
            self.commit()

    def commit(self) -> None:
        """Commit every write made since the last commit."""
        if not self._pending:
            self._release()
            return
        self._pending = False
        try:
            self._connection.commit()
        except sqlite3.Error as exc:
            self._failed = exc
            log.critical(
                "The embedded store could not commit (%s); it refuses every further operation "
                "until the server restarts.",
                exc,
            )
            with contextlib.suppress(sqlite3.Error):
                self._connection.rollback()
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

    def check(self) -> None:
        """Call before every read and write: refused once a commit failed."""
        if self._failed is not None:
            raise StoreError("The embedded store failed to write earlier; restart the server.")

    async def durable(self) -> None:
        """Returns once every write made so far is committed."""
        self.check()
        if not self._pending:
            return
        # Something waits, so a commit is scheduled on `_loop` (`wrote` commits at once when
        # no loop runs).
        assert self._loop is not None and self._scheduled
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter
