"""Summary reports: totals per task, project and user, as JSON and CSV."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import Api, World

from server import clock, reports, tracking
from server.clock import parse_time
from server.ids import new_id
from server.report_queue import ReportQueue
from server.store import Millis


async def _entry(api: Api, task_id: str | None, start: str, seconds: int) -> None:
    r = await api.post("/api/v1/entries", {"task_id": task_id, "start": start, "duration": seconds})
    assert r.status == 201, r.body


async def _setup(world: World) -> tuple[Api, dict[str, str]]:
    web = await world.admin.create_task("Website")
    design = await world.admin.create_task("Design", web["id"])
    build = await world.admin.create_task("Build", web["id"])
    ops = await world.admin.create_task("Operations")
    bob = await world.admin.add_user("bob@acme.test", name="Bob")
    await world.admin.assign(web["id"], bob, "regular")
    await _entry(world.admin, design["id"], "2026-06-01T09:00:00Z", 3600)
    await _entry(world.admin, ops["id"], "2026-06-01T11:00:00Z", 1800)
    await _entry(bob, build["id"], "2026-06-02T09:00:00Z", 7200)
    await _entry(bob, design["id"], "2026-06-03T09:00:00Z", 600)
    await _entry(bob, None, "2026-06-03T12:00:00Z", 60)
    return bob, {"web": web["id"], "design": design["id"], "build": build["id"], "ops": ops["id"]}


RANGE = {"from": "2026-06-01", "to": "2026-07-01"}


async def test_summary_by_task(world: World) -> None:
    _, ids = await _setup(world)
    r = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="task")
    assert r.status == 200
    seconds = {(i["key"]["task_id"]): i["seconds"] for i in r.body["items"]}
    assert seconds == {ids["build"]: 7200, ids["design"]: 4200, ids["ops"]: 1800, None: 60}
    assert r.body["total_seconds"] == 7200 + 4200 + 1800 + 60
    assert r.body["items"][0]["key"]["path"] == ["Website"]


async def test_summary_by_project_and_by_user(world: World) -> None:
    await _setup(world)
    by_project = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="project")
    totals = {i["key"]["name"]: i["seconds"] for i in by_project.body["items"]}
    assert totals == {"Website": 11400, "Operations": 1800, None: 60}
    by_user = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="user")
    per_user = {i["key"]["email"]: (i["seconds"], i["entries"]) for i in by_user.body["items"]}
    assert per_user == {"bob@acme.test": (7860, 3), "admin@acme.test": (5400, 2)}


async def test_a_regular_user_sees_only_their_own_time(world: World) -> None:
    bob, _ = await _setup(world)
    r = await bob.get("/api/v1/reports/summary", **RANGE, group_by="user")
    assert [i["key"]["email"] for i in r.body["items"]] == ["bob@acme.test"]
    assert r.body["total_seconds"] == 7860


async def test_entries_crossing_the_range_count_in_part(world: World) -> None:
    await _entry(world.admin, None, "2026-06-30T23:00:00Z", 7200)
    r = await world.admin.get("/api/v1/reports/summary", **RANGE)
    assert r.body["total_seconds"] == 3600


async def test_csv_report(world: World) -> None:
    await _setup(world)
    r = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="project", format="csv")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.body)))
    assert rows[0][:6] == ["project_id", "project", "archived", "seconds", "hours", "entries"]
    assert rows[1][1:6] == ["Website", "false", "11400", "3.17", "3"]
    assert rows[-1][0] == "total" and rows[-1][3] == "13260"


async def test_range_must_be_ordered(world: World) -> None:
    r = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-07-01", "to": "2026-06-01"}
    )
    assert (r.status, r.code) == (400, "invalid_request")


async def test_a_range_longer_than_a_year_is_refused(world: World) -> None:
    too_long = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2025-01-01", "to": "2026-01-03"}
    )
    assert (too_long.status, too_long.code) == (400, "invalid_request")
    assert "at most 366 days" in too_long.body["error"]["message"]
    leap_year = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2024-01-01", "to": "2025-01-01"}
    )
    assert leap_year.status == 200


async def test_a_timer_that_ran_past_midnight_counts_on_each_day(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = parse_time("2026-06-06T08:00:00Z", "")
    monkeypatch.setattr(clock, "now", lambda: at)  # a timer starts at most 24 hours ago
    await world.admin.post("/api/v1/timer/start", {"started_at": "2026-06-05T21:00:00Z"})
    await world.admin.post("/api/v1/timer/stop", {"stopped_at": "2026-06-06T07:00:00Z"})
    saturday = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-06-06", "to": "2026-06-07"}
    )
    assert saturday.body["total_seconds"] == 7 * 3600


async def test_a_running_timer_counts_up_to_now(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = parse_time("2026-03-01T10:00:00Z", "")
    monkeypatch.setattr(clock, "now", lambda: at)
    await world.admin.post("/api/v1/timer/start", {"started_at": "2026-03-01T02:00:00Z"})
    r = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-03-01", "to": "2026-03-02"}
    )
    assert r.body["total_seconds"] == 8 * 3600


async def test_csv_cells_that_a_spreadsheet_would_run_are_plain_text(world: World) -> None:
    """Names are people's text: `=HYPERLINK(…)` as a task name must not become a formula in
    the manager's spreadsheet (CSV injection)."""
    formula = await world.admin.create_task('=HYPERLINK("https://evil.example","x")')
    dash = await world.admin.create_task("-1+2")
    plain = await world.admin.create_task("Ordinary - name")
    for task in (formula, dash, plain):
        await _entry(world.admin, task["id"], "2026-06-01T09:00:00Z", 60)
    r = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="task", format="csv")
    names = {row[2] for row in csv.reader(io.StringIO(r.body))}
    assert '\'=HYPERLINK("https://evil.example","x")' in names
    assert "'-1+2" in names
    assert "Ordinary - name" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)


