"""Summary reports: time per task, project or user over a date range, as JSON or CSV.

A report may cover a year of a whole team's entries (tens of thousands): it reads them in
bounded batches (`Tracking.report_batches`) and adds each batch to its totals, looking up only the
tasks, projects and users it has not seen yet, and hands the event loop back after every batch,
so the other requests are served while it runs. Only the totals are kept, never the entries.
Reports take turns (`ReportQueue`): several at once would each add a step to every turn of the
loop.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import clock
from .accounts import Accounts, Caller
from .errors import InvalidRequestError
from .report_queue import ReportQueue
from .store import Doc
from .tracking import Tracking
from .tree import Tree

GROUPINGS = ("task", "project", "user")
# The longest range one report covers: a year, leap day included. A longer period is asked year
# by year (each report's work grows with the entries in its range).
MAX_RANGE_DAYS = 366
MAX_RANGE = dt.timedelta(days=MAX_RANGE_DAYS)
# CSV rows written to the response at a time.
CSV_ROWS_PER_CHUNK = 200
# Reports read their entries one at a time, the others waiting their turn (`report_queue`).
REPORTS_AT_ONCE = 1
REPORTS_WAITING = 16
RETRY_AFTER_SECONDS = 5


@dataclass
class Group:
    key: dict[str, Any]
    seconds: int = 0
    entries: int = 0
    sort_key: tuple[Any, ...] = field(default=())


def _overlap(entry: Doc, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> int:
    """Seconds of the entry inside [start, end): an entry crossing the range counts in part."""
    lo = max(entry["start"], start)
    hi = min(entry["end"] or now, end)
    return max(0, int((hi - lo).total_seconds()))


@dataclass
class _Names:
    """The tasks, projects and users a report has looked up so far (each asked once)."""

    # (as the tree index keeps them: read them, never change them)
    tasks: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    projects: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    users: dict[str, Doc] = field(default_factory=dict)
    asked: set[tuple[str, str]] = field(default_factory=set)  # (kind, id), found or not

    def unasked(self, kind: str, ids: set[str]) -> list[str]:
        new = sorted(i for i in ids if (kind, i) not in self.asked)
        self.asked.update((kind, i) for i in new)
        return new


class Reports:
    def __init__(self, accounts: Accounts, tree: Tree, tracking: Tracking) -> None:
        self._accounts = accounts
        self._tree = tree
        self._tracking = tracking
        self.queue = ReportQueue(
            at_once=REPORTS_AT_ONCE, waiting=REPORTS_WAITING, retry_after=RETRY_AFTER_SECONDS
        )

    async def summary(
        self,
        caller: Caller,
        start: dt.datetime,
        end: dt.datetime,
        group_by: str,
        user_id: str | None,
    ) -> tuple[list[Group], int]:
        if end <= start:
            raise InvalidRequestError("to must be after from.")
        if end - start > MAX_RANGE:
            raise InvalidRequestError(
                f"from and to may be at most {MAX_RANGE_DAYS} days apart; "
                "ask for a longer period one year at a time."
            )
        async with self.queue.turn():
            return await self._summary(caller, start, end, group_by, user_id)

    async def _summary(
        self,
        caller: Caller,
        start: dt.datetime,
        end: dt.datetime,
        group_by: str,
        user_id: str | None,
    ) -> tuple[list[Group], int]:
        now = clock.now()
        names = _Names()
        groups: dict[str | None, Group] = {}
        batches = self._tracking.report_batches(caller, start, end, user_id)
        async for entries in batches:
            await self._look_up(caller.account_id, group_by, entries, names)
            for entry in entries:
                seconds = _overlap(entry, start, end, now)
                if seconds == 0:
                    continue
                task = names.tasks.get(entry["task_id"]) if entry["task_id"] else None
                group_id, key, sort_key = self._key(group_by, entry, task, names)
                group = groups.get(group_id)
                if group is None:
                    group = groups[group_id] = Group(key=key, sort_key=sort_key)
                group.seconds += seconds
                group.entries += 1
            await asyncio.sleep(0)  # the other requests' turn
        items = sorted(groups.values(), key=lambda g: (-g.seconds, g.sort_key))
        return items, sum(g.seconds for g in items)

    async def _look_up(
        self, account_id: str, group_by: str, entries: list[Doc], names: _Names
    ) -> None:
        """Reads what these entries' groups are named by and was not read yet."""
        if group_by == "user":
            user_ids = names.unasked("user", {e["user_id"] for e in entries})
            if user_ids:
                names.users.update(await self._accounts.users_by_id(account_id, user_ids))
            return
        task_ids = names.unasked("task", {e["task_id"] for e in entries if e["task_id"]})
        if not task_ids:
            return
        found = await self._tree.indexed_tasks(account_id, task_ids)
        names.tasks.update(found)
        if group_by == "project":
            roots = {t["ancestors"][0] for t in found.values() if t["ancestors"]}
            project_ids = names.unasked("project", roots)
            if project_ids:
                names.projects.update(await self._tree.indexed_tasks(account_id, project_ids))

    @staticmethod
    def _key(
        group_by: str, entry: Doc, task: Mapping[str, Any] | None, names: _Names
    ) -> tuple[str | None, dict[str, Any], tuple[Any, ...]]:
        if group_by == "user":
            user = names.users.get(entry["user_id"])
            return (
                entry["user_id"],
                {
                    "user_id": entry["user_id"],
                    "name": user["name"] if user else None,
                    "email": user["email"] if user else None,
                },
                (user["email"] if user else "",),
            )
        if task is None:
            none_key: dict[str, Any] = (
                {"task_id": None, "name": None, "path": [], "archived": False}
                if group_by == "task"
                else {"project_id": None, "name": None, "archived": False}
            )
            return None, none_key, ("\uffff",)
        if group_by == "project":
            project = names.projects.get(task["ancestors"][0]) if task["ancestors"] else task
            if project is None:
                project = task
            return (
                project["_id"],
                {
                    "project_id": project["_id"],
                    "name": project["name"],
                    "archived": project["archived"],
                },
                (project["name"].casefold(),),
            )
        return (
            task["_id"],
            {
                "task_id": task["_id"],
                "name": task["name"],
                "path": list(task["path"]),
                "archived": task["archived"],
            },
            (*[p.casefold() for p in task["path"]], task["name"].casefold()),
        )


