"""`/reports`: time by project, task, user and day over a range of days, with charts (SVG, drawn
on the server by `charts`), the numbers as tables and each table as CSV.

The numbers are the API's reports' (`server.reports`, one pass for every table, taking its turn
in the report queue), so they see what the API lets the caller see: administrators, the whole
account; managers, their projects; everyone, their own time. Amounts (billable time priced in
the account's currency) show for the callers the API shows them to, on the page and in the CSV.
Asking for someone else's time
without the right is 403, for a project one cannot see 404, as on the API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from .. import clock, rates, reports
from ..errors import InvalidRequestError
from ..ids import parse_id
from ..paging import Page
from ..reports import DAY, DAY_PROJECT, GROUPINGS, Group
from ..routes.reports import stream_csv
from ..timesheet import NO_TASK, hours, hours_or_zero
from ..tree import MANAGER
from . import charts
from .pages import Pages, Visit

pages = Pages()

REPORTS = "/reports"
CSV = f"{REPORTS}/summary.csv"
# People offered in the user filter (administrators: the account's first this many by email).
USER_CHOICES = 200
PROJECT_CHOICES = 200
# Tasks listed on the page, the most time first; the rest are one row (and all are in the CSV).
TASK_ROWS = 100
# A day's bar stacks the projects that have a colour; the others are one piece, "Other projects".
OTHER_PROJECTS = charts.Slice("other-projects", "Other projects", 0)
# Only links to a record at Salesforce are shown as links.
RECORD_URL_START = "https://"


@dataclass(frozen=True)
class Asked:
    """The range and filters of a report as the form sends them: days `first` to `last`
    (both included) in the account's time zone."""

    first: dt.date
    last: dt.date
    zone: ZoneInfo
    project_id: str | None
    user_id: str | None

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), self.zone).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        after = self.last + dt.timedelta(days=1)
        return dt.datetime.combine(after, dt.time(), self.zone).astimezone(dt.UTC)

    def query(self, **more: str) -> str:
        """The query string that asks for this report again (with `more`)."""
        params = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.project_id:
            params["project"] = self.project_id
        if self.user_id:
            params["user"] = self.user_id
        return urlencode({**params, **more})


