"""The timer and time entries.

One running timer per user, held by the server. A running entry is an entry without an `end`
that names its user in `timer_of`; a unique (sparse) index on `timer_of` makes "one running timer
per user" the store's own rule on every backend, however many starts race. Starting inserts the
new entry; stopping sets `end` and removes `timer_of` in one write. Starting while a timer runs
stops it first, at the new one's start instant, then inserts; a start that loses a race to
another start of the same user stops the winner too, and inserts again. A server that dies
between the two writes of such a start has stopped the old timer and not started the new one:
nothing runs twice, no entry is lost, and the client, which got no answer, starts again.

Each start or stop writes one collection only, so the embedded store commits many of them at once
(`store/commits.py`).

A timer is a running entry, so it keeps the bounds of entries: it starts at most 24 hours ago, and
one left running longer than the account's `forgotten_timer_hours` (default 12) is stopped at
start + that many hours, with a note saying so. That happens when the timer is next read, started
or stopped (`running`), and in a periodic sweep (`sweep_forgotten`), whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from . import clock
from .accounts import Caller
from .errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from .ids import new_id
from .rates import BILLABLE, NO_TASK, TaskBilling, entry_billable
from .store import Doc, DuplicateKeyError, Millis, Store
from .tree import MANAGER, TaskFields, Tree, task_ref

log = logging.getLogger(__name__)

SOURCES = ("extension", "tui", "api", "web")
# On a running entry: the user whose timer it is (unique: see the module's docstring).
TIMER_OF = "timer_of"
# A start retries when another start of the same user's timer got in first; each retry stops
# the winner, so this many racing starts of one user always settle.
START_ATTEMPTS = 100
MAX_ENTRY = dt.timedelta(hours=24)
# A client clock a little ahead of the server's is not an error.
CLOCK_SKEW = dt.timedelta(minutes=1)
# On the account document: after how many hours a running timer counts as forgotten and stops.
FORGOTTEN_TIMER_HOURS = "forgotten_timer_hours"
DEFAULT_FORGOTTEN_HOURS = 12
FORGOTTEN_HOURS_RANGE = (1, 24)
# How often the sweep stops forgotten timers nobody reads.
SWEEP_SECONDS = 300.0
# Entries a report reads in one step before it hands the event loop back (~1-2 ms of work).
REPORT_BATCH = 500
# What a report reads of each entry (`Collection.rows`: the index `entries_by_account_start`
# holds them all), in this order (`ReportRow`).
REPORT_FIELDS: dict[str, type] = {
    "user_id": str,
    "task_id": str,
    "start": Millis,
    "end": Millis,
    BILLABLE: int,
}
# (user id, task id, start, end (None: running), billable (true, false or None: unset))
ReportRow = tuple[str, str | None, int, int | None, int | bool | None]


def stopped_note(note: str, hours: int) -> str:
    """The note of a forgotten timer once it is stopped."""
    mark = f"(stopped automatically after {hours} h)"
    return f"{note} {mark}" if note else mark


def duration(entry: Doc, now: dt.datetime) -> int:
    """An entry's seconds (a running one's up to `now`)."""
    end = entry["end"] or now
    return max(0, int((end - entry["start"]).total_seconds()))


def _new_entry(
    caller: Caller,
    task_id: str | None,
    start: dt.datetime,
    end: dt.datetime | None,
    note: str,
    source: str,
    now: dt.datetime,
) -> Doc:
    return {
        "_id": new_id(),
        "account_id": caller.account_id,
        "user_id": caller.user_id,
        "task_id": task_id,
        "start": start,
        "end": end,
        "note": note,
        "source": source,
        "created_at": now,
    }


class Started(NamedTuple):
    entry: Doc
    stopped: Doc | None  # the timer it stopped, if one ran


class Tracking:
    def __init__(self, store: Store, tree: Tree) -> None:
        self._store = store
        self._tree = tree

    # Views --------------------------------------------------------------------------------

    async def views(self, account_id: str, entries: list[Doc]) -> list[dict[str, Any]]:
        """What the API shows of `entries`."""
        tasks = await self._tree.billed_tasks(
            account_id, {t for e in entries if (t := e["task_id"])}
        )
        now = clock.now()
        return [self._view(e, tasks.get(e["task_id"] or ""), now) for e in entries]

    async def view(self, account_id: str, entry: Doc) -> dict[str, Any]:
        return (await self.views(account_id, [entry]))[0]

    @staticmethod
    def _view(
        entry: Doc, task: tuple[TaskFields, TaskBilling] | None, now: dt.datetime
    ) -> dict[str, Any]:
        fields, billing = task if task is not None else (None, NO_TASK)
        return {
            "id": entry["_id"],
            "user_id": entry["user_id"],
            "task_id": entry["task_id"],
            "task": task_ref(fields),
            "start": clock.iso(entry["start"]),
            "end": clock.iso(entry["end"]),
            "duration": duration(entry, now),
            "note": entry["note"],
            "source": entry["source"],
            BILLABLE: entry_billable(entry, billing),
        }

    # Timer --------------------------------------------------------------------------------

    async def running(self, caller: Caller) -> Doc | None:
        """The caller's running timer; one running past the account's limit is stopped first
        (and None returned)."""
        entry = await self._running(caller.account_id, caller.user_id)
        if entry is not None and await self._stop_if_forgotten(entry) is not None:
            return None
        return entry

    async def _running(self, account_id: str, user_id: str) -> Doc | None:
        entry = await self._store.entries.find_one({TIMER_OF: user_id})
        if entry is None or entry["account_id"] != account_id:
            return None
        return entry

    async def forgotten_hours(self, account_id: str) -> int:
        account = await self._store.accounts.find_one({"_id": account_id})
        hours = account.get(FORGOTTEN_TIMER_HOURS) if account else None
        return int(hours) if hours is not None else DEFAULT_FORGOTTEN_HOURS

    async def _stop_if_forgotten(self, entry: Doc, hours: int | None = None) -> Doc | None:
        """Stop a running entry that ran past its account's limit, at start + the limit, noting
        it; returns the stopped entry (None: not forgotten, or no longer running)."""
        ran = clock.now() - entry["start"]
        if ran <= dt.timedelta(hours=FORGOTTEN_HOURS_RANGE[0]):
            return None  # under any account's limit: no need to read it
        if hours is None:
            hours = await self.forgotten_hours(entry["account_id"])
        limit = dt.timedelta(hours=hours)
        if ran <= limit:
            return None
        stopped = await self._store.entries.find_one_and_update(
            {"_id": entry["_id"], TIMER_OF: entry[TIMER_OF]},
            {
                "$set": {"end": entry["start"] + limit, "note": stopped_note(entry["note"], hours)},
                "$unset": {TIMER_OF: ""},
            },
        )
        if stopped is not None:
            log.info("Stopped a timer forgotten for over %d h (entry %s)", hours, entry["_id"])
        return stopped

    async def _without_forgotten(self, entries: list[Doc]) -> list[Doc]:
        """These entries, with any forgotten timer among them stopped first (as read after)."""
        settled = []
        for entry in entries:
            stopped = None
            if entry["end"] is None and TIMER_OF in entry:
                stopped = await self._stop_if_forgotten(entry)
            settled.append(stopped or entry)
        return settled

    async def sweep_forgotten(self) -> int:
        """Stop every forgotten timer of every account; returns how many."""
        running = await self._running_entries()
        limits: dict[str, int] = {}
        stopped = 0
        for entry in running:
            account_id = entry["account_id"]
            if account_id not in limits:
                limits[account_id] = await self.forgotten_hours(account_id)
            if await self._stop_if_forgotten(entry, limits[account_id]) is not None:
                stopped += 1
        return stopped

    async def _running_entries(self) -> list[Doc]:
        """Every running entry (read through the sparse `timer_of` index on every backend)."""
        return await self._store.entries.find({TIMER_OF: {"$exists": True}})

    async def sweep_forever(self, every: float = SWEEP_SECONDS) -> None:
        """`sweep_forgotten` every `every` seconds, until cancelled."""
        while True:
            try:
                await self.sweep_forgotten()
            except Exception:
                log.exception("The sweep of forgotten timers failed; it runs again later")
            await asyncio.sleep(every)

    async def start(
        self,
        caller: Caller,
        task_id: str | None,
        note: str,
        started_at: dt.datetime | None,
        source: str,
        billable: bool | None = None,
    ) -> Started:
        now = clock.now()
        start = started_at or now
        self._check_running_start(start, now, "started_at")
        start = min(start, now)
        if task_id is not None:
            await self._tree.trackable_task(caller, task_id)  # (403, 404 or 409 if not)
        stopped = None
        for _ in range(START_ATTEMPTS):
            current = await self.running(caller)
            if current is not None:
                if start < current["start"]:
                    raise InvalidRequestError(
                        "started_at must not be before the start of the running timer, "
                        "which it stops."
                    )
                stopped = await self._end(current, start) or stopped
            entry = _new_entry(caller, task_id, start, None, note, source, now)
            entry[TIMER_OF] = caller.user_id
            if billable is not None:
                entry[BILLABLE] = billable
            try:
                await self._store.entries.insert_one(entry)
            except DuplicateKeyError:
                continue  # another start of this user's timer got in first: stop that one too
            return Started(entry, stopped)
        raise ConflictError(
            "Your timer is being started from several places at once; try again.",
            code="timer_running",
        )

    @staticmethod
    def _check_running_start(start: dt.datetime, now: dt.datetime, field: str) -> None:
        """A running entry's start: the bounds of an entry's (at most 24 hours ago)."""
        if start > now + CLOCK_SKEW:
            raise InvalidRequestError(f"{field} must not be in the future.")
        if start < now - MAX_ENTRY:
            raise InvalidRequestError(
                f"{field} must be within the last 24 hours (an entry is at most 24 hours long); "
                "add older time as an entry."
            )

    async def stop(self, caller: Caller, stopped_at: dt.datetime | None) -> Doc:
        current = await self.running(caller)  # (a forgotten one is stopped already)
        if current is None:
            raise ConflictError("No timer is running.", code="no_running_timer")
        now = clock.now()
        end = stopped_at or now
        if end > now + CLOCK_SKEW:
            raise InvalidRequestError("stopped_at must not be in the future.")
        end = min(end, now)
        if end < current["start"]:
            raise InvalidRequestError("stopped_at must not be before the timer's start.")
        done = await self._end(current, end)
        if done is None:  # a stop or start that raced this one ended it first
            raise ConflictError("No timer is running.", code="no_running_timer")
        return done

    async def discard(self, caller: Caller) -> None:
        """Delete the caller's running timer (started by mistake: no time is kept)."""
        current = await self.running(caller)  # (a forgotten one is stopped, and kept, first)
        if current is None or not await self._store.entries.delete_one(
            {"_id": current["_id"], TIMER_OF: current[TIMER_OF]}
        ):
            raise ConflictError("No timer is running.", code="no_running_timer")

    async def stop_if_running(self, account_id: str, user_id: str) -> None:
        """Stop a user's timer now (used when the user is deactivated)."""
        entry = await self._running(account_id, user_id)
        if entry is not None and await self._stop_if_forgotten(entry) is None:
            await self._end(entry, clock.now())

    async def _end(self, entry: Doc, end: dt.datetime) -> Doc | None:
        """End a running entry at `end` (never before its start); None when it was no longer
        running (another request ended it first)."""
        return await self._store.entries.find_one_and_update(
            {"_id": entry["_id"], TIMER_OF: entry[TIMER_OF]},
            {"$set": {"end": max(end, entry["start"])}, "$unset": {TIMER_OF: ""}},
        )

    async def adopt_old_timers(self) -> int:
        """Carry running timers kept the old way (a `timers` document per user, before
        `timer_of`) over to their entries; returns how many. Runs at start-up."""
        adopted = 0
        for timer in await self._store.timers.find({}):
            copy = timer.get("entry") or {}
            entry = await self._store.entries.find_one({"_id": copy.get("_id")}) if copy else None
            if entry is None and copy:  # its start was interrupted before writing it
                with contextlib.suppress(DuplicateKeyError):  # (or another server process did)
                    await self._store.entries.insert_one({**copy, "end": None})
                entry = await self._store.entries.find_one({"_id": copy["_id"]})
            if entry is not None and entry["end"] is None and TIMER_OF not in entry:
                # (unless the user already has a timer running the new way)
                with contextlib.suppress(DuplicateKeyError):
                    await self._store.entries.update_one(
                        {"_id": entry["_id"]}, {"$set": {TIMER_OF: timer["_id"]}}
                    )
                    adopted += 1
            seen = timer.get("seen_running_id")
            if seen and copy and seen != copy.get("_id"):
                # The start that wrote this timer died before ending the one it replaced: end
                # it when its successor began, as the old way's next start would have.
                await self._store.entries.update_one(
                    {"_id": seen, "end": None, TIMER_OF: {"$exists": False}},
                    {"$set": {"end": copy["start"]}},
                )
            await self._store.timers.delete_one({"_id": timer["_id"]})
        if adopted:
            log.info("Carried %d running timers over to their entries", adopted)
        return adopted

    # Entries ------------------------------------------------------------------------------

    async def _reach_filter(self, caller: Caller, user_id: str | None) -> dict[str, Any]:
        """The entries the caller may read: own; managers, their subtrees; admins, all."""
        base: dict[str, Any] = {"account_id": caller.account_id}
        if user_id is None or user_id == caller.user_id:
            return {**base, "user_id": caller.user_id}
        if caller.is_admin:
            return {**base, "user_id": user_id}
        assignments = await self._tree.assignments(caller)
        managed = sorted(t for t, r in assignments.roles.items() if r == MANAGER)
        if not managed:
            raise ForbiddenError("Only administrators and managers can see other users' time.")
        return {**base, "user_id": user_id, "managed_roots": managed}

    async def list_entries(
        self,
        caller: Caller,
        user_id: str | None,
        task_id: str | None,
        start_from: dt.datetime | None,
        start_to: dt.datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Doc], bool]:
        reach = await self._reach_filter(caller, user_id)
        managed = reach.pop("managed_roots", None)
        query = dict(reach)
        if start_from or start_to:
            query["start"] = {
                **({"$gte": start_from} if start_from else {}),
                **({"$lt": start_to} if start_to else {}),
            }
        if task_id is not None:
            await self._tree.visible_task(caller, task_id)
            query["task_id"] = task_id
        newest_first = [("start", -1), ("_id", -1)]
        if managed is None:
            # Everything the query matches may be shown: the store pages.
            docs = await self._store.entries.find(
                query, sort=newest_first, skip=offset, limit=limit + 1
            )
            return await self._without_forgotten(docs[:limit]), len(docs) > limit
        docs = await self._within(caller, await self._store.entries.find(query, sort=newest_first))
        chunk = await self._without_forgotten(docs[offset : offset + limit])
        return chunk, len(docs) > offset + limit

    async def total_seconds(
        self,
        caller: Caller,
        user_id: str | None,
        task_id: str | None,
        start_from: dt.datetime,
        start_to: dt.datetime,
    ) -> int:
        """The seconds of every entry `list_entries` lists for these filters (all pages; a
        running one up to now): a day's or a week's total in the same call as its entries."""
        reach = await self._reach_filter(caller, user_id)
        managed = reach.pop("managed_roots", None)
        query = {**reach, "start": {"$gte": start_from, "$lt": start_to}}
        if task_id is not None:
            query["task_id"] = task_id
        docs = await self._store.entries.find(query)
        if managed is not None:
            docs = await self._within(caller, docs)
        now = clock.now()
        return sum(duration(d, now) for d in await self._without_forgotten(docs))

    async def recent_task_ids(self, caller: Caller, scan: int = 200) -> list[str]:
        """The tasks of the caller's latest entries, newest first, each once."""
        docs = await self._store.entries.find(
            {"account_id": caller.account_id, "user_id": caller.user_id},
            sort=[("start", -1), ("_id", -1)],
            limit=scan,
            projection={"task_id": 1},
        )
        return list(dict.fromkeys(d["task_id"] for d in docs if d.get("task_id")))

    async def recent_tasks(self, caller: Caller, limit: int) -> list[dict[str, Any]]:
        """The tasks the caller tracked last, newest first, that still take a timer."""
        return await self._tree.trackable_views(caller, await self.recent_task_ids(caller), limit)

    async def _within(self, caller: Caller, entries: list[Doc]) -> list[Doc]:
        """Entries on tasks the caller manages (the nearest assignment is `manager`)."""
        managed = await self._managed(caller, {e["task_id"] for e in entries if e["task_id"]})
        return [e for e in entries if e["task_id"] in managed]

    async def _managed(self, caller: Caller, task_ids: set[str]) -> set[str]:
        """Those of the tasks the caller manages."""
        assignments = await self._tree.assignments(caller)
        tasks = await self._tree.tasks_by_id(caller.account_id, sorted(task_ids))
        return {i for i, task in tasks.items() if assignments.role(task) == MANAGER}

    async def _own_entry(self, caller: Caller, entry_id: str) -> Doc:
        entry = await self._store.entries.find_one(
            {"_id": entry_id, "account_id": caller.account_id}
        )
        if entry is None or (entry["user_id"] != caller.user_id and not caller.is_admin):
            raise NotFoundError("No such entry.")
        return entry

    async def get_entry(self, caller: Caller, entry_id: str) -> Doc:
        return await self._reachable_entry(caller, entry_id)

    @staticmethod
    def _span(start: dt.datetime, end: dt.datetime | None, duration: int | None) -> dt.datetime:
        if end is None:
            if duration is None:
                raise InvalidRequestError("end or duration is required.")
            end = start + dt.timedelta(seconds=duration)
        if end <= start:
            raise InvalidRequestError("end must be after start.")
        if end - start > MAX_ENTRY:
            raise InvalidRequestError("An entry can be at most 24 hours long (end - start).")
        if end > clock.now() + CLOCK_SKEW:
            raise InvalidRequestError("end must not be in the future.")
        return end

    async def create_entry(self, caller: Caller, fields: dict[str, Any], source: str) -> Doc:
        if "end" in fields and "duration" in fields:
            raise InvalidRequestError("Give either end or duration, not both.")
        start = fields["start"]
        end = self._span(start, fields.get("end"), fields.get("duration"))
        task_id = fields.get("task_id")
        if task_id is not None:
            await self._tree.trackable_task(caller, task_id)
        entry = _new_entry(caller, task_id, start, end, fields.get("note", ""), source, clock.now())
        if fields.get(BILLABLE) is not None:
            entry[BILLABLE] = fields[BILLABLE]
        await self._store.entries.insert_one(entry)
        return entry

    async def _reachable_entry(self, caller: Caller, entry_id: str) -> Doc:
        """`_own_entry`, with a forgotten timer stopped first."""
        entry = await self._own_entry(caller, entry_id)
        if entry["end"] is None and TIMER_OF in entry:
            entry = await self._stop_if_forgotten(entry) or entry
        return entry

    @staticmethod
    def _stops_for_another(caller: Caller, entry: Doc) -> bool:
        """An administrator ends or deletes anyone's entry, a running one too (the owner stops
        their own through the timer; nobody else could stop it otherwise)."""
        return entry["end"] is None and caller.is_admin and entry["user_id"] != caller.user_id

    async def update_entry(self, caller: Caller, entry_id: str, fields: dict[str, Any]) -> Doc:
        if "end" in fields and "duration" in fields:
            raise InvalidRequestError("Give either end or duration, not both.")
        entry = await self._reachable_entry(caller, entry_id)
        if self._stops_for_another(caller, entry) and {"end", "duration"} & set(fields):
            return await self._stop_for_another(caller, entry, fields)
        updates: dict[str, Any] = {}
        if "task_id" in fields and fields["task_id"] != entry["task_id"]:
            if fields["task_id"] is not None:
                await self._tree.trackable_task(caller, fields["task_id"])
            updates["task_id"] = fields["task_id"]
        if "note" in fields:
            updates["note"] = fields["note"]
        if BILLABLE in fields:
            updates[BILLABLE] = fields[BILLABLE]
        start: dt.datetime = fields["start"] if "start" in fields else entry["start"]
        if entry["end"] is None:
            if "end" in fields or "duration" in fields:
                raise ConflictError(
                    "This entry's timer is running; stop the timer to end it.",
                    code="timer_running",
                )
            if "start" in fields:
                self._check_running_start(start, clock.now(), "start")
                updates["start"] = min(start, clock.now())
        elif {"start", "end", "duration"} & set(fields):
            duration = fields.get("duration")
            end = fields.get("end", entry["end"] if duration is None else None)
            updates["start"] = start
            updates["end"] = self._span(start, end, duration)
        if not updates:
            return entry
        doc = await self._store.entries.find_one_and_update({"_id": entry_id}, {"$set": updates})
        if doc is None:
            raise NotFoundError("No such entry.")
        return doc

    async def _stop_for_another(self, caller: Caller, entry: Doc, fields: dict[str, Any]) -> Doc:
        """An administrator ends another user's running entry (`PATCH {end | duration}`)."""
        updates: dict[str, Any] = {}
        if "task_id" in fields and fields["task_id"] != entry["task_id"]:
            if fields["task_id"] is not None:
                await self._tree.trackable_task(caller, fields["task_id"])
            updates["task_id"] = fields["task_id"]
        if "note" in fields:
            updates["note"] = fields["note"]
        if BILLABLE in fields:
            updates[BILLABLE] = fields[BILLABLE]
        start: dt.datetime = fields["start"] if "start" in fields else entry["start"]
        updates["start"] = start
        updates["end"] = self._span(start, fields.get("end"), fields.get("duration"))
        doc = await self._store.entries.find_one_and_update(
            {"_id": entry["_id"], TIMER_OF: entry.get(TIMER_OF)},
            {"$set": updates, "$unset": {TIMER_OF: ""}},
        )
        if doc is None:  # stopped meanwhile (by its owner, or the forgotten-timer sweep)
            raise ConflictError(
                "This timer was stopped meanwhile; read the entry again.", code="no_running_timer"
            )
        return doc

    async def delete_entry(self, caller: Caller, entry_id: str) -> None:
        entry = await self._reachable_entry(caller, entry_id)
        if self._stops_for_another(caller, entry):
            # Discards the timer; only if it still runs as read (else it changed meanwhile).
            running = {"_id": entry_id, TIMER_OF: entry.get(TIMER_OF)}
            if not await self._store.entries.delete_one(running):
                raise ConflictError(
                    "This timer was stopped meanwhile; read the entry again.",
                    code="no_running_timer",
                )
            return
        if entry["end"] is None:
            raise ConflictError(
                "This entry's timer is running; stop the timer first.", code="timer_running"
            )
        await self._store.entries.delete_one({"_id": entry_id})

    # Reports ------------------------------------------------------------------------------

    async def report_rows(
        self,
        caller: Caller,
        start_from: dt.datetime,
        start_to: dt.datetime,
        user_id: str | None,
    ) -> AsyncIterator[list[ReportRow]]:
        """What a report adds up of the entries it may count in [from, to) for the caller, in
        batches of at most `REPORT_BATCH` read one at a time (some may be empty): the caller
        hands the loop back between them. An entry is at most 24 hours long, so one overlapping
        the range starts at most that long before it: the read is a range of starts, which the
        store's indexes answer alone (`entries_by_account_start`; `entries_by_user_start`).
        Some of the entries read may end before `from`: the caller adds up only the overlap."""
        if not caller.is_admin and user_id is not None and user_id != caller.user_id:
            assignments = await self._tree.assignments(caller)
            if MANAGER not in assignments.roles.values():
                raise ForbiddenError("Only administrators and managers can see other users' time.")
        query: dict[str, Any] = {"account_id": caller.account_id}
        if user_id is not None:
            query["user_id"] = user_id
        query["start"] = {"$gt": start_from - MAX_ENTRY, "$lt": start_to}
        hours = await self.forgotten_hours(caller.account_id)
        for running in await self._running_entries():  # (a forgotten timer counts as stopped)
            if running["account_id"] == caller.account_id:
                await self._stop_if_forgotten(running, hours)
        managed: dict[str | None, bool] = {None: False}  # (a manager's, by task)
        batches = self._store.entries.rows(
            query, REPORT_FIELDS, size=REPORT_BATCH, keyset=("start", "_id")
        )
        async for rows in batches:
            if caller.is_admin:
                yield rows
                continue
            unknown = {r[1] for r in rows if r[0] != caller.user_id}.difference(managed)
            if unknown:
                mine = await self._managed(caller, {t for t in unknown if t})
                managed |= {task_id: task_id in mine for task_id in unknown}
            yield [r for r in rows if r[0] == caller.user_id or managed[r[1]]]
