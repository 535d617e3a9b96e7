"""Query cursors: the rest of a result set beyond its first page, read with nextRecordsUrl.

A cursor holds the records as they were when the query ran (the org never edits a record in
place). As Salesforce's query locators (SALESFORCE.md §2.3), each page's locator is used once,
in order: the next page is the only one it answers, a page read once is not served again, and
the cursor is gone after its last page. Queries made with API v56.0 or later keep their cursor
for two days; older versions' cursors are forgotten after 15 minutes unused. Anything else is an
unknown locator (400 ``INVALID_QUERY_LOCATOR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .ids import IdFactory
from .soql import CompiledQuery

PAGE_SIZE = 2000
# Since API v56.0 a cursor lives two days; before, it died after 15 minutes unused.
LONG_LIVED_SINCE = 56
LIFETIME = timedelta(days=2)
IDLE_LIFETIME = timedelta(minutes=15)


@dataclass
class Cursor:
    locator: str
    query: CompiledQuery
    records: list[dict[str, Any]]
    page_size: int
    opened_at: datetime
    version: str  # of the query that opened it: its later pages speak it too
    next_offset: int = 0  # the only offset its locator answers next
    used_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        if int(self.version.split(".")[0]) >= LONG_LIVED_SINCE:
            return now - self.opened_at > LIFETIME
        return now - (self.used_at or self.opened_at) > IDLE_LIFETIME


class Cursors:
    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._open: dict[str, Cursor] = {}

    def open(
        self,
        query: CompiledQuery,
        records: list[dict[str, Any]],
        page_size: int,
        now: datetime,
        version: str,
    ) -> Cursor:
        """A cursor whose first page has been read: its locator answers the second."""
        self._forget_stale(now)
        locator = self._ids.new("QueryLocator")
        cursor = Cursor(locator, query, records, page_size, now, version, page_size)
        self._open[locator] = cursor
        return cursor

    def take(self, locator: str, offset: int, now: datetime) -> Cursor | None:
        """The cursor whose next page starts at `offset`, moved past that page (and forgotten
        after its last), or None: unknown, expired, or not the page it answers next."""
        self._forget_stale(now)
        cursor = self._open.get(locator)
        if cursor is None or offset != cursor.next_offset:
            return None
        cursor.used_at = now
        cursor.next_offset = offset + cursor.page_size
        if cursor.next_offset >= len(cursor.records):
            del self._open[locator]
        return cursor

    def expire(self, locator: str) -> None:
        self._open.pop(locator, None)

    def _forget_stale(self, now: datetime) -> None:
        for locator in [k for k, c in self._open.items() if c.expired(now)]:
            del self._open[locator]
