"""The account's tracked time over a month, per project, task, user or day (a bar per day).

Months are the account's: the tab starts on the month it is now in the account's time zone (as
the web's Reports and the API count days), whatever the date is where the console runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from ..api import ApiError, Grouping, Summary, SummaryItem
from ..widgets.fitted_table import Bar, Cell, Column, FittedTable, Row
from .pane import Pane, reports_failures

GROUPINGS: tuple[Grouping, ...] = ("project", "task", "user", "day")
NO_TASK = "(no task)"
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def month_of(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def this_month(now: dt.datetime, time_zone: str) -> dt.date:
    """The first day of the month `now` is in, in the account's time zone. A zone this machine
    does not know is taken as UTC (the accounts' default)."""
    try:
        zone: dt.tzinfo = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return month_of(now.astimezone(zone).date())


def shift(month: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after `month` (before it when negative)."""
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def hours(seconds: int) -> str:
    """Seconds as h:mm ("7:05"), as the web pages show them."""
    minutes = seconds // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def label(grouping: Grouping, key: dict[str, Any]) -> list[str]:
    """A group's first cells: what its time was spent on (a task with the path above it), by
    whom, or when. Time on no task, or on a task since deleted, reads "(no task)"."""
    if grouping == "user":
        return [str(key.get("name") or "(unknown)"), str(key.get("email") or "")]
    if grouping == "day":
        return [dt.date.fromisoformat(key["day"]).strftime("%a %Y-%m-%d")]
    if not key.get("name"):
        return [NO_TASK]
    if grouping == "task":
        return [" / ".join([*key.get("path", []), key["name"]])]
    return [key["name"]]


def columns(grouping: Grouping, currency: str | None) -> tuple[Column, ...]:
    first = {
        "project": (Column("Project", flexible=True),),
        "task": (Column("Task", flexible=True),),
        "user": (Column("Name", flexible=True), Column("Email", flexible=True)),
        "day": (Column("Day"),),
    }[grouping]
    amount = (Column(f"Amount {currency}"),) if currency else ()
    bar = (Column("Time"),) if grouping == "day" else ()
    return (*first, Column("Hours"), Column("Entries"), *amount, *bar)


def rows(grouping: Grouping, summary: Summary) -> list[Row]:
    priced = "currency" in summary
    longest = max((item["seconds"] for item in summary["items"]), default=0)

    def cells(item: SummaryItem) -> Sequence[Cell]:
        shown: list[Cell] = [*label(grouping, item["key"]), hours(item["seconds"])]
        shown.append(str(item["entries"]))
        if priced:
            shown.append(item.get("amount", ""))
        if grouping == "day":
            shown.append(Bar(item["seconds"] / longest if longest else 0.0))
        return shown

    return [(str(n), cells(item)) for n, item in enumerate(summary["items"])]


def totals(summary: Summary) -> str:
    entries = sum(item["entries"] for item in summary["items"])
    noun = "entry" if entries == 1 else "entries"
    line = f"{hours(summary['total_seconds'])} h in {entries} {noun}"
    if "currency" in summary:
        line += f", {summary.get('total_amount', '0.00')} {summary['currency']} billable"
    return line


class ReportsPane(Pane):
    BINDINGS = [
        Binding("p", "month(-1)", "Previous month"),
        Binding("n", "month(1)", "Next month"),
        Binding("g", "group", "Group by"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, id: str | None = None, clock: Clock = utc_now) -> None:
        super().__init__(id=id)
        self.clock = clock
        # None until the first load has read the account's time zone: then this month there.
        self.month: dt.date | None = None
        self.grouping: Grouping = GROUPINGS[0]

    def compose(self) -> ComposeResult:
        yield Static("", id="reports-title")
        yield FittedTable(*columns(self.grouping, None), id="report")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#report", FittedTable)

    @property
    def title(self) -> Static:
        return self.query_one("#reports-title", Static)

    def focus_first(self) -> None:
        self.table.focus()

    def heading(self) -> str:
        month = "This month" if self.month is None else self.month.strftime("%B %Y")
        return f"{month}, by {self.grouping}"

    def reload(self) -> None:
        self.title.update(f"{self.heading()}: loading…")
        self.load()

    def action_month(self, months: int) -> None:
        if self.month is None:
            return  # (not known yet: the first load is still reading the time zone)
        self.month = shift(self.month, months)
        self.reload()

    def action_group(self) -> None:
        self.grouping = GROUPINGS[(GROUPINGS.index(self.grouping) + 1) % len(GROUPINGS)]
        self.reload()

    @work(exclusive=True, group="reports")
    @reports_failures
    async def load(self) -> None:
        if self.month is None:
            self.month = this_month(self.clock(), (await self.api.account())["time_zone"])
        month, grouping = self.month, self.grouping
        summary = await self.api.summary(month, shift(month, 1), grouping)
        self.show(grouping, summary)

    def show(self, grouping: Grouping, summary: Summary) -> None:
        self.title.update(f"{self.heading()}: {totals(summary)}")
        self.table.spec = columns(grouping, summary.get("currency"))
        self.table.fill(rows(grouping, summary))

    def failed(self, error: ApiError) -> None:
        """The table is emptied (its numbers were another range's) and the title says why;
        the error shows as every tab shows one."""
        then = f" Press r to try again in {error.retry_after} s." if error.retry_after else ""
        self.title.update(f"{self.heading()}: not loaded. {error.message}{then}")
        self.table.fill([])
        super().failed(error)
