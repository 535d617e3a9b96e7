"""One sync run for one account: read what changed in Salesforce, page by page, and write it.

The plan of a run is a list of reads per object (`planning.py`): the first page of its records
(`queryAll`, which also returns deleted rows, on `SystemModstamp >=` a cursor; several queries
when the selection names items) and, when due, its deletions window (`sobjects/T/deleted`, for
records deleted and purged since). The reads go to Salesforce packed into Composite calls (each
counts as one API call; at most 25 subrequests of which at most 5 queries), so a sync with
nothing changed costs one call; further pages (`nextRecordsUrl`) cost a call each. A next page
Salesforce no longer knows (400 INVALID_QUERY_LOCATOR: expired, or used already) starts that
query over from its first page, once an object a run. An object the user may not read (unknown
type, hidden field, no access), or whose query's next page is refused again after that restart,
is skipped with a warning on the run: nothing of it is archived and its cursors stay, and the
other objects sync.

Windows run on Salesforce's clock, never this server's: the time of each answer (its `Date`
header) and `latestDateCovered`. The records cursor moves to the time of the read, less an
overlap (a record committed late may carry an earlier `SystemModstamp`; writes are idempotent),
so records that never change are not read again. A read is full (everything, archiving what no
longer comes back) only when the deletions cursor is missing or older than Salesforce keeps
deletions (15 days); when Salesforce's delete log turns out not to reach back to the cursor
(`earliestDateAvailable` later, recycle bin emptied), the live ids are read instead and what
vanished is archived. A cursor is saved only after the records it covers are written, so a run
that dies anywhere is completed by the next. Meetings (Events) end without any field changing:
every run archives the imported ones whose end is at or before Salesforce's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import clock
from ..store import Doc, Store
from ..tree import Tree
from .client import Composite, SalesforceClient, SalesforceError, Unavailable, billed
from .importer import Importer, map_record
from .integration import Integrations
from .objects import ALL, EVENT, SyncedObject
from .planning import Plan, Read, conditions, pack, parse_soql_time, soql_time
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
# A `nextRecordsUrl` Salesforce no longer knows (expired, or used already): the query starts
# over from its first page, once an object a run.
INVALID_QUERY_LOCATOR = "INVALID_QUERY_LOCATOR"
# What Salesforce answers about an object (or a field of it) the user may not read: the run
# skips that object with a warning and syncs the others.
UNREADABLE = frozenset(
    {
        "INVALID_TYPE",
        "INVALID_FIELD",
        "NOT_FOUND",
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_ACCESS_OR_READONLY",
    }
)
# What fails one object's sync, not the run: that object is skipped with a warning.
OBJECT_FAILURES = UNREADABLE | {INVALID_QUERY_LOCATOR}

Progress = Callable[[], Awaitable[None]]


def _floor_minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


@dataclass
class ObjectRead:
    """An object's reads in one run, answered over one or more Composite calls."""

    plan: Plan
    pending: int  # its reads not yet answered
    at: dt.datetime | None = None  # Salesforce's time at its first answer
    seen: set[str] = field(default_factory=set)
    deleted: dict[str, Any] | SalesforceError | None = None
    skipped: bool = False


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
        # Objects the run could not read: `{object, code, message}` each.
        self.warnings: list[dict[str, str]] = []
        # Objects whose query this run has started over (after INVALID_QUERY_LOCATOR).
        self._restarted: set[str] = set()

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
        objects: dict[str, ObjectRead] = {}
        for obj in ALL:
            if self._enabled(obj):
                plan = self._plan(obj, cursors, deleted_cursors)
                objects[obj.sobject] = ObjectRead(plan, len(plan.reads()))
            else:
                # Off: what was imported of it is archived (and restored when back on).
                await self.importer.archive_missing(obj.sobject, set())
        lost: list[Plan] = []
        for state in objects.values():
            if state.pending == 0:  # nothing to read (nothing of it selected)
                state.at = self._salesforce_now()
                if not await self._finish(state):
                    lost.append(state.plan)
        # Parents before their activities: each call's reads are written in order, an object's
        # records settled once its last read is in.
        for reads in pack([s.plan.reads() for s in objects.values() if s.pending]):
            answer, at = await self._composite(reads)
            for index, read in enumerate(reads):
                state = objects[read.obj.sobject]
                await self._answered(state, read, answer.answers[index], at)
                if state.pending == 0 and not state.skipped and not await self._finish(state):
                    lost.append(state.plan)
        if lost:
            await self._read_ids(lost)
        events = objects.get(EVENT.sobject)
        if events is not None and not events.skipped:
            assert events.at is not None
            await self.importer.archive_ended(events.at)

    async def _answered(
        self,
        state: ObjectRead,
        read: Read,
        answer: dict[str, Any] | SalesforceError,
        at: dt.datetime,
    ) -> None:
        """One answer for an object: a first page (written, with the pages after it) or its
        deletions (applied when the object is settled). An object the user may not read is
        skipped with a warning."""
        state.pending -= 1
        if state.at is None:
            state.at = at
        if state.skipped:
            return
        try:
            if read.kind == "deleted":
                if isinstance(answer, SalesforceError) and answer.code in UNREADABLE:
                    raise answer
                state.deleted = answer
            elif isinstance(answer, SalesforceError):
                raise answer
            else:
                state.seen |= await self._pages(read, answer, state.at)
        except SalesforceError as exc:
            if exc.code not in OBJECT_FAILURES:
                raise
            self._skip(read.obj, exc)
            state.skipped = True

    def _skip(self, obj: SyncedObject, exc: SalesforceError) -> None:
        """An object this run cannot read (or could not page through): nothing of it is archived
        and its cursors stay, so a run after it is readable again catches up."""
        log.warning("Sync of %s skips %s: %s", self._account_id, obj.sobject, exc)
        self.warnings.append({"object": obj.sobject, "code": exc.code, "message": exc.message})

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
        window = None
        if not full:
            assert deleted_cursor is not None
            # Whole minutes, and a few seconds short of Salesforce's now: never in its future.
            end = _floor_minute(now - dt.timedelta(seconds=5))
            if end - deleted_cursor > MIN_WINDOW:
                window = (deleted_cursor, end)
        scope = conditions(obj, self._selection, self._api_version)
        return Plan(obj, scope, full, cursor, deleted_cursor, window, self._api_version)

    async def _pages(self, read: Read, first: dict[str, Any], at: dt.datetime) -> set[str]:
        """Write the records of a first page and of the pages after it; the keys seen."""
        obj = read.obj
        seen: set[str] = set()
        async with contextlib.aclosing(self._follow(read, first)) as pages:
            async for page, restarted in pages:
                if restarted:
                    seen = set()  # the query's pages all come again
                records = page.get("records", [])
                items = [map_record(obj, r, self._instance_url, at) for r in records]
                if obj.parent_field:
                    parents = await self.importer.parents_for_activities(
                        {i.parent_id for i in items if i.parent_id}
                    )
                else:
                    parents = {obj.sobject: self._structure.folders[obj.sobject]}
                selected = None if obj.parent_field else selected_ids(self._selection, obj.sobject)
                seen |= await self.importer.apply(items, parents, selected)
        return seen

    async def _follow(
        self, read: Read, first: dict[str, Any]
    ) -> AsyncGenerator[tuple[dict[str, Any], bool]]:
        """The pages of a query from its first, each with whether the query starts over with
        it. A next page Salesforce no longer knows (INVALID_QUERY_LOCATOR: its locator expired
        or was used already) starts the query over from its first page (`read`, one more call),
        once an object a run: writes are idempotent, so the records already written are written
        again, unchanged and not counted again. A second time fails the object."""
        page, restarted = first, False
        while True:
            yield page, restarted
            if self._progress is not None:
                await self._progress()
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            try:
                page = await self._call(functools.partial(SalesforceClient.next_page, url=next_url))
                restarted = False
            except SalesforceError as exc:
                if exc.code != INVALID_QUERY_LOCATOR:
                    raise
                page = await self._restart(read, exc)
                restarted = True

    async def _restart(self, read: Read, exc: SalesforceError) -> dict[str, Any]:
        """The first page of a query whose next page Salesforce refused, read again; or, when
        the object's query was started over already in this run, the refusal, explained."""
        sobject = read.obj.sobject
        if sobject in self._restarted:
            raise SalesforceError(
                exc.code,
                "Salesforce refused the next page of the query again after it was restarted "
                f"({exc.message}); the next run reads {sobject} again.",
                exc.status,
            ) from exc
        self._restarted.add(sobject)
        log.info(
            "Sync of %s restarts the %s query: Salesforce refused its next page (%s)",
            self._account_id,
            sobject,
            exc.message,
        )
        answer, _ = await self._composite([read])
        return answer.body(0)

    async def _finish(self, state: ObjectRead) -> bool:
        """Settle an object whose reads are all written: archive what a full read did not see,
        apply its deletions, move its cursors. False when its deletions since the cursor are
        lost to Salesforce's delete log (its live ids must be read)."""
        plan, deleted, at = state.plan, state.deleted, state.at
        assert at is not None
        obj = plan.obj
        covered = True
        update: dict[str, str] = {}
        if plan.full:
            await self.importer.archive_missing(obj.sobject, state.seen)
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
        # Written: the next run reads from the time of the object's first read, less the overlap.
        since = at - OVERLAP
        if plan.cursor is not None and plan.cursor > since:
            since = plan.cursor
        update[f"cursors.{obj.sobject}"] = soql_time(since)
        await self._store.integrations.update_one({"_id": self._account_id}, {"$set": update})
        return covered

    async def _read_ids(self, plans: list[Plan]) -> None:
        """Objects whose deletions Salesforce no longer knows: read every live id (of what the
        selection reads), archive the imported records that are not among them, and restart the
        deletions cursor."""
        live: dict[str, set[str]] = {p.obj.sobject: set() for p in plans}
        pending = {p.obj.sobject: len(p.ids_reads()) for p in plans}
        first: dict[str, dt.datetime] = {}
        skipped: set[str] = set()
        for plan in plans:
            if not pending[plan.obj.sobject]:
                await self._ids_read(plan.obj, live[plan.obj.sobject], self._salesforce_now())
        for reads in pack([p.ids_reads() for p in plans]):
            answer, at = await self._composite(reads)
            for index, read in enumerate(reads):
                sobject = read.obj.sobject
                pending[sobject] -= 1
                first.setdefault(sobject, at)
                if sobject in skipped:
                    continue
                try:
                    live[sobject] |= await self._live_ids(read, answer.body(index))
                except SalesforceError as exc:
                    if exc.code not in OBJECT_FAILURES:
                        raise
                    self._skip(read.obj, exc)
                    skipped.add(sobject)
                    continue
                if not pending[sobject]:
                    await self._ids_read(read.obj, live[sobject], first[sobject])

    async def _live_ids(self, read: Read, first: dict[str, Any]) -> set[str]:
        live: set[str] = set()
        async with contextlib.aclosing(self._follow(read, first)) as pages:
            async for page, restarted in pages:
                if restarted:
                    live = set()  # the query's pages all come again
                live |= {str(r["Id"]) for r in page.get("records", [])}
        return live

    async def _ids_read(self, obj: SyncedObject, live: set[str], at: dt.datetime) -> None:
        """Every live id of an object is in: archive the rest and restart its deletions cursor."""
        sobject = obj.sobject
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


__all__ = ["Plan", "Read", "SyncRun", "pack", "run_view", "soql_time"]
