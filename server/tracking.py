"""The timer and time entries.

One running timer per user. The `timers` collection holds, under `_id = user_id`, the running
entry; starting swaps it atomically (`find_one_and_update`, returning the old one), so however many
starts race, each sees exactly one predecessor and stops it at its own start instant. The entry
itself lives in `entries` from the moment it starts. Every write is idempotent, and a server that
dies between two of them leaves nothing running twice and loses no entry:
- died after the swap, before writing the new entry: the timer document holds a full copy, which
  `GET /timer` shows and stopping (or the next start) writes, already ended;
- died before ending the old entry: the timer document names it (`seen_running_id`), and the
  next start ends it at the instant the interrupted one began;
- died after ending an entry, before releasing the timer: the timer then names an ended entry,
  which reads as "not running".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from . import clock
from .accounts import Caller
from .errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from .ids import new_id
from .store import Doc, DuplicateKeyError, Store
from .tree import MANAGER, Tree, task_ref

log = logging.getLogger(__name__)

SOURCES = ("extension", "tui", "api")
MAX_ENTRY = dt.timedelta(hours=24)
# A client clock a little ahead of the server's is not an error.
CLOCK_SKEW = dt.timedelta(minutes=1)


def _duration(entry: Doc, now: dt.datetime) -> int:
    end = entry["end"] or now
    return max(0, int((end - entry["start"]).total_seconds()))


class Tracking:
    def __init__(self, store: Store, tree: Tree) -> None:
        self._store = store
        self._tree = tree

    # Views --------------------------------------------------------------------------------

    async def views(self, account_id: str, entries: list[Doc]) -> list[dict[str, Any]]:
        tasks = await self._tree.tasks_by_id(
            account_id, [e["task_id"] for e in entries if e["task_id"]]
        )
        now = clock.now()
        return [
            {
                "id": e["_id"],
                "user_id": e["user_id"],
                "task_id": e["task_id"],
                "task": task_ref(tasks.get(e["task_id"])) if e["task_id"] else None,
                "start": clock.iso(e["start"]),
                "end": clock.iso(e["end"]),
                "duration": _duration(e, now),
                "note": e["note"],
                "source": e["source"],
            }
            for e in entries
        ]

    async def view(self, account_id: str, entry: Doc) -> dict[str, Any]:
        return (await self.views(account_id, [entry]))[0]

    # Timer --------------------------------------------------------------------------------

    async def running(self, caller: Caller) -> Doc | None:
        timer = await self._store.timers.find_one({"_id": caller.user_id})
        if timer is None:
            return None
        entry = await self._store.entries.find_one({"_id": timer["entry"]["_id"]})
        if entry is None:
            # The start was interrupted before it wrote the entry: the copy is authoritative.
            return dict(timer["entry"])
        return entry if entry["end"] is None else None

    async def start(
        self,
        caller: Caller,
        task_id: str | None,
        note: str,
        started_at: dt.datetime | None,
        source: str,
    ) -> tuple[Doc, Doc | None]:
        now = clock.now()
        start = started_at or now
        if start > now + CLOCK_SKEW:
            raise InvalidRequestError("started_at must not be in the future.")
        start = min(start, now)
        if task_id is not None:
            await self._tree.trackable_task(caller, task_id)
        current = await self.running(caller)
        if current is not None and start < current["start"]:
            raise InvalidRequestError(
                "started_at must not be before the start of the running timer, which it stops."
            )
        entry: Doc = {
            "_id": new_id(),
            "account_id": caller.account_id,
            "user_id": caller.user_id,
            "task_id": task_id,
            "start": start,
            "end": None,
            "note": note,
            "source": source,
            "created_at": now,
        }
        timer = {
            "account_id": caller.account_id,
            "entry": entry,
            # What ran before, as this request saw it: if this request dies between the swap and
            # ending it, whoever swaps this timer out ends it too.
            "seen_running_id": current["_id"] if current else None,
        }
        previous = await self._store.timers.find_one_and_update(
            {"_id": caller.user_id}, {"$set": timer}, upsert=True, return_new=False
        )
        # The id is new, so it exists only if a stop (or start) that ran between the swap and
        # here found the timer's copy and wrote it, already ended: nothing to do then.
        with contextlib.suppress(DuplicateKeyError):
            await self._store.entries.insert_one(entry)
        stopped = None
        if previous is not None:
            stopped = await self._complete(previous["entry"], start)
            if previous.get("seen_running_id"):
                # A no-op unless the request that started `previous` died before ending it.
                await self._store.entries.update_one(
                    {"_id": previous["seen_running_id"], "end": None},
                    {"$set": {"end": previous["entry"]["start"]}},
                )
        return entry, stopped

    async def stop(self, caller: Caller, stopped_at: dt.datetime | None) -> Doc:
        timer = await self._store.timers.find_one({"_id": caller.user_id})
        if timer is None:
            raise ConflictError("No timer is running.", code="no_running_timer")
        now = clock.now()
        end = stopped_at or now
        if end > now + CLOCK_SKEW:
            raise InvalidRequestError("stopped_at must not be in the future.")
        end = min(end, now)
        entry = await self._store.entries.find_one({"_id": timer["entry"]["_id"]}) or timer["entry"]
        if end < entry["start"]:
            raise InvalidRequestError("stopped_at must not be before the timer's start.")
        # Complete first, then release the timer only if it still holds this entry: a start that
        # raced us has already stopped it at its own instant, and keeps the new timer.
        done = await self._complete(timer["entry"], end)
        await self._store.timers.delete_one(
            {"_id": caller.user_id, "entry._id": timer["entry"]["_id"]}
        )
        return done

    async def stop_if_running(self, account_id: str, user_id: str) -> None:
        """Stop a user's timer now (used when the user is deactivated)."""
        timer = await self._store.timers.find_one({"_id": user_id, "account_id": account_id})
        if timer is not None:
            await self._complete(timer["entry"], clock.now())
            await self._store.timers.delete_one(
                {"_id": user_id, "entry._id": timer["entry"]["_id"]}
            )

    async def _complete(self, entry: Doc, end: dt.datetime) -> Doc:
        """End a running entry at `end`; idempotent, and first writer wins."""
        end = max(end, entry["start"])
        running = {"_id": entry["_id"], "end": None}
        done = await self._store.entries.find_one_and_update(running, {"$set": {"end": end}})
        if done is not None:
            return done  # the common case: one write
        # Already ended by someone else, or never written because the start that made it was
        # interrupted: write it now, already ended (a no-op if it exists), then end it in case
        # the interrupted start wrote it in between.
        await self._store.entries.update_one(
            {"_id": entry["_id"]}, {"$setOnInsert": {**entry, "end": end}}, upsert=True
        )
        done = await self._store.entries.find_one_and_update(running, {"$set": {"end": end}})
        if done is None:
            done = await self._store.entries.find_one({"_id": entry["_id"]})
        assert done is not None
        return done

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
            return docs[:limit], len(docs) > limit
        docs = await self._within(caller, await self._store.entries.find(query, sort=newest_first))
        return docs[offset : offset + limit], len(docs) > offset + limit

    async def _within(self, caller: Caller, entries: list[Doc]) -> list[Doc]:
        """Entries on tasks the caller manages (the nearest assignment is `manager`)."""
        assignments = await self._tree.assignments(caller)
        tasks = await self._tree.tasks_by_id(
            caller.account_id, [e["task_id"] for e in entries if e["task_id"]]
        )
        return [
            e
            for e in entries
            if e["task_id"] in tasks and assignments.role(tasks[e["task_id"]]) == MANAGER
        ]

    async def _own_entry(self, caller: Caller, entry_id: str) -> Doc:
        entry = await self._store.entries.find_one(
            {"_id": entry_id, "account_id": caller.account_id}
        )
        if entry is None or (entry["user_id"] != caller.user_id and not caller.is_admin):
            raise NotFoundError("No such entry.")
        return entry

    async def get_entry(self, caller: Caller, entry_id: str) -> Doc:
        return await self._own_entry(caller, entry_id)

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
        entry: Doc = {
            "_id": new_id(),
            "account_id": caller.account_id,
            "user_id": caller.user_id,
            "task_id": task_id,
            "start": start,
            "end": end,
            "note": fields.get("note", ""),
            "source": source,
            "created_at": clock.now(),
        }
        await self._store.entries.insert_one(entry)
        return entry

    async def update_entry(self, caller: Caller, entry_id: str, fields: dict[str, Any]) -> Doc:
        entry = await self._own_entry(caller, entry_id)
        if "end" in fields and "duration" in fields:
            raise InvalidRequestError("Give either end or duration, not both.")
        updates: dict[str, Any] = {}
        if "task_id" in fields and fields["task_id"] != entry["task_id"]:
            if fields["task_id"] is not None:
                await self._tree.trackable_task(caller, fields["task_id"])
            updates["task_id"] = fields["task_id"]
        if "note" in fields:
            updates["note"] = fields["note"]
        start: dt.datetime = fields["start"] if "start" in fields else entry["start"]
        if entry["end"] is None:
            if "end" in fields or "duration" in fields:
                raise ConflictError(
                    "This entry's timer is running; stop the timer to end it.",
                    code="timer_running",
                )
            if start > clock.now():
                raise InvalidRequestError("start must not be in the future.")
            if "start" in fields:
                updates["start"] = start
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

    async def delete_entry(self, caller: Caller, entry_id: str) -> None:
        entry = await self._own_entry(caller, entry_id)
        if entry["end"] is None:
            raise ConflictError(
                "This entry's timer is running; stop the timer first.", code="timer_running"
            )
        await self._store.entries.delete_one({"_id": entry_id})

    # Reports ------------------------------------------------------------------------------

    async def entries_for_report(
        self,
        caller: Caller,
        start_from: dt.datetime,
        start_to: dt.datetime,
        user_id: str | None,
    ) -> list[Doc]:
        """Entries overlapping [from, to) that the caller may see in a report."""
        # Ended entries by their end (a timer may have run for days), running ones through the
        # `timers` collection, which holds one document per running timer.
        query: dict[str, Any] = {
            "account_id": caller.account_id,
            "end": {"$gt": start_from},
            "start": {"$lt": start_to},
        }
        timers_query: dict[str, Any] = {"account_id": caller.account_id}
        if user_id is not None:
            query["user_id"] = timers_query["_id"] = user_id
        docs = await self._store.entries.find(query)
        running_ids = [t["entry"]["_id"] for t in await self._store.timers.find(timers_query)]
        if running_ids:
            running = await self._store.entries.find({"_id": {"$in": running_ids}})
            docs += [e for e in running if e["end"] is None and e["start"] < start_to]
        if caller.is_admin:
            return docs
        if user_id is not None and user_id != caller.user_id:
            assignments = await self._tree.assignments(caller)
            if MANAGER not in assignments.roles.values():
                raise ForbiddenError("Only administrators and managers can see other users' time.")
        own = [d for d in docs if d["user_id"] == caller.user_id]
        others = [d for d in docs if d["user_id"] != caller.user_id]
        if not others:
            return own
        managed = await self._within(caller, others)
        return own + managed