async def _many_entries(world: World, count: int) -> tuple[int, dict[str, int]]:
    """`count` entries of the administrator and of Bob on three tasks, many of them starting
    at the very same instant; returns the total seconds and the seconds per task name."""
    tasks = [await world.admin.create_task(name) for name in ("Alpha", "Beta", "Gamma")]
    bob = await world.admin.add_user("bob@acme.test", name="Bob")
    me = await world.admin.get("/api/v1/me")
    account_id = me.body["account"]["id"]
    start = parse_time("2026-06-01T08:00:00Z", "")
    docs, per_task = [], {t["name"]: 0 for t in tasks}
    for i in range(count):
        task = tasks[i % 3]
        seconds = 60 * (1 + i % 7)
        begins = start + dt.timedelta(hours=i // 10)  # ten entries share each start
        docs.append(
            {
                "_id": new_id(),
                "account_id": account_id,
                "user_id": (world.admin if i % 2 else bob).id,
                "task_id": task["id"],
                "start": begins,
                "end": begins + dt.timedelta(seconds=seconds),
                "note": "",
                "source": "api",
                "created_at": begins,
            }
        )
        per_task[task["name"]] += seconds
    await world.services.store.entries.insert_many(docs)
    return sum(per_task.values()), per_task


async def test_reports_over_many_entries_count_each_once(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in small batches (many sharing one start instant), every entry counts exactly once,
    on every backend, in JSON and in CSV."""
    monkeypatch.setattr(tracking, "REPORT_BATCH", 7)
    total, per_task = await _many_entries(any_world, 400)
    r = await any_world.admin.get("/api/v1/reports/summary", **RANGE, group_by="task")
    assert r.body["total_seconds"] == total
    assert {i["key"]["name"]: i["seconds"] for i in r.body["items"]} == per_task
    assert sum(i["entries"] for i in r.body["items"]) == 400
    by_user = await any_world.admin.get("/api/v1/reports/summary", **RANGE, group_by="user")
    assert [i["entries"] for i in by_user.body["items"]] == [200, 200]
    as_csv = await any_world.admin.get(
        "/api/v1/reports/summary", **RANGE, group_by="task", format="csv"
    )
    rows = list(csv.reader(io.StringIO(as_csv.body)))
    assert {row[2]: int(row[4]) for row in rows[1:-1]} == per_task
    assert rows[-1][4:7] == [str(total), f"{total / 3600:.2f}", "400"]


async def test_csv_is_streamed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CSV goes out in chunks as it is written, not as one body built in memory first."""
    monkeypatch.setattr(reports, "CSV_ROWS_PER_CHUNK", 2)
    await _setup(world)
    r = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="task", format="csv")
    assert r.status == 200
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in r.headers
    assert r.headers["Content-Disposition"] == 'attachment; filename="timetrail-summary.csv"'
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert len(list(csv.reader(io.StringIO(r.body)))) == 1 + 4 + 1


async def test_other_requests_are_answered_while_a_report_runs(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report over many entries hands the loop back as it goes: a timer read sent after the
    report started is answered before the report is (no clock involved: the order of answers)."""
    monkeypatch.setattr(tracking, "REPORT_BATCH", 5)
    await _many_entries(any_world, 600)
    answered: list[str] = []

    async def ask(name: str, path: str, **params: str) -> None:
        r = await any_world.admin.get(path, **params)
        assert r.status == 200, r.body
        answered.append(name)

    reading = asyncio.Event()
    entries = any_world.services.store.entries
    for method in ("find", "batches", "rows"):  # however the report reads them
        if hasattr(entries, method):
            monkeypatch.setattr(entries, method, _noting(getattr(entries, method), reading))
    report = asyncio.create_task(ask("report", "/api/v1/reports/summary", **RANGE))
    await reading.wait()  # the report has begun reading entries
    await ask("timer", "/api/v1/timer")
    await report
    assert answered == ["timer", "report"]


def _noting(method: Callable[..., Any], called: asyncio.Event) -> Callable[..., Any]:
    def noted(*args: Any, **kwargs: Any) -> Any:
        called.set()
        return method(*args, **kwargs)

    return noted


async def test_reports_take_turns_and_too_many_waiting_are_refused(world: World) -> None:
    """While a report runs, the next waits its turn; past the waiting room, 429 + Retry-After."""
    await _setup(world)
    queue = world.services.reports.queue = ReportQueue(at_once=1, waiting=1, retry_after=7)
    async with queue.turn():  # a report running
        waiting = asyncio.create_task(world.admin.get("/api/v1/reports/summary", **RANGE))
        # A turn of the loop at a time until the request waits (the queue offers no event).
        while queue.waiting == 0:  # noqa: ASYNC110
            await asyncio.sleep(0)
        refused = await world.admin.get("/api/v1/reports/summary", **RANGE)
        assert (refused.status, refused.code) == (429, "too_many_requests")
        assert refused.headers["Retry-After"] == "7"
        assert not waiting.done()
    answered = await waiting
    assert (answered.status, answered.body["total_seconds"]) == (200, 13260)


async def test_a_bare_date_is_midnight_in_the_accounts_time_zone(world: World) -> None:
    """Berlin's 2 June begins at 22:00 UTC on 1 June: an hour from 22:30 UTC is 2 June's."""
    r = await world.admin.patch("/api/v1/account", {"time_zone": "Europe/Berlin"})
    assert r.status == 200, r.body
    await _entry(world.admin, None, "2026-06-01T22:30:00Z", 3600)
    june_2 = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-06-02", "to": "2026-06-03"}
    )
    june_1 = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-06-01", "to": "2026-06-02"}
    )
    assert (june_1.body["total_seconds"], june_2.body["total_seconds"]) == (0, 3600)
    as_given = await world.admin.get(
        "/api/v1/reports/summary",
        **{"from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"},
    )
    assert as_given.body["total_seconds"] == 3600


async def test_a_year_of_dates_across_a_clock_change_is_one_report(world: World) -> None:
    """Sydney's 6 April 2025 to 7 April 2026 is 366 days on its clocks (and an hour more in
    absolute time, daylight saving having begun in between): one report, not a refusal."""
    r = await world.admin.patch("/api/v1/account", {"time_zone": "Australia/Sydney"})
    assert r.status == 200, r.body
    year = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2025-04-06", "to": "2026-04-07"}
    )
    assert year.status == 200, year.body
    longer = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2025-04-06", "to": "2026-04-08"}
    )
    assert (longer.status, longer.code) == (400, "invalid_request")


async def test_openapi_says_a_reports_bare_date_is_the_accounts_midnight(world: World) -> None:
    doc = (await world.admin.get("/api/v1/openapi.json")).body
    params = doc["paths"]["/api/v1/reports/summary"]["get"]["parameters"]
    described = {p["name"]: p["schema"].get("description", "") for p in params}
    for name in ("from", "to"):
        assert "its midnight in the account's time zone" in described[name]
        assert "midnight UTC" not in described[name]


async def test_time_per_day_in_the_accounts_time_zone(world: World) -> None:
    await world.admin.patch("/api/v1/account", {"time_zone": "Europe/Berlin"})
    await _entry(world.admin, None, "2026-06-01T21:00:00Z", 3 * 3600)  # 23:00 to 02:00 in Berlin
    await _entry(world.admin, None, "2026-06-03T08:00:00Z", 600)
    r = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="day")
    days = [(i["key"]["day"], i["seconds"]) for i in r.body["items"]]
    assert days == [("2026-06-01", 3600), ("2026-06-02", 7200), ("2026-06-03", 600)]
    as_csv = await world.admin.get("/api/v1/reports/summary", **RANGE, group_by="day", format="csv")
    rows = list(csv.reader(io.StringIO(as_csv.body)))
    assert rows[0][:4] == ["day", "seconds", "hours", "entries"]
    assert rows[2][:4] == ["2026-06-02", "7200", "2.00", "1"]
    assert rows[-1][:3] == ["total", "11400", "3.17"]


async def test_time_on_one_project(world: World) -> None:
    bob, ids = await _setup(world)
    r = await world.admin.get(
        "/api/v1/reports/summary", **RANGE, group_by="task", project_id=ids["web"]
    )
    seconds = {i["key"]["name"]: i["seconds"] for i in r.body["items"]}
    assert seconds == {"Design": 4200, "Build": 7200}
    # Bob works on Website but cannot see Operations: as if it did not exist.
    hidden = await bob.get("/api/v1/reports/summary", **RANGE, project_id=ids["ops"])
    assert hidden.status == 404


def test_a_day_is_midnight_to_midnight_across_a_clock_change() -> None:
    """New York's 8 March 2026 has 23 hours: an entry from 22:00 on the 7th to 02:00 on the
    9th (local) counts 2 h, 23 h and 2 h."""
    zone = ZoneInfo("America/New_York")
    start = dt.datetime(2026, 3, 7, 22, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime(2026, 3, 9, 2, tzinfo=zone).astimezone(dt.UTC)
    since, until = start - dt.timedelta(days=1), end + dt.timedelta(days=1)
    calendar = reports.Calendar(since, until, zone)
    span = ("u1", "t1", None)
    tally = reports.Tally(calendar)
    tally.learn(span, None, None)  # (no project, no rate)
    window = Millis.of(since), Millis.of(until), Millis.of(until)
    assert tally.add([(*span[:2], Millis.of(start), Millis.of(end), None)], window) == []
    cells = tally.days[None]
    by_day = {calendar.days[day]: cell[0] for day, cell in enumerate(cells) if cell is not None}
    assert by_day == {
        dt.date(2026, 3, 7): 2 * 3600,
        dt.date(2026, 3, 8): 23 * 3600,
        dt.date(2026, 3, 9): 2 * 3600,
    }
    assert tally.spans[span][:2] == [27 * 3600, 1]  # (one entry)
