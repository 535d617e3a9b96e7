"""Summary reports: time per task, project or user over a date range, as JSON or CSV.

A report may cover a year of a whole team's entries (tens of thousands). It reads what it adds
up of them in bounded batches (`Tracking.report_rows`, which the store answers from an index
alone), handing the event loop back after every batch so that the other requests are served
while it runs, and adds each entry's time to a `Tally`: seconds per user, task and billable flag
(`Span`) and, for the groupings by day, per day (and project) with their amounts. What a span
needs (its price, its task's name and project) is learnt once, in the batch that first brings
it (`Reports._learn`); groups are made from the tally, never per entry, and the entries
themselves are never kept.
Reports take turns (`ReportQueue`): several at once would each add a step to every turn of the
loop.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from . import clock, rates
from .account_settings import AccountSettings
from .accounts import Accounts, Caller
from .errors import InvalidRequestError
from .pricing import Pricer, may_see_rates
from .report_queue import ReportQueue
from .store import Doc, Millis
from .tracking import ReportRow, Tracking
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
# The projects beyond those kept apart, in the time by day and project (`Reports.tables`).
OTHERS: tuple[str, dict[str, Any], tuple[Any, ...]] = (
    "(others)",  # (not an id: ids have no parentheses)
    {"project_id": None, "name": None, "archived": False, "others": True},
    ("\uffff", "\uffff"),
)
# Groupings added up from another's groups when both are asked for (`Reports._rolled_up`).
ROLLED_UP = {DAY: DAY_PROJECT, "project": "task"}
# Tally lines (or groups) made into groups before the event loop is handed back.
LINES_PER_STEP = 2_000
# Reports read their entries one at a time, the others waiting their turn (`report_queue`).
REPORTS_AT_ONCE = 1
REPORTS_WAITING = 16
RETRY_AFTER_SECONDS = 5


@dataclass(slots=True)
class Group:
    key: dict[str, Any]
    seconds: int = 0
    entries: int = 0
    sort_key: tuple[Any, ...] = field(default=())
    # Priced time (callers who may see rates, `pricing`): billable seconds, and the sum of
    # billable seconds x hourly rate in minor units, rounded once into `amount` (`rates`).
    billable_seconds: int = 0
    cent_seconds: int = 0

    def merge(self, other: Group) -> None:
        """Adds another group's time to this one's."""
        self.seconds += other.seconds
        self.entries += other.entries
        self.billable_seconds += other.billable_seconds
        self.cent_seconds += other.cent_seconds

    def add(self, seconds: int, entries: int, rate: int | None) -> None:
        """Adds time at an hourly `rate` (None: not billable, or not priced for the caller)."""
        self.seconds += seconds
        self.entries += entries
        if rate is not None:
            self.billable_seconds += seconds
            self.cent_seconds += seconds * rate

    @property
    def amount(self) -> int:
        """The group's amount in minor units (rounded once, half up)."""
        return rates.amount_cents(self.cent_seconds)


@dataclass(frozen=True)
class Pricing:
    """Amounts in a report's output: for callers who may see rates, in the account's currency."""

    currency: str


