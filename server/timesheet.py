"""A week's timesheet: days (Monday first) by tasks, with the totals of each day and each task.

Pure: it is given the week's entries and their tasks, and the time zone whose midnights divide
the days. An entry counts on the day it starts (as the entries list filters by start); a running
one counts up to now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from .store import Doc
from .tracking import duration

DAYS = 7


@dataclass(frozen=True)
class Week:
    monday: dt.date
    zone: ZoneInfo

    @classmethod
    def containing(cls, day: dt.date, zone: ZoneInfo) -> Week:
        return cls(day - dt.timedelta(days=day.weekday()), zone)

    @classmethod
    def of_instant(cls, instant: dt.datetime, zone: ZoneInfo) -> Week:
        return cls.containing(instant.astimezone(zone).date(), zone)

    @property
    def days(self) -> list[dt.date]:
        return [self.monday + dt.timedelta(days=i) for i in range(DAYS)]

    @property
    def previous(self) -> Week:
        return Week(self.monday - dt.timedelta(days=DAYS), self.zone)

    @property
    def next(self) -> Week:
        return Week(self.monday + dt.timedelta(days=DAYS), self.zone)

    def midnight(self, day: dt.date) -> dt.datetime:
        """Where `day` begins, in UTC (a zone's midnight may move with daylight saving time)."""
        return dt.datetime.combine(day, dt.time(), self.zone).astimezone(dt.UTC)

    @property
    def start(self) -> dt.datetime:
        return self.midnight(self.monday)

    @property
    def end(self) -> dt.datetime:
        return self.midnight(self.monday + dt.timedelta(days=DAYS))

    def day_of(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.zone).date()


@dataclass(frozen=True)
class Row:
    task_id: str | None
    label: str
    seconds: list[int]  # one per day of the week

    @property
    def total(self) -> int:
        return sum(self.seconds)


@dataclass(frozen=True)
class Timesheet:
    week: Week
    rows: list[Row]

    @property
    def day_totals(self) -> list[int]:
        return [sum(row.seconds[i] for row in self.rows) for i in range(DAYS)]

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)


NO_TASK = "(no task)"


def task_label(task: Mapping[str, Any] | None) -> str:
    """A task with its path: "Website relaunch / Design mockups"."""
    if task is None:
        return NO_TASK
    return " / ".join([*task["path"], task["name"]])


def build(
    week: Week, entries: Iterable[Doc], tasks: Mapping[str, Mapping[str, Any]], now: dt.datetime
) -> Timesheet:
    """The timesheet of `entries` (those starting in `week`), one row per task, by label."""
    rows: dict[str | None, list[int]] = {}
    for entry in entries:
        index = (week.day_of(entry["start"]) - week.monday).days
        if not 0 <= index < DAYS:
            continue
        row = rows.setdefault(entry["task_id"], [0] * DAYS)
        row[index] += duration(entry, now)
    labelled = [
        Row(task_id, task_label(tasks.get(task_id) if task_id else None), days)
        for task_id, days in rows.items()
    ]
    return Timesheet(week, sorted(labelled, key=lambda r: (r.task_id is None, r.label.lower())))


def hours(total: int) -> str:
    """Seconds as h:mm ("7:05"); nothing for none."""
    if total <= 0:
        return ""
    minutes = total // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def hours_or_zero(total: int) -> str:
    """Seconds as h:mm, "0:00" for none (where a figure must show)."""
    return hours(total) or "0:00"
