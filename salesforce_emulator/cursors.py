"""Query cursors: the rest of a result set beyond its first page, read with nextRecordsUrl.

A cursor holds the records as they were when the query ran (the org never edits a record in
place), and is forgotten after 15 minutes unused, as Salesforce's query locators are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .ids import IdFactory
from .soql import CompiledQuery

CURSOR_TTL = timedelta(minutes=15)
PAGE_SIZE = 2000


@dataclass
class Cursor:
    locator: str
    query: CompiledQuery
    records: list[dict[str, Any]]
    page_size: int
    used_at: datetime


class Cursors:
    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._open: dict[str, Cursor] = {}

    def open(
        self, query: CompiledQuery, records: list[dict[str, Any]], page_size: int, now: datetime
    ) -> Cursor:
        self._forget_stale(now)
        cursor = Cursor(self._ids.new("QueryLocator"), query, records, page_size, now)
        self._open[cursor.locator] = cursor
        return cursor

    def find(self, locator: str, now: datetime) -> Cursor | None:
        self._forget_stale(now)
        cursor = self._open.get(locator)
        if cursor is not None:
            cursor.used_at = now
        return cursor

    def _forget_stale(self, now: datetime) -> None:
        for locator in [k for k, c in self._open.items() if now - c.used_at > CURSOR_TTL]:
            del self._open[locator]