class Calendar:
    """The days (midnight to midnight in a zone) a report's range touches, and how an entry's
    time splits across them: an entry running past midnight counts on both days."""

    def __init__(self, start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> None:
        first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        self.days = [first + dt.timedelta(days=n) for n in range((last - first).days + 2)]
        self.names = [day.isoformat() for day in self.days]
        self.midnights = [Millis.of(dt.datetime.combine(day, dt.time(), zone)) for day in self.days]


@dataclass
class _Names:
    """The tasks, projects and users a report's groups are named by."""

    # (as the tree index keeps them: read them, never change them)
    tasks: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    projects: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    users: dict[str, Doc] = field(default_factory=dict)


@dataclass(frozen=True)
class _Asked:
    """What a report is asked for, as far as what it reads depends on it."""

    groupings: frozenset[str]
    project_id: str | None  # only the time on this project (and the tasks under it)

    @property
    def tasks(self) -> bool:
        return self.project_id is not None or bool(self.groupings - {"user", DAY})

    @property
    def projects(self) -> bool:
        return bool(self.groupings & {"project", DAY_PROJECT})

    @property
    def by_day_and_project(self) -> bool:
        return DAY_PROJECT in self.groupings


@dataclass
class _Known:
    """What a report has learnt so far of the spans and tasks it read (`Reports._learn`)."""

    caller: Caller
    ask: _Asked
    pricer: Pricer | None  # (None: the caller sees no rates)
    names: _Names = field(default_factory=_Names)
    # Per task: the id of the project its time by day and project counts on.
    day_projects: dict[str | None, str | None] = field(default_factory=dict)
    # With a project asked for: whether each task is the project or under it.
    only: dict[str | None, bool] = field(default_factory=lambda: {None: False})


# What a report's time is added up by as it is read: (user, task, billable).
Span = tuple[str, str | None, int | bool | None]
# A span's line in a `Tally`: [seconds, entries, its project's `Cells` (None: no calendar),
# hourly rate of its time when billable and priced for the caller (else None), project id].
Line = list[Any]
# One project's time by day (None: no time that day), per index of the day in `Calendar.days`:
# [seconds, entries, billable seconds, billable seconds x hourly rate].
Cells = list[list[int] | None]


class Tally:
    """A report's time as it is read: [seconds, entries] per `Span` (a `Line`) and, with a
    calendar, per project and day (`Cells`: the days split by project only when asked)."""

    def __init__(self, calendar: Calendar | None) -> None:
        self._calendar = calendar
        self._lines: dict[Span, Line] = {}
        self._cells: dict[str | None, Cells] = {}
        # The spans with time, as first added: their lines ([seconds, entries, ...]).
        self.spans: dict[Span, Line] = {}
        # The projects with time by day, as first added (no project: None).
        self.days: dict[str | None, Cells] = {}

    def learn(self, span: Span, project: str | None, rate: int | None) -> None:
        """Makes `span` known: its time by day counts on `project`, priced at `rate`."""
        cells = None
        if self._calendar is not None:
            cells = self._cells.get(project)
            if cells is None:
                cells = self._cells[project] = [None] * len(self._calendar.days)
        self._lines[span] = [0, 0, cells, rate, project]

    def add(
        self,
        rows: Iterable[ReportRow],
        window: tuple[int, int, int],
        only: Mapping[str | None, bool] | None = None,
    ) -> list[ReportRow]:
        """Adds the time of these entries inside the `window` (from, to, now: milliseconds;
        running entries count until now) in whole seconds (day by day with a calendar, as the
        day groupings count); with `only`, only the time on the tasks it says True for.
        Returns the entries of spans not learnt yet, left out (to be added once learnt)."""
        lines, spans, days = self._lines, self.spans, self.days
        lo, hi, now = window
        midnights = self._calendar.midnights if self._calendar is not None else None
        unknown: list[ReportRow] = []
        for row in rows:
            user, task, start, end, billable = row
            span = (user, task, billable)
            line = lines.get(span)
            if line is None:
                unknown.append(row)
                continue
            if only is not None and not only[task]:
                continue
            a = start if start > lo else lo  # (conditionals: cheaper than min and max here)
            b = now if end is None else end
            b = hi if b > hi else b
            if midnights is None:
                seconds = (b - a) // 1000
            else:
                seconds = 0
                cells, rate = line[2], line[3]
                day = bisect.bisect_right(midnights, a) - 1
                while a < b:  # day by day, midnight to midnight (most entries: one day)
                    upto = midnights[day + 1]
                    upto = b if b < upto else upto
                    part = (upto - a) // 1000  # (whole seconds, each day's on its own)
                    if part > 0:
                        seconds += part
                        cell = cells[day]
                        if cell is None:
                            cell = cells[day] = [0, 0, 0, 0]
                            if line[4] not in days:
                                days[line[4]] = cells
                        cell[0] += part
                        cell[1] += 1
                        if rate is not None:
                            cell[2] += part
                            cell[3] += part * rate
                    a, day = upto, day + 1
            if seconds <= 0:
                continue
            if not line[1]:
                spans[span] = line
            line[0] += seconds
            line[1] += 1
        return unknown


# A report's group keys so far, by grouping and the user or task they were made for.
# A group's key: (its id, its key as the API shows it, what it sorts by).
_Key = tuple[str | None, dict[str, Any], tuple[Any, ...]]
_Keys = dict[tuple[str, str | None], _Key]


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
        projects_apart: int | None = None,
    ) -> tuple[dict[str, list[Group]], int]:
        """Several groupings of the same time, read in one pass (the web page's tables and
        charts); the total once. With `projects_apart`, the time by day and project keeps that
        many projects (those with the most time) apart, and the others' as one `OTHERS` group
        a day (a chart's colours)."""
        if end <= start:
            raise InvalidRequestError("to must be after from.")
        # (days as the account's clocks count them: a year may hold a clock change's extra hour)
        if _wall_clock(end, zone) - _wall_clock(start, zone) > MAX_RANGE:
            raise InvalidRequestError(
                f"from and to may be at most {MAX_RANGE_DAYS} days apart; "
                "ask for a longer period one year at a time."
            )
        if project_id is not None:
            await self._tree.visible_task(caller, project_id)  # 404 when not the caller's to see
        async with self.queue.turn():
            return await self._tables(
                caller, start, end, groupings, user_id, zone, project_id, projects_apart
            )

    async def _tables(
        self,
        caller: Caller,
        start: dt.datetime,
        end: dt.datetime,
        groupings: tuple[str, ...],
        user_id: str | None,
        zone: ZoneInfo,
        project_id: str | None,
        projects_apart: int | None,
    ) -> tuple[dict[str, list[Group]], int]:
        # (split by day only when a grouping needs it: it costs a time zone's reckoning)
        calendar = Calendar(start, end, zone) if {DAY, DAY_PROJECT} & set(groupings) else None
        tally = Tally(calendar)
        priced = await may_see_rates(self._tree, caller)
        known = _Known(
            caller,
            _Asked(frozenset(groupings), project_id),
            Pricer(self._tree, self._accounts, caller) if priced else None,
        )
        keys: _Keys = {}
        window = Millis.of(start), Millis.of(end), Millis.of(clock.now())
        only = known.only if project_id is not None else None
        async for rows in self._tracking.report_rows(caller, start, end, user_id):
            unknown = tally.add(rows, window, only)
            if unknown:  # (spans first seen in this batch: learnt, then added)
                await self._learn(unknown, known, tally, keys)
                tally.add(unknown, window, only)
            await asyncio.sleep(0)  # the other requests' turn
        if "user" in groupings:
            users = sorted({user for user, _, _ in tally.spans})
            known.names.users = await self._accounts.users_by_id(caller.account_id, users)

        tables: dict[str, dict[Any, Group]] = {}
        for grouping in sorted(groupings, key=lambda g: g in ROLLED_UP):
            source = ROLLED_UP.get(grouping)
            if source in tables:  # (fewer lines to add up: time by day from day and project)
                parts = tables[source].values()
                tables[grouping] = await self._rolled_up(grouping, parts, known.names, keys)
            elif grouping in (DAY, DAY_PROJECT):
                assert calendar is not None
                apart = projects_apart if grouping == DAY_PROJECT else None
                tables[grouping] = await _by_day(grouping, tally, calendar, keys, apart)
            else:
                tables[grouping] = await self._grouped(grouping, tally, known, keys)
        total = sum(line[0] for line in tally.spans.values())
        return {
            grouping: sorted(
                groups.values(),
                key=(lambda g: g.sort_key)
                if grouping in (DAY, DAY_PROJECT)
                else (lambda g: (-g.seconds, g.sort_key)),
            )
            for grouping, groups in tables.items()
        }, total

    async def _learn(self, rows: list[ReportRow], known: _Known, tally: Tally, keys: _Keys) -> None:
        """Reads what adding up these entries needs and was not read yet: their spans' rates
        (None: not billable, or not priced for the caller), and as the report asks, their
        tasks and the tasks' projects (from the tree index), and whether each task is under the
        project asked for."""
        spans = {(user, task, billable) for user, task, _, _, billable in rows}
        names, account_id, ask = known.names, known.caller.account_id, known.ask
        task_ids = sorted({task for _, task, _ in spans if task and task not in names.tasks})
        if task_ids and ask.tasks:
            found = await self._tree.indexed_tasks(account_id, task_ids)
            names.tasks |= found
            roots = {t["ancestors"][0] for t in found.values() if t["ancestors"]}
            roots -= names.projects.keys()
            if roots and ask.projects:
                names.projects |= await self._tree.indexed_tasks(account_id, sorted(roots))
            for task_id in task_ids:
                task = names.tasks.get(task_id)
                if ask.by_day_and_project:
                    project = self._known_key("project", "", task_id, task, names, keys)
                    known.day_projects[task_id] = project[0]
                if ask.project_id is not None:
                    known.only[task_id] = _under(task, ask.project_id)
        pricer = known.pricer
        if pricer is not None:
            await pricer.look_up({u for u, _, _ in spans}, {t for _, t, _ in spans})
        for span in spans:
            rate = pricer.rate(*span) if pricer is not None else None
            tally.learn(span, known.day_projects.get(span[1]), rate)

    async def _grouped(
        self, grouping: str, tally: Tally, known: _Known, keys: _Keys
    ) -> dict[Any, Group]:
        """The tally's spans added up by `grouping` (task, project or user; a group's key made
        once, when it starts), handing the loop back every `LINES_PER_STEP` spans."""
        names = known.names
        groups: dict[Any, Group] = {}
        by_ref: dict[str | None, Group] = {}  # (the group of each user or task, when first seen)
        for n, (span, line) in enumerate(tally.spans.items(), start=1):
            user, task_id, _ = span
            ref = user if grouping == "user" else task_id
            group = by_ref.get(ref)
            if group is None:
                task = names.tasks.get(task_id) if task_id else None
                group_id, key, sort_key = self._known_key(
                    grouping, user, task_id, task, names, keys
                )
                group = groups.get(group_id)
                if group is None:
                    group = groups[group_id] = Group(key=key, sort_key=sort_key)
                by_ref[ref] = group
            seconds, entries, _, rate, _ = line
            group.add(seconds, entries, rate)
            if n % LINES_PER_STEP == 0:
                await asyncio.sleep(0)
        return groups

    async def _rolled_up(
        self, grouping: str, parts: Iterable[Group], names: _Names, keys: _Keys
    ) -> dict[Any, Group]:
        """Groups by `grouping` made of the groups of its `ROLLED_UP` source: the time by day
        of the time by day and project, by project of the time by task."""
        groups: dict[Any, Group] = {}
        for n, part in enumerate(parts, start=1):
            if n % LINES_PER_STEP == 0:
                await asyncio.sleep(0)
            if grouping == DAY:  # (a day's key made once, for its first project)
                date = part.sort_key[0]
                group = groups.get(date)
                if group is None:
                    group = groups[date] = Group(key={"day": part.key["day"]}, sort_key=(date,))
            else:
                task_id = part.key["task_id"]
                task = names.tasks.get(task_id) if task_id else None
                group_id, key, sort_key = self._known_key(grouping, "", task_id, task, names, keys)
                group = groups.get(group_id)
                if group is None:
                    group = groups[group_id] = Group(key=key, sort_key=sort_key)
            group.merge(part)
        return groups

    def _known_key(
        self,
        grouping: str,
        user_id: str,
        task_id: str | None,
        task: Mapping[str, Any] | None,
        names: _Names,
        keys: _Keys,
    ) -> tuple[str | None, dict[str, Any], tuple[Any, ...]]:
        """`_key`, made once per user (grouping by user), project or task in a report."""
        ref = (grouping, user_id if grouping == "user" else task_id)
        found = keys.get(ref)
        if found is None:
            if grouping == "project" and task is not None:  # (its tasks share a project's)
                ancestors = task["ancestors"]
                root = ancestors[0] if ancestors and ancestors[0] in names.projects else task["_id"]
                found = keys.get(("project of", root))
                if found is None:
                    found = keys[("project of", root)] = self._key(grouping, user_id, task, names)
            else:
                found = self._key(grouping, user_id, task, names)
            keys[ref] = found
        return found

    async def pricing(self, caller: Caller) -> Pricing | None:
        """How the caller's reports show amounts: None for callers who may not see rates."""
        if not await may_see_rates(self._tree, caller):
            return None
        return Pricing(currency=await self._account_settings.currency(caller.account_id))

    @staticmethod
    def no_task_key(group_by: str) -> tuple[None, dict[str, Any], tuple[Any, ...]]:
        """The group of time on no task (or on one no longer found)."""
        if group_by == "task":
            return None, {"task_id": None, "name": None, "path": [], "archived": False}, ("\uffff",)
        return None, {"project_id": None, "name": None, "archived": False}, ("\uffff",)

    @staticmethod
    def _key(
        group_by: str, user_id: str, task: Mapping[str, Any] | None, names: _Names
    ) -> tuple[str | None, dict[str, Any], tuple[Any, ...]]:
        if group_by == "user":
            user = names.users.get(user_id)
            return (
                user_id,
                {
                    "user_id": user_id,
                    "name": user["name"] if user else None,
                    "email": user["email"] if user else None,
                },
                (user["email"] if user else "",),
            )
        if task is None:
            return Reports.no_task_key(group_by)
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
        # (each field read once: a task of the tree index reads its fields through a call)
        task_id, name, path = task["_id"], task["name"], task["path"]
        return (
            task_id,
            {"task_id": task_id, "name": name, "path": list(path), "archived": task["archived"]},
            (*map(str.casefold, path), name.casefold()),
        )


