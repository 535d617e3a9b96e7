"""Summary reports: time per task, project or user over a date range, as JSON or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from . import clock
from .accounts import Accounts, Caller
from .errors import InvalidRequestError
from .store import Doc
from .tracking import Tracking
from .tree import Tree

GROUPINGS = ("task", "project", "user")
# A report reads every entry in its range: ten years bounds that work.
MAX_RANGE = dt.timedelta(days=10 * 366)


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


class Reports:
    def __init__(self, accounts: Accounts, tree: Tree, tracking: Tracking) -> None:
        self._accounts = accounts
        self._tree = tree
        self._tracking = tracking

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
            raise InvalidRequestError("from and to may be at most ten years apart.")
        entries = await self._tracking.entries_for_report(caller, start, end, user_id)
        now = clock.now()
        tasks = await self._tree.tasks_by_id(
            caller.account_id, [e["task_id"] for e in entries if e["task_id"]]
        )
        projects = await self._tree.tasks_by_id(
            caller.account_id, [t["ancestors"][0] for t in tasks.values() if t["ancestors"]]
        )
        users = await self._accounts.users_by_id(
            caller.account_id, sorted({e["user_id"] for e in entries})
        )
        groups: dict[str | None, Group] = {}
        for entry in entries:
            seconds = _overlap(entry, start, end, now)
            if seconds == 0:
                continue
            task = tasks.get(entry["task_id"]) if entry["task_id"] else None
            group_id, key, sort_key = self._key(group_by, entry, task, projects, users)
            group = groups.get(group_id)
            if group is None:
                group = groups[group_id] = Group(key=key, sort_key=sort_key)
            group.seconds += seconds
            group.entries += 1
        items = sorted(groups.values(), key=lambda g: (-g.seconds, g.sort_key))
        return items, sum(g.seconds for g in items)

    @staticmethod
    def _key(
        group_by: str,
        entry: Doc,
        task: Doc | None,
        projects: dict[str, Doc],
        users: dict[str, Doc],
    ) -> tuple[str | None, dict[str, Any], tuple[Any, ...]]:
        if group_by == "user":
            user = users.get(entry["user_id"])
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
            project = projects.get(task["ancestors"][0]) if task["ancestors"] else task
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


def as_csv(group_by: str, items: list[Group], total: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if group_by == "user":
        writer.writerow(["user_id", "name", "email", "seconds", "hours", "entries"])
        for g in items:
            writer.writerow(
                [
                    g.key["user_id"],
                    _cell(g.key["name"]),
                    _cell(g.key["email"]),
                    g.seconds,
                    _hours(g.seconds),
                    g.entries,
                ]
            )
    elif group_by == "project":
        writer.writerow(["project_id", "project", "archived", "seconds", "hours", "entries"])
        for g in items:
            writer.writerow(
                [
                    g.key["project_id"] or "",
                    _cell(g.key["name"] or "(no task)"),
                    _bool(g.key["archived"]),
                    g.seconds,
                    _hours(g.seconds),
                    g.entries,
                ]
            )
    else:
        writer.writerow(["task_id", "path", "task", "archived", "seconds", "hours", "entries"])
        for g in items:
            writer.writerow(
                [
                    g.key["task_id"] or "",
                    _cell(" / ".join(g.key["path"])),
                    _cell(g.key["name"] or "(no task)"),
                    _bool(g.key["archived"]),
                    g.seconds,
                    _hours(g.seconds),
                    g.entries,
                ]
            )
    writer.writerow(
        ["total", "", "", "", total, _hours(total), sum(g.entries for g in items)]
        if group_by == "task"
        else ["total", "", "", total, _hours(total), sum(g.entries for g in items)]
    )
    return out.getvalue()


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