def as_json(items: list[Group], total: int) -> dict[str, Any]:
    return {
        "items": [{"key": g.key, "seconds": g.seconds, "entries": g.entries} for g in items],
        "total_seconds": total,
    }


def csv_chunks(group_by: str, items: list[Group], total: int) -> Iterator[str]:
    """The report as CSV text, `CSV_ROWS_PER_CHUNK` rows at a time (a response streams them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for n, row in enumerate(_csv_rows(group_by, items, total), start=1):
        writer.writerow(row)
        if n % CSV_ROWS_PER_CHUNK == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue()


def _csv_rows(group_by: str, items: list[Group], total: int) -> Iterator[list[Any]]:
    if group_by == "user":
        yield ["user_id", "name", "email", "seconds", "hours", "entries"]
        for g in items:
            yield [
                g.key["user_id"],
                _cell(g.key["name"]),
                _cell(g.key["email"]),
                g.seconds,
                _hours(g.seconds),
                g.entries,
            ]
    elif group_by == "project":
        yield ["project_id", "project", "archived", "seconds", "hours", "entries"]
        for g in items:
            yield [
                g.key["project_id"] or "",
                _cell(g.key["name"] or "(no task)"),
                _bool(g.key["archived"]),
                g.seconds,
                _hours(g.seconds),
                g.entries,
            ]
    else:
        yield ["task_id", "path", "task", "archived", "seconds", "hours", "entries"]
        for g in items:
            yield [
                g.key["task_id"] or "",
                _cell(" / ".join(g.key["path"])),
                _cell(g.key["name"] or "(no task)"),
                _bool(g.key["archived"]),
                g.seconds,
                _hours(g.seconds),
                g.entries,
            ]
    entries = sum(g.entries for g in items)
    yield (
        ["total", "", "", "", total, _hours(total), entries]
        if group_by == "task"
        else ["total", "", "", total, _hours(total), entries]
    )


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """People's text as a spreadsheet shows it and never runs it: a leading quote makes a
    would-be formula plain text."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f}"


def _bool(value: bool) -> str:
    return "true" if value else "false"
