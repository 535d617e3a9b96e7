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
from zoneinfo import ZoneInfo

from . import clock, rates
from .account_settings import AccountSettings
from .accounts import Accounts, Caller
from .errors import InvalidRequestError
from .pricing import Price, Pricer, may_see_rates
from .report_queue import ReportQueue
from .store import Doc
from .tracking import Tracking
from .tree import Tree

DAY = "day"
GROUPINGS = ("task", "project", "user", DAY)
# Also made for the web page's chart: time per day and project (one group per pair).
DAY_PROJECT = "day_project"
UTC = ZoneInfo("UTC")
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
    # Priced time (callers who may see rates, `pricing`): billable seconds, and the sum of
    # billable seconds x hourly rate in minor units, rounded once into `amount` (`rates`).
    billable_seconds: int = 0
    cent_seconds: int = 0

    def add_priced(self, seconds: int, price: Price | None) -> None:
        if price is not None and price.billable:
            self.billable_seconds += seconds
            self.cent_seconds += seconds * (price.rate or 0)

    @property
    def amount(self) -> int:
        """The group's amount in minor units (rounded once, half up)."""
        return rates.amount_cents(self.cent_seconds)


@dataclass(frozen=True)
class Pricing:
    """Amounts in a report's output: for callers who may see rates, in the account's currency."""

    currency: str


