"""One sync run for one account: read what changed in Salesforce, page by page, and write it.

Incremental on `SystemModstamp` with `queryAll` (which also returns deleted rows), plus
`sobjects/T/deleted` for records deleted and purged since the last run. A first run, or one whose
cursor is older than Salesforce keeps deletions (15 days), reads everything and archives what no
longer comes back. The cursor of an object is saved only after the records it covers are written,
and windows are `>=` with idempotent writes, so a run that dies anywhere is completed by the next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .. import clock
from ..store import Doc, Store
from ..tree import Tree
from .client import SalesforceClient, Unavailable
from .importer import Importer, Structure, map_record, record_key
from .integration import Integrations
from .objects import ACTIVITY, RECORDS, SyncedObject
from .selection import default_selection, selected_ids

log = logging.getLogger(__name__)

T = TypeVar("T")

# Salesforce answers `…/deleted` for about 15 days back; older cursors need a full read.
DELETED_WINDOW = dt.timedelta(days=15)


def soql_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_soql_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


class SyncRun:
    def __init__(
        self,
        store: Store,
        tree: Tree,
        integrations: Integrations,
        account_id: str,
        retry_delays: tuple[float, ...] = (1.0, 4.0, 15.0),
    ) -> None:
        self._retry_delays = retry_delays
        self._store = store
        self._tree = tree
        self._integrations = integrations
        self._account_id = account_id
        self.importer = Importer(store, tree, account_id)
        self.api_calls = 0

    async def _call(self, fn: Callable[[SalesforceClient], Awaitable[T]]) -> T:
        """One API call; outages, timeouts and dropped connections are retried with growing
        waits, then the run fails with the reason (the next run resumes from the cursor)."""
        for delay in (*self._retry_delays, None):
            self.api_calls += 1
            try:
                return await self._integrations.call(self._account_id, fn)
            except Unavailable as exc:
                if delay is None:
                    raise
                log.info("Salesforce unavailable (%s); retrying in %.1f s", exc.message, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def execute(self) -> None:
        started = clock.now()
        integration = await self._store.integrations.find_one({"_id": self._account_id})
        assert integration is not None
        instance_url = integration["org"]["instance_url"]
        cursors: dict[str, str] = dict(integration.get("cursors") or {})
        deleted_cursors: dict[str, str] = dict(integration.get("deleted_cursors") or {})
        self._selection = integration.get("selection") or default_selection()
        structure = await self.importer.ensure_structure()
        await self._store.integrations.update_one(
            {"_id": self._account_id}, {"$set": {"project_id": structure.project["_id"]}}
        )
        try:
            for obj in (*RECORDS, ACTIVITY):
                if not self._enabled(obj):
                    # Off: what was imported of it is archived (and restored when back on).
                    await self.importer.archive_missing(obj.sobject, set())
                    continue
                await self._sync_object(
                    obj, structure, instance_url, cursors, deleted_cursors, started
                )
        finally:
            await self._tree.imports_written(self._account_id)

    def _enabled(self, obj: SyncedObject) -> bool:
        if obj.parent_field:
            return bool(self._selection.get("activities", True))
        return bool(self._selection["objects"][obj.sobject]["enabled"])

    async def _sync_object(
        self,
        obj: SyncedObject,
        structure: Structure,
        instance_url: str,
        cursors: dict[str, str],
        deleted_cursors: dict[str, str],
        started: dt.datetime,
    ) -> None:
        cursor = parse_soql_time(cursors[obj.sobject]) if obj.sobject in cursors else None
        full = cursor is None or cursor < started - DELETED_WINDOW
        # Names from the registry and a formatted datetime: nothing from outside goes in.
        soql = f"SELECT {', '.join(obj.fields)} FROM {obj.sobject}"  # noqa: S608
        if not full:
            assert cursor is not None
            soql += f" WHERE SystemModstamp >= {soql_time(cursor)}"
        soql += " ORDER BY SystemModstamp ASC"
        seen: set[str] = set()
        newest = cursor
        page = await self._call(lambda c: c.query_page(soql, include_deleted=True))
        while True:
            records = page.get("records", [])
            items = [map_record(obj, r, instance_url) for r in records]
            if obj.parent_field:
                parents = await self.importer.parents_for_activities(
                    {i.parent_id for i in items if i.parent_id}
                )
            else:
                parents = {obj.sobject: structure.folders[obj.sobject]}
            selected = None if obj.parent_field else selected_ids(self._selection, obj.sobject)
            seen |= await self.importer.apply(items, parents, selected)
            for record in records:
                stamp = parse_soql_time(record["SystemModstamp"])
                if newest is None or stamp > newest:
                    newest = stamp
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                break
            page = await self._call(functools.partial(SalesforceClient.next_page, url=next_url))
        if full:
            await self.importer.archive_missing(obj.sobject, seen)
            deleted_from = soql_time(started)
        else:
            deleted_from = await self._archive_deleted(obj, deleted_cursors.get(obj.sobject))
        # Written: the next run may start here (`>=`, so a record stamped at this very instant
        # is read again, harmlessly).
        if newest is not None:
            cursors[obj.sobject] = soql_time(min(newest, started))
        elif full:
            cursors[obj.sobject] = soql_time(started)
        deleted_cursors[obj.sobject] = deleted_from
        await self._store.integrations.update_one(
            {"_id": self._account_id},
            {
                "$set": {
                    f"cursors.{obj.sobject}": cursors[obj.sobject],
                    f"deleted_cursors.{obj.sobject}": deleted_from,
                }
            },
        )

    async def _archive_deleted(self, obj: SyncedObject, since: str | None) -> str:
        """Archive what was deleted (or purged) since the last window; returns where the next
        window starts. Salesforce counts whole minutes: a window under a minute waits."""
        now = clock.now()
        start = parse_soql_time(since) if since else now - DELETED_WINDOW
        start = max(start, now - DELETED_WINDOW + dt.timedelta(minutes=1))
        if now - start < dt.timedelta(minutes=1):
            return soql_time(start)
        ids, covered = await self._call(lambda c: c.deleted(obj.sobject, start, now))
        await self.importer.archive_ids(ids)
        return covered


def run_view(doc: Doc) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "trigger": doc["trigger"],
        "status": doc["status"],
        "started_at": clock.iso(doc["started_at"]),
        "finished_at": clock.iso(doc.get("finished_at")),
        "counts": doc.get("counts") or {"created": 0, "updated": 0, "archived": 0, "restored": 0},
        "api_calls": doc.get("api_calls", 0),
        "error": doc.get("error"),
    }


__all__ = ["SyncRun", "record_key", "run_view"]