def _wall_clock(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """`moment` as a clock in `zone` reads it."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _under(task: Mapping[str, Any] | None, project_id: str) -> bool:
    """Whether the task is the project or one of the tasks under it."""
    return task is not None and (task["_id"] == project_id or project_id in task["ancestors"])


async def _by_day(
    grouping: str, tally: Tally, calendar: Calendar, keys: _Keys, apart: int | None
) -> dict[Any, Group]:
    """The tally's time by day (`DAY`) or by day and project (`DAY_PROJECT`: with `apart`,
    the projects beyond that many, by time, as one `OTHERS` group a day)."""
    projects = {key[0]: key for ref, key in keys.items() if ref[0] == "project"}
    no_project = Reports.no_task_key("project")
    kept: set[str | None] | None = None
    if apart is not None:
        totals = {
            project_id: sum(cell[0] for cell in cells if cell is not None)
            for project_id, cells in tally.days.items()
        }
        ranked = sorted(totals, key=lambda p: (-totals[p], (projects.get(p) or no_project)[2]))
        kept = set(ranked[:apart])
    # Each project's days added into its group's: its own (kept apart), `OTHERS`, or by day
    # alone every project's into one; then a group per day with time.
    merged: dict[str | None, tuple[_Key, Cells]] = {}
    n = 0
    for project_id, cells in tally.days.items():
        project: _Key = no_project
        if grouping == DAY_PROJECT:
            kept_apart = kept is None or project_id in kept
            project = (projects.get(project_id) or no_project) if kept_apart else OTHERS
        into = merged.get(project[0])
        if into is None:
            into = merged[project[0]] = (project, [None] * len(cells))
        days = into[1]
        for day, cell in enumerate(cells):
            if cell is None:
                continue
            n += 1
            if n % LINES_PER_STEP == 0:
                await asyncio.sleep(0)
            sums = days[day]
            if sums is None:
                days[day] = cell.copy()  # (the tally's own cells stay as they are)
            else:
                sums[0] += cell[0]
                sums[1] += cell[1]
                sums[2] += cell[2]
                sums[3] += cell[3]
    groups: dict[Any, Group] = {}
    for project, days in merged.values():
        for day, sums in enumerate(days):
            if sums is None:
                continue
            date = calendar.days[day]
            key, sort_key = {"day": calendar.names[day]}, (date,)
            if grouping == DAY_PROJECT:
                key, sort_key = key | project[1], (date, *project[2])
            seconds, entries, billable, cents = sums
            groups[(day, project[0])] = Group(
                key, seconds, entries, sort_key, billable_seconds=billable, cent_seconds=cents
            )
    return groups


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