def _overlap(entry: Doc, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> int:
    """Seconds of the entry inside [start, end): an entry crossing the range counts in part."""
    lo = max(entry["start"], start)
    hi = min(entry["end"] or now, end)
    return max(0, int((hi - lo).total_seconds()))


def _days(
    entry: Doc, start: dt.datetime, end: dt.datetime, now: dt.datetime, zone: ZoneInfo
) -> list[tuple[dt.date, int]]:
    """Seconds of the entry inside [start, end) on each day (midnight to midnight in `zone`) it
    touches: an entry running past midnight counts on both days."""
    lo = max(entry["start"], start)
    hi = min(entry["end"] or now, end)
    pieces: list[tuple[dt.date, int]] = []
    while lo < hi:
        day = lo.astimezone(zone).date()
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
        upto = min(hi, midnight.astimezone(dt.UTC))
        pieces.append((day, int((upto - lo).total_seconds())))
        lo = upto
    return [(day, seconds) for day, seconds in pieces if seconds > 0]


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


# A report's group keys so far, by grouping and the user or task they were made for.
_Keys = dict[tuple[str, str | None], tuple[str | None, dict[str, Any], tuple[Any, ...]]]


class Reports:
    def __init__(
        self,
        accounts: Accounts,
        tree: Tree,
        tracking: Tracking,
        account_settings: AccountSettings,
    ) -> None:
        self._accounts = accounts
        self._account_settings = account_settings
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
        *,
        zone: ZoneInfo = UTC,
        project_id: str | None = None,
    ) -> tuple[list[Group], int]:
        """Time per `group_by` ("day": per day of `zone`); only `user_id`'s time, and only
        time on `project_id` and the tasks under it, when they are given."""
        tables, total = await self.tables(
            caller, start, end, (group_by,), user_id, zone=zone, project_id=project_id
        )
        return tables[group_by], total

    async def tables(
        self,
        caller: Caller,
        start: dt.datetime,
        end: dt.datetime,
        groupings: tuple[str, ...],
        user_id: str | None,
        *,
        zone: ZoneInfo = UTC,
        project_id: str | None = None,
    ) -> tuple[dict[str, list[Group]], int]:
        """Several groupings of the same time, read in one pass (the web page's tables and
        charts); the total once."""
        if end <= start:
            raise InvalidRequestError("to must be after from.")
        if end - start > MAX_RANGE:
            raise InvalidRequestError(
                f"from and to may be at most {MAX_RANGE_DAYS} days apart; "
                "ask for a longer period one year at a time."
            )
        if project_id is not None:
            await self._tree.visible_task(caller, project_id)  # 404 when not the caller's to see
        async with self.queue.turn():
            return await self._tables(caller, start, end, groupings, user_id, zone, project_id)

    async def _tables(
        self,
        caller: Caller,
        start: dt.datetime,
        end: dt.datetime,
        groupings: tuple[str, ...],
        user_id: str | None,
        zone: ZoneInfo,
        project_id: str | None,
    ) -> tuple[dict[str, list[Group]], int]:
        now = clock.now()
        names = _Names()
        tables: dict[str, dict[Any, Group]] = {g: {} for g in groupings}
        total = 0
        needs = set(groupings) | ({"task"} if project_id else set())
        by_day = not needs.isdisjoint((DAY, DAY_PROJECT))
        keys: _Keys = {}
        pricer = Pricer(self._tree, self._accounts, caller)
        priced = await may_see_rates(self._tree, caller)
        batches = self._tracking.report_batches(caller, start, end, user_id)
        async for entries in batches:
            await self._look_up(caller.account_id, needs, entries, names)
            if priced:
                await pricer.look_up(entries)
            for entry in entries:
                task = names.tasks.get(entry["task_id"]) if entry["task_id"] else None
                if project_id is not None and not _under(task, project_id):
                    continue
                # (split by day only when a grouping needs it: it costs a time zone's reckoning)
                days = _days(entry, start, end, now, zone) if by_day else []
                seconds = sum(s for _, s in days) if by_day else _overlap(entry, start, end, now)
                if seconds == 0:
                    continue
                total += seconds
                price = pricer.price(entry) if priced else None
                for grouping, groups in tables.items():
                    if grouping in (DAY, DAY_PROJECT):
                        self._add_days(grouping, groups, entry, task, names, days, keys, price)
                    else:
                        key = self._known_key(grouping, entry, task, names, keys)
                        _add(groups, *key, seconds, price)
            await asyncio.sleep(0)  # the other requests' turn
        return {
            grouping: sorted(
                groups.values(),
                key=(lambda g: g.sort_key)
                if grouping in (DAY, DAY_PROJECT)
                else (lambda g: (-g.seconds, g.sort_key)),
            )
            for grouping, groups in tables.items()
        }, total

    def _add_days(
        self,
        grouping: str,
        groups: dict[Any, Group],
        entry: Doc,
        task: Mapping[str, Any] | None,
        names: _Names,
        days: list[tuple[dt.date, int]],
        keys: _Keys,
        price: Price | None = None,
    ) -> None:
        """Adds an entry's time to a grouping by day (`DAY` or `DAY_PROJECT`), day by day."""
        project_id, project, project_sort = (
            self._known_key("project", entry, task, names, keys)
            if grouping == DAY_PROJECT
            else (None, {}, ())
        )
        for day, seconds in days:
            group_id = day if grouping == DAY else (day, project_id)
            group = groups.get(group_id)
            if group is None:
                group = groups[group_id] = Group(
                    key={"day": day.isoformat(), **project}, sort_key=(day, *project_sort)
                )
            group.seconds += seconds
            group.entries += 1
            group.add_priced(seconds, price)

    async def _look_up(
        self, account_id: str, needs: set[str], entries: list[Doc], names: _Names
    ) -> None:
        """Reads what these entries' groups are named by and was not read yet."""
        if "user" in needs:
            user_ids = names.unasked("user", {e["user_id"] for e in entries})
            if user_ids:
                names.users.update(await self._accounts.users_by_id(account_id, user_ids))
        if not needs & {"task", "project", DAY_PROJECT}:
            return
        task_ids = names.unasked("task", {e["task_id"] for e in entries if e["task_id"]})
        if not task_ids:
            return
        found = await self._tree.indexed_tasks(account_id, task_ids)
        names.tasks.update(found)
        if needs & {"project", DAY_PROJECT}:
            roots = {t["ancestors"][0] for t in found.values() if t["ancestors"]}
            project_ids = names.unasked("project", roots)
            if project_ids:
                names.projects.update(await self._tree.indexed_tasks(account_id, project_ids))

    def _known_key(
        self,
        grouping: str,
        entry: Doc,
        task: Mapping[str, Any] | None,
        names: _Names,
        keys: _Keys,
    ) -> tuple[str | None, dict[str, Any], tuple[Any, ...]]:
        """`_key`, made once per user (grouping by user) or task (the others) in a report."""
        ref = (grouping, entry["user_id"] if grouping == "user" else entry["task_id"])
        found = keys.get(ref)
        if found is None:
            found = keys[ref] = self._key(grouping, entry, task, names)
        return found

    async def pricing(self, caller: Caller) -> Pricing | None:
        """How the caller's reports show amounts: None for callers who may not see rates."""
        if not await may_see_rates(self._tree, caller):
            return None
        return Pricing(currency=await self._account_settings.currency(caller.account_id))

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


