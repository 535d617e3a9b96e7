"""The week's timesheet: Monday-first days cut at the time zone's midnights, a row per task."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from server import timesheet
from server.timesheet import Week

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)


def _entry(task_id: str | None, start: str, end: str | None) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "start": dt.datetime.fromisoformat(start),
        "end": dt.datetime.fromisoformat(end) if end else None,
    }


def test_a_week_starts_on_monday_at_the_zones_midnight() -> None:
    week = Week.containing(dt.date(2026, 4, 2), BERLIN)  # a Thursday
    assert week.monday == dt.date(2026, 3, 30)
    assert week.start == dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC)  # summer time: UTC+2
    assert Week.containing(dt.date(2026, 3, 27), BERLIN).start == dt.datetime(
        2026, 3, 22, 23, tzinfo=dt.UTC
    )  # the week before, still winter time
    assert week.previous.monday == dt.date(2026, 3, 23)
    assert week.next.monday == dt.date(2026, 4, 6)


def test_entries_count_on_the_day_they_start_in_the_zone() -> None:
    week = Week.containing(dt.date(2026, 3, 30), BERLIN)
    tasks = {"t1": {"name": "Design", "path": ["Website"]}}
    entries = [
        # 23:30 UTC on Monday is 01:30 on Tuesday in Berlin
        _entry("t1", "2026-03-30T23:30:00+00:00", "2026-03-31T00:30:00+00:00"),
        _entry("t1", "2026-03-30T08:00:00+00:00", "2026-03-30T08:30:00+00:00"),
        _entry(None, "2026-03-31T11:00:00+00:00", None),  # running: up to now
    ]
    sheet = timesheet.build(week, entries, tasks, NOW)
    design, no_task = sheet.rows
    assert design.label == "Website / Design"
    assert design.seconds == [1800, 3600, 0, 0, 0, 0, 0] and design.total == 5400
    assert no_task.label == "(no task)" and no_task.seconds[1] == 3600
    assert sheet.day_totals == [1800, 7200, 0, 0, 0, 0, 0] and sheet.total == 9000


def test_hours_read_as_hours_and_minutes() -> None:
    assert timesheet.hours(0) == ""
    assert timesheet.hours(59) == "0:00"
    assert timesheet.hours(5 * 3600 + 7 * 60 + 30) == "5:07"
    assert timesheet.hours(27 * 3600) == "27:00"
