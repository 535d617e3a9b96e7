"""One sync run for one account: read what changed in Salesforce, page by page, and write it.

The plan of a run is a list of reads per object: its first page of records (`queryAll`, which
also returns deleted rows, on `SystemModstamp >=` a cursor) and, when due, its deletions window
(`sobjects/T/deleted`, for records deleted and purged since). The reads go to Salesforce packed
into Composite calls (each counts as one API call; at most 25 subrequests of which at most 5
queries), so a sync with nothing changed costs one call; further pages (`nextRecordsUrl`) cost a
call each.

Windows run on Salesforce's clock, never this server's: the time of each answer (its `Date`
header) and `latestDateCovered`. The records cursor moves to the time of the read, less an
overlap (a record committed late may carry an earlier `SystemModstamp`; writes are idempotent),
so records that never change are not read again. A read is full (everything, archiving what no
longer comes back) only when the deletions cursor is missing or older than Salesforce keeps
deletions (15 days); when Salesforce's delete log turns out not to reach back to the cursor
(`earliestDateAvailable` later, recycle bin emptied), the live ids are read instead and what
vanished is archived. A cursor is saved only after the records it covers are written, so a run
that dies anywhere is completed by the next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from .. import clock
from ..store import Doc, Store
from ..tree import Tree
from .client import (
    COMPOSITE_MAX_QUERIES,
    COMPOSITE_MAX_SUBREQUESTS,
    Composite,
    SalesforceClient,
    SalesforceError,
    Unavailable,
    billed,
)
from .importer import Importer, map_record
from .integration import Integrations
from .objects import ACTIVITY, RECORDS, SyncedObject
from .selection import default_selection, selected_ids

log = logging.getLogger(__name__)

T = TypeVar("T")

# Salesforce answers `…/deleted` for about 15 days back; an older deletions cursor needs a full
# read (with an hour to spare, so a window never starts at the very edge).
DELETED_WINDOW = dt.timedelta(days=15)
DELETED_MARGIN = dt.timedelta(hours=1)
# A `…/deleted` window must be longer than a minute (Salesforce drops the seconds).
MIN_WINDOW = dt.timedelta(minutes=1)
# Incremental reads start this long before the previous read's time: a record committed late
# with an earlier `SystemModstamp` is still read (again, harmlessly).
OVERLAP = dt.timedelta(minutes=5)
INVALID_REPLICATION_DATE = "INVALID_REPLICATION_DATE"

Progress = Callable[[], Awaitable[None]]


def soql_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_soql_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


def _floor_minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Read:
    """One GET subrequest of a run: an object's first page of records or of live ids (queries),
    or its deletions window."""

    obj: SyncedObject
    kind: str  # "records", "ids" or "deleted"
    url: str

    @property
    def is_query(self) -> bool:
        return self.kind != "deleted"


def pack(units: Sequence[Sequence[Read]]) -> list[list[Read]]:
    """Reads into Composite calls, in order, each within Salesforce's limits (25 subrequests,
    5 of them queries); the reads of one unit (an object's) stay in one call."""
    calls: list[list[Read]] = []
    current: list[Read] = []
    for unit in units:
        queries = sum(r.is_query for r in current) + sum(r.is_query for r in unit)
        if current and (
            len(current) + len(unit) > COMPOSITE_MAX_SUBREQUESTS or queries > COMPOSITE_MAX_QUERIES
        ):
            calls.append(current)
            current = []
        current.extend(unit)
    if current:
        calls.append(current)
    return calls


@dataclass(frozen=True)
class Plan:
    """What one run reads of one object."""

    obj: SyncedObject
    soql: str
    full: bool
    cursor: dt.datetime | None
    deleted_cursor: dt.datetime | None
    deleted_window: tuple[dt.datetime, dt.datetime] | None
    api_version: str

    def reads(self) -> list[Read]:
        """The first page, then the deletions if due."""
        version = f"v{self.api_version}"
        reads = [Read(self.obj, "records", f"{version}/queryAll?q={quote(self.soql)}")]
        if self.deleted_window is not None:
            start, end = self.deleted_window
            reads.append(
                Read(
                    self.obj,
                    "deleted",
                    f"{version}/sobjects/{self.obj.sobject}/deleted/"
                    f"?start={quote(soql_time(start))}&end={quote(soql_time(end))}",
                )
            )
        return reads

    def ids_read(self) -> Read:
        """Every live id (archived activities too, hence `queryAll`)."""
        # A name from the registry: nothing from outside goes in.
        soql = f"SELECT Id FROM {self.obj.sobject} WHERE IsDeleted = false"  # noqa: S608
        return Read(self.obj, "ids", f"v{self.api_version}/queryAll?q={quote(soql)}")


class SyncRun:
    def __init__(
        self,
        store: Store,
        tree: Tree,
        integrations: Integrations,
        account_id: str,
        retry_delays: tuple[float, ...] = (1.0, 4.0, 15.0),
        api_version: str = "66.0",
        progress: Progress | None = None,
    ) -> None:
        self._retry_delays = retry_delays
        self._api_version = api_version
        self._store = store
        self._tree = tree
        self._integrations = integrations
        self._account_id = account_id
        self._progress = progress
        self.importer = Importer(store, tree, account_id)
        # The calls Salesforce counted against the org's daily limit.
        self.api_calls = 0
        self._clock_offset = dt.timedelta(0)
        # Per object, how far back Salesforce's delete log reaches now (when it said so).
        self._earliest: dict[str, dt.datetime] = {}

    async def _call(self, fn: Callable[[SalesforceClient], Awaitable[T]]) -> T:
        """One API call; outages, timeouts and dropped connections are retried with growing
        waits, then the run fails with the reason (the next run resumes from the cursor)."""

        async def counted(client: SalesforceClient) -> T:
            try:
                result = await fn(client)
            except SalesforceError as exc:
                self.api_calls += billed(exc)
                raise
            self.api_calls += 1
            return result

        for delay in (*self._retry_delays, None):
            try:
                return await self._integrations.call(self._account_id, counted)
            except Unavailable as exc:
                if delay is None:
                    raise
                log.info("Salesforce unavailable (%s); retrying in %.1f s", exc.message, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _composite(self, reads: list[Read]) -> tuple[Composite, dt.datetime]:
        """One Composite call, and Salesforce's time when it answered."""
        answer = await self._call(lambda c: c.composite([r.url for r in reads]))
        if answer.time is not None:
            self._clock_offset = answer.time - clock.now()
            await self._store.integrations.update_one(
                {"_id": self._account_id},
                {"$set": {"clock_offset_seconds": self._clock_offset.total_seconds()}},
            )
        return answer, answer.time or self._salesforce_now()

    def _salesforce_now(self) -> dt.datetime:
        """Salesforce's time by the offset of its last answer to this server's clock."""
        return clock.now() + self._clock_offset

    async def execute(self) -> None:
        integration = await self._store.integrations.find_one({"_id": self._account_id})
        assert integration is not None
        self._instance_url = integration["org"]["instance_url"]
        self._clock_offset = dt.timedelta(seconds=integration.get("clock_offset_seconds") or 0)
        cursors: dict[str, str] = dict(integration.get("cursors") or {})
        deleted_cursors: dict[str, str] = dict(integration.get("deleted_cursors") or {})
        self._selection = integration.get("selection") or default_selection()
        self._structure = await self.importer.ensure_structure()
        await self._store.integrations.update_one(
            {"_id": self._account_id}, {"$set": {"project_id": self._structure.project["_id"]}}
        )
        plans = []
        for obj in (*RECORDS, ACTIVITY):
            if self._enabled(obj):
                plans.append(self._plan(obj, cursors, deleted_cursors))
            else:
                # Off: what was imported of it is archived (and restored when back on).
                await self.importer.archive_missing(obj.sobject, set())
        # Parents before their activities: each call's objects are written before the next.
        lost: list[Plan] = []
        for reads in pack([p.reads() for p in plans]):
            answer, at = await self._composite(reads)
            for plan in plans:
                mine = [i for i, r in enumerate(reads) if r.obj == plan.obj]
                if not mine:
                    continue
                first = answer.body(mine[0])
                deleted = answer.answers[mine[1]] if len(mine) > 1 else None
                if not await self._sync_object(plan, first, deleted, at):
                    lost.append(plan)
        if lost:
            await self._read_ids(lost)

    def _enabled(self, obj: SyncedObject) -> bool:
        if obj.parent_field:
            return bool(self._selection.get("activities", True))
        return bool(self._selection["objects"][obj.sobject]["enabled"])

    def _plan(
        self, obj: SyncedObject, cursors: dict[str, str], deleted_cursors: dict[str, str]
    ) -> Plan:
        now = self._salesforce_now()
        cursor = parse_soql_time(cursors[obj.sobject]) if obj.sobject in cursors else None
        since = deleted_cursors.get(obj.sobject)
        deleted_cursor = parse_soql_time(since) if since else None
        full = (
            cursor is None
            or deleted_cursor is None
            or deleted_cursor < now - DELETED_WINDOW + DELETED_MARGIN
        )
        # Names from the registry and a formatted datetime: nothing from outside goes in.
        soql = f"SELECT {', '.join(obj.fields)} FROM {obj.sobject}"  # noqa: S608
        if not full:
            assert cursor is not None
            soql += f" WHERE SystemModstamp >= {soql_time(cursor)}"
        soql += " ORDER BY SystemModstamp ASC"
        window = None
        if not full:
            assert deleted_cursor is not None
            # Whole minutes, and a few seconds short of Salesforce's now: never in its future.
            end = _floor_minute(now - dt.timedelta(seconds=5))
            if end - deleted_cursor > MIN_WINDOW:
                window = (deleted_cursor, end)
        return Plan(obj, soql, full, cursor, deleted_cursor, window, self._api_version)

    async def _sync_object(
        self,
        plan: Plan,
        page: dict[str, Any],
        deleted: dict[str, Any] | SalesforceError | None,
        at: dt.datetime,
    ) -> bool:
        """Read and write an object's records from its first page on; False when its deletions
        since the cursor are lost to Salesforce's delete log (its live ids must be read)."""
        obj = plan.obj
        seen: set[str] = set()
        while True:
            records = page.get("records", [])
            items = [map_record(obj, r, self._instance_url) for r in records]
            if obj.parent_field:
                parents = await self.importer.parents_for_activities(
                    {i.parent_id for i in items if i.parent_id}
                )
            else:
                parents = {obj.sobject: self._structure.folders[obj.sobject]}
            selected = None if obj.parent_field else selected_ids(self._selection, obj.sobject)
            seen |= await self.importer.apply(items, parents, selected)
            if self._progress is not None:
                await self._progress()
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                break
            page = await self._call(functools.partial(SalesforceClient.next_page, url=next_url))
        covered = True
        update: dict[str, str] = {}
        if plan.full:
            await self.importer.archive_missing(obj.sobject, seen)
            update[f"deleted_cursors.{obj.sobject}"] = soql_time(at - OVERLAP)
        elif isinstance(deleted, SalesforceError):
            if deleted.code != INVALID_REPLICATION_DATE:
                raise deleted
            covered = False  # the window is outside what Salesforce keeps
        elif deleted is not None:
            await self.importer.archive_ids([str(r["id"]) for r in deleted["deletedRecords"]])
            assert plan.deleted_window is not None
            earliest = parse_soql_time(str(deleted["earliestDateAvailable"]))
            self._earliest[obj.sobject] = earliest
            if earliest >= plan.deleted_window[0]:
                # The log starts at or after the cursor (purged, to the minute): deletions since
                # the cursor may be lost.
                covered = False
            else:
                update[f"deleted_cursors.{obj.sobject}"] = str(deleted["latestDateCovered"])
        else:
            assert plan.deleted_cursor is not None
            covered = plan.deleted_cursor >= at - DELETED_WINDOW + DELETED_MARGIN
        # Written: the next run reads from the time of this read, less the overlap.
        since = at - OVERLAP
        if plan.cursor is not None and plan.cursor > since:
            since = plan.cursor
        update[f"cursors.{obj.sobject}"] = soql_time(since)
        await self._store.integrations.update_one({"_id": self._account_id}, {"$set": update})
        return covered

    async def _read_ids(self, plans: list[Plan]) -> None:
        """Objects whose deletions Salesforce no longer knows: read every live id, archive the
        imported records that are not among them, and restart the deletions cursor."""
        for reads in pack([[p.ids_read()] for p in plans]):
            answer, at = await self._composite(reads)
            for index, read in enumerate(reads):
                live: set[str] = set()
                page = answer.body(index)
                while True:
                    live |= {str(r["Id"]) for r in page.get("records", [])}
                    if self._progress is not None:
                        await self._progress()
                    next_url = page.get("nextRecordsUrl")
                    if page.get("done", True) or not next_url:
                        break
                    page = await self._call(
                        functools.partial(SalesforceClient.next_page, url=next_url)
                    )
                sobject = read.obj.sobject
                await self.importer.archive_missing(sobject, self.importer.keys_of(live))
                # Deletions until this read are settled; from here on the log has them again
                # (a cursor past where the log now starts, so it counts as covered).
                since = at - OVERLAP
                if sobject in self._earliest:
                    since = min(at, max(since, self._earliest[sobject] + MIN_WINDOW))
                await self._store.integrations.update_one(
                    {"_id": self._account_id},
                    {"$set": {f"deleted_cursors.{sobject}": soql_time(since)}},
                )


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


__all__ = ["Plan", "Read", "SyncRun", "pack", "run_view"]