def _day(raw: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidRequestError(f"{field} must be a day such as 2026-01-31.") from None


def _asked(query: Mapping[str, str], zone: ZoneInfo) -> Asked:
    """The report asked for; by default this month (in the account's time zone)."""
    today = clock.now().astimezone(zone).date()
    month = today.replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    first = _day(query["from"], "from") if query.get("from") else month
    last = _day(query["to"], "to") if query.get("to") else next_month - dt.timedelta(days=1)
    if last < first:
        raise InvalidRequestError("to must not be before from.")
    project = query.get("project") or None
    user = query.get("user") or None
    return Asked(
        first,
        last,
        zone,
        parse_id(project, "project") if project else None,
        parse_id(user, "user") if user else None,
    )


async def _zone(visit: Visit) -> ZoneInfo:
    return await visit.services.account_settings.time_zone(visit.caller.account_id)


@dataclass(frozen=True)
class Row:
    label: str
    seconds: int
    share: str
    colour: str | None = None  # the project's colour in the charts
    url: str | None = None  # the task's record at Salesforce
    detail: str = ""
    # Minor units of the account's currency; shown only to callers the API shows amounts to
    # (`Reports.pricing`). A table's total is the sum of its rows, as the API's `total_amount`.
    amount: int = 0

    # (read as attributes by the template: cheaper than a call from it, for hundreds of rows)
    @property
    def shown_hours(self) -> str:
        return hours_or_zero(self.seconds)

    @property
    def shown_amount(self) -> str | None:
        return rates.format_money(self.amount)


async def _choices(visit: Visit) -> tuple[list[tuple[str, str]], list[tuple[str, str]] | None]:
    """The projects (top-level tasks the caller can see) and, for those who may see others'
    time, the people to filter by (None: only one's own time, no choice)."""
    services, caller = visit.services, visit.caller
    roots, _ = await services.tree.search(
        caller, None, True, False, Page(0, PROJECT_CHOICES), roots=True
    )
    projects = [(view["id"], view["name"]) for view in roots]
    if caller.is_admin:
        users, _ = await services.accounts.list_users(caller, Page(0, USER_CHOICES))
        return projects, [(u["_id"], u["name"] or u["email"]) for u in users]
    assignments = await services.tree.assignments(caller)
    if MANAGER in assignments.roles.values():
        return projects, []  # filled from the report's own people
    return projects, None


def _slice(group: Group) -> charts.Slice:
    """A project's time (in a "project" or "day_project" group)."""
    return charts.Slice(group.key["project_id"], group.key["name"] or NO_TASK, group.seconds)


@dataclass(frozen=True)
class Shown:
    """What the page shows of a report: the charts' numbers and the four tables."""

    projects: list[charts.Slice]
    per_day: dict[dt.date, list[charts.Slice]]
    palette: dict[str | None, str]
    project_rows: list[Row]
    task_rows: list[Row]
    user_rows: list[Row]
    day_rows: list[Row]
    people: list[tuple[str, str]]  # (user id, name) of the users with time


async def _shown(visit: Visit, tables: dict[str, list[Group]], total: int) -> Shown:
    """The tables and charts the page shows, from the report's groups."""
    projects = [_slice(g) for g in tables["project"]]
    palette = charts.colours(projects)
    per_day = _stacked(tables[DAY_PROJECT], projects, palette)
    listed, more = tables["task"][:TASK_ROWS], tables["task"][TASK_ROWS:]
    task_ids = [g.key["task_id"] for g in listed if g.key["task_id"]]
    tasks = await visit.services.tree.indexed_tasks(visit.caller.account_id, task_ids)

    def record_url(task_id: str | None) -> str | None:
        source = tasks[task_id].get("source") if task_id in tasks else None
        url = source.get("url") if source else None
        return url if isinstance(url, str) and url.startswith(RECORD_URL_START) else None

    def share(seconds: int) -> str:
        return charts.share(seconds, total)

    return Shown(
        projects=projects,
        per_day=per_day,
        palette=palette,
        project_rows=[
            Row(s.label, s.seconds, share(s.seconds), palette.get(s.key), amount=g.amount)
            for s, g in zip(projects, tables["project"], strict=True)
        ],
        task_rows=[
            Row(
                g.key["name"] or NO_TASK,
                g.seconds,
                share(g.seconds),
                url=record_url(g.key["task_id"]),
                detail=" / ".join(g.key["path"]),
                amount=g.amount,
            )
            for g in listed
        ]
        + _more_tasks(more, total),
        user_rows=[
            Row(
                g.key["name"] or g.key["email"] or "(unknown)",
                g.seconds,
                share(g.seconds),
                amount=g.amount,
            )
            for g in tables["user"]
        ],
        people=[(g.key["user_id"], g.key["name"] or g.key["email"]) for g in tables["user"]],
        day_rows=[
            Row(
                dt.date.fromisoformat(g.key["day"]).strftime("%a %-d %b %Y"),
                g.seconds,
                share(g.seconds),
                amount=g.amount,
            )
            for g in tables[DAY]
        ],
    )


def _stacked(
    groups: list[Group], projects: list[charts.Slice], palette: dict[str | None, str]
) -> dict[dt.date, list[charts.Slice]]:
    """Each day's pieces (from the groups by day and project) as the legend lists the projects
    (the most time first), the projects without a colour of their own as one piece on top."""
    order = {s.key: i for i, s in enumerate(projects)}
    coloured: dict[dt.date, list[charts.Slice]] = {}
    rest: dict[dt.date, int] = {}
    for g in groups:
        day = g.sort_key[0]  # (a group by day and project is sorted by its date first)
        if g.key.get("others") or palette.get(g.key["project_id"], charts.OTHER) == charts.OTHER:
            rest[day] = rest.get(day, 0) + g.seconds
        else:
            coloured.setdefault(day, []).append(_slice(g))
    per_day = {}
    for day in sorted(coloured.keys() | rest.keys()):
        slices = sorted(coloured.get(day, []), key=lambda s: order.get(s.key, len(order)))
        if rest.get(day):
            slices.append(charts.Slice(OTHER_PROJECTS.key, OTHER_PROJECTS.label, rest[day]))
        per_day[day] = slices
    return per_day


def _more_tasks(more: list[Group], total: int) -> list[Row]:
    """The tasks past the page's list, as one row."""
    if not more:
        return []
    seconds = sum(g.seconds for g in more)
    label = f"{len(more):,} more tasks (in the CSV)"
    amount = reports.total_amount(more)
    return [Row(label, seconds, charts.share(seconds, total), amount=amount)]


@pages.get(REPORTS)
async def reports_page(visit: Visit) -> web.StreamResponse:
    zone = await _zone(visit)
    projects, users = await _choices(visit)
    try:
        asked = _asked(visit.request.query, zone)
        tables, total = await visit.services.reports.tables(
            visit.caller,
            asked.start,
            asked.end,
            (*GROUPINGS, DAY_PROJECT),
            asked.user_id,
            zone=zone,
            project_id=asked.project_id,
            projects_apart=charts.COLOURS,  # (the chart's colours: the other projects share one)
        )
    except InvalidRequestError as error:
        return await visit.render(
            "reports.html",
            {
                "error": error.message,
                "asked": None,
                "query": visit.request.query,
                "projects": projects,
                "users": users,
                "zone": str(zone),
            },
            error.status,
        )
    shown = await _shown(visit, tables, total)
    pricing = await visit.services.reports.pricing(visit.caller)
    if users == []:  # a manager: the people with time in the report
        users = shown.people
    title = f"Hours per day, {asked.first:%-d %b %Y} to {asked.last:%-d %b %Y}"
    return await visit.render(
        "reports.html",
        {
            "shown": shown,
            "error": None,
            "asked": asked,
            "query": visit.request.query,
            "projects": projects,
            "users": users,
            "zone": str(zone),
            "total": total,
            "hours": hours,
            "pricing": pricing,
            "money": rates.format_money,
            "csv": lambda group_by: f"{CSV}?{asked.query(group_by=group_by)}",
            "bars": charts.day_bars(asked.first, asked.days, shown.per_day, shown.palette, title),
            "share_bar": charts.share_bar(
                shown.projects, shown.palette, "Share of the time per project"
            ),
        },
    )


@pages.get(CSV)
async def reports_csv(visit: Visit) -> web.StreamResponse:
    """One of the page's tables as the API's CSV (`GET /api/v1/reports/summary?format=csv`),
    with its amount columns for those the API shows amounts to."""
    asked = _asked(visit.request.query, await _zone(visit))
    group_by = visit.request.query.get("group_by", "project")
    if group_by not in GROUPINGS:
        raise InvalidRequestError(f"group_by must be one of: {', '.join(GROUPINGS)}.")
    items, total = await visit.services.reports.summary(
        visit.caller,
        asked.start,
        asked.end,
        group_by,
        asked.user_id,
        zone=asked.zone,
        project_id=asked.project_id,
    )
    pricing = await visit.services.reports.pricing(visit.caller)
    filename = f"timetrail-{group_by}-{asked.first.isoformat()}-{asked.last.isoformat()}.csv"
    chunks = reports.csv_chunks(group_by, items, total, pricing)
    return await stream_csv(visit.request, chunks, filename)
