"""One sync run for one account: read what changed in Salesforce, page by page, and write it.

Incremental on `SystemModstamp` with `queryAll` (which also returns deleted rows), plus
`sobjects/T/deleted` for records deleted and purged since the last run. A first run, or one whose
cursor is older than Salesforce keeps deletions (15 days), reads everything and archives what no
longer comes back. The cursor of an object is saved only after the records it covers are written,
and windows are `>=` with idempotent writes, so a run that dies anywhere is completed by the next.
Every object's first page and deletion window go to Salesforce in one Composite batch call; only
further pages (`nextRecordsUrl`) cost a call each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from .. import clock
from ..store import Doc, Store
from ..tree import Tree
from .client import SalesforceClient, Unavailable
from .importer import Importer, Structure, map_record
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
        api_version: str = "66.0",
    ) -> None:
        self._retry_delays = retry_delays
        self._api_version = api_version
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
        plans = []
        for obj in (*RECORDS, ACTIVITY):
            if self._enabled(obj):
                plans.append(self._plan(obj, cursors, deleted_cursors, started))
            else:
                # Off: what was imported of it is archived (and restored when back on).
                await self.importer.archive_missing(obj.sobject, set())
        # Every object's first page and deletions in one Composite API call: a sync with
        # nothing changed costs one call.
        answers = await self._call(lambda c: c.batch([u for p in plans for u in p.urls()]))
        for plan in plans:
            first = answers.pop(0)
            deleted = answers.pop(0) if plan.deleted_window else None
            await self._sync_object(plan, first, deleted, structure, instance_url, started)

    def _enabled(self, obj: SyncedObject) -> bool:
        if obj.parent_field:
            return bool(self._selection.get("activities", True))
        return bool(self._selection["objects"][obj.sobject]["enabled"])

    def _plan(
        self,
        obj: SyncedObject,
        cursors: dict[str, str],
        deleted_cursors: dict[str, str],
        started: dt.datetime,
    ) -> Plan:
        cursor = parse_soql_time(cursors[obj.sobject]) if obj.sobject in cursors else None
        full = cursor is None or cursor < started - DELETED_WINDOW
        # Names from the registry and a formatted datetime: nothing from outside goes in.
        soql = f"SELECT {', '.join(obj.fields)} FROM {obj.sobject}"  # noqa: S608
        if not full:
            assert cursor is not None
            soql += f" WHERE SystemModstamp >= {soql_time(cursor)}"
        soql += " ORDER BY SystemModstamp ASC"
        window = None
        if not full:
            # Salesforce counts deletions in whole minutes: a window under a minute waits.
            since = deleted_cursors.get(obj.sobject)
            start = parse_soql_time(since) if since else started - DELETED_WINDOW
            start = max(start, started - DELETED_WINDOW + dt.timedelta(minutes=1))
            if started - start >= dt.timedelta(minutes=1):
                window = (start, started)
        return Plan(obj, soql, full, cursor, window, self._api_version)

    async def _sync_object(
        self,
        plan: Plan,
        page: dict[str, Any],
        deleted: dict[str, Any] | None,
        structure: Structure,
        instance_url: str,
        started: dt.datetime,
    ) -> None:
        obj = plan.obj
        seen: set[str] = set()
        newest = plan.cursor
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
        update: dict[str, str] = {}
        if plan.full:
            await self.importer.archive_missing(obj.sobject, seen)
            update[f"deleted_cursors.{obj.sobject}"] = soql_time(started)
        elif deleted is not None:
            await self.importer.archive_ids([str(r["id"]) for r in deleted["deletedRecords"]])
            update[f"deleted_cursors.{obj.sobject}"] = str(deleted["latestDateCovered"])
        # Written: the next run may start here (`>=`, so a record stamped at this very instant
        # is read again, harmlessly).
        if newest is not None:
            update[f"cursors.{obj.sobject}"] = soql_time(min(newest, started))
        elif plan.full:
            update[f"cursors.{obj.sobject}"] = soql_time(started)
        if update:
            await self._store.integrations.update_one({"_id": self._account_id}, {"$set": update})


@dataclass(frozen=True)
class Plan:
    """What one run reads of one object."""

    obj: SyncedObject
    soql: str
    full: bool
    cursor: dt.datetime | None
    deleted_window: tuple[dt.datetime, dt.datetime] | None
    api_version: str

    def urls(self) -> list[str]:
        """The Composite API subrequests: the first page, then the deletions if due."""
        version = f"v{self.api_version}"
        urls = [f"{version}/queryAll?q={quote(self.soql)}"]
        if self.deleted_window is not None:
            start, end = self.deleted_window
            urls.append(
                f"{version}/sobjects/{self.obj.sobject}/deleted/"
                f"?start={quote(soql_time(start))}&end={quote(soql_time(end))}"
            )
        return urls


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
        "warnings": doc.get("warnings") or [],
    }


__all__ = ["Plan", "SyncRun", "run_view"]