def _add(
    groups: dict[Any, Group],
    group_id: Any,
    key: dict[str, Any],
    sort_key: tuple[Any, ...],
    seconds: int,
    price: Price | None = None,
) -> None:
    group = groups.get(group_id)
    if group is None:
        group = groups[group_id] = Group(key=key, sort_key=sort_key)
    group.seconds += seconds
    group.entries += 1
    group.add_priced(seconds, price)


def _under(task: Mapping[str, Any] | None, project_id: str) -> bool:
    """Whether the task is the project or one of the tasks under it."""
    return task is not None and (task["_id"] == project_id or project_id in task["ancestors"])


def as_json(items: list[Group], total: int, pricing: Pricing | None = None) -> dict[str, Any]:
    """The report as JSON; with `pricing`, each group's billable seconds and amount, and the
    totals with the currency (without it, no amount field at all)."""
    body: dict[str, Any] = {
        "items": [{"key": g.key, "seconds": g.seconds, "entries": g.entries} for g in items],
        "total_seconds": total,
    }
    if pricing is not None:
        for item, g in zip(body["items"], items, strict=True):
            item["billable_seconds"] = g.billable_seconds
            item["amount"] = rates.format_money(g.amount)
        body["currency"] = pricing.currency
        body["total_billable_seconds"] = sum(g.billable_seconds for g in items)
        body["total_amount"] = rates.format_money(total_amount(items))
    return body


def total_amount(items: list[Group]) -> int:
    """The report's amount: the sum of its groups' rounded amounts (the rows add up to it)."""
    return sum(g.amount for g in items)


def csv_chunks(
    group_by: str, items: list[Group], total: int, pricing: Pricing | None = None
) -> Iterator[str]:
    """The report as CSV text, `CSV_ROWS_PER_CHUNK` rows at a time (a response streams them);
    with `pricing`, three columns more: billable hours, amount, currency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rows = _csv_rows(group_by, items, total)
    if pricing is not None:
        rows = _priced_rows(rows, items, pricing)
    for n, row in enumerate(rows, start=1):
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
    elif group_by == DAY:
        yield ["day", "seconds", "hours", "entries"]
        for g in items:
            yield [g.key["day"], g.seconds, _hours(g.seconds), g.entries]
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
    padding = {"task": 3, DAY: 0}.get(group_by, 2)
    yield ["total", *[""] * padding, total, _hours(total), entries]


def _priced_rows(
    rows: Iterator[list[Any]], items: list[Group], pricing: Pricing
) -> Iterator[list[Any]]:
    """The rows of `_csv_rows` (a header, a row per group, the total) with the amount columns."""
    yield [*next(rows), "billable_hours", "amount", "currency"]
    for g in items:
        row = next(rows)
        yield [*row, _hours(g.billable_seconds), rates.format_money(g.amount), pricing.currency]
    billable = sum(g.billable_seconds for g in items)
    total = rates.format_money(total_amount(items))
    yield [*next(rows), _hours(billable), total, pricing.currency]


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
