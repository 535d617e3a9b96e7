"""My week in the browser: the timesheet of the signed-in user's week (days by tasks, with
totals), today's entries with add, edit and delete through forms, and the running timer's Stop.
A user sees and changes only their own week."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from support import PASSWORD, Api, World
from web_support import Browser

from server import clock

# A Wednesday afternoon (UTC): its week runs from Monday 30 November to Sunday 6 December.
NOW = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)
UMA = "uma@acme.test"


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
async def uma(world: World) -> Api:
    user = await world.admin.add_user(UMA, name="Uma User")
    project = await world.admin.create_task("Website relaunch")
    await world.admin.assign(project["id"], user, "regular")
    return user


@pytest.fixture
async def browser(world: World, uma: Api) -> Browser:
    browser = Browser(world.client)
    assert (await browser.sign_in(UMA, PASSWORD)).location == "/week"
    return browser


async def _task(world: World, name: str) -> str:
    found = await world.admin.get("/api/v1/tasks", q=name)
    return str(next(t["id"] for t in found.body["items"] if t["name"] == name))


async def _entry(api: Api, start: str, end: str, note: str = "", task_id: str | None = None) -> str:
    r = await api.post(
        "/api/v1/entries", {"start": start, "end": end, "note": note, "task_id": task_id}
    )
    assert r.status == 201, r.body
    return str(r.body["id"])


def _row(page_text: str, label: str) -> list[str]:
    """The cells of the timesheet row headed `label`."""
    found = re.search(rf"<th scope=\"row\">{re.escape(label)}</th>(.*?)</tr>", page_text, re.S)
    assert found, f"no row {label!r}"
    return [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]


async def test_signed_out_visitors_are_sent_to_sign_in(world: World) -> None:
    assert (await Browser(world.client).get("/week")).location == "/"


async def test_the_week_shows_entries_made_through_the_api(
    world: World, uma: Api, browser: Browser
) -> None:
    project = await _task(world, "Website relaunch")
    await _entry(uma, "2026-11-30T09:00:00Z", "2026-11-30T10:30:00Z", "kick-off", project)
    await _entry(uma, "2026-12-02T08:00:00Z", "2026-12-02T08:45:00Z", "review", project)
    await _entry(uma, "2026-12-02T11:00:00Z", "2026-12-02T11:15:00Z", "inbox")
    await _entry(uma, "2026-11-29T09:00:00Z", "2026-11-29T17:00:00Z")  # the Sunday before
    page = await browser.get("/week")
    assert page.status == 200
    assert page.has("Week of 30 November 2026")
    # Mon … Sun, then the task's total
    assert _row(page.text, "Website relaunch") == ["1:30", "", "0:45", "", "", "", "", "2:15"]
    assert _row(page.text, "(no task)") == ["", "", "0:15", "", "", "", "", "0:15"]
    assert _row(page.text, "Total") == ["1:30", "", "1:00", "", "", "", "", "2:30"]
    assert page.has("review") and page.has("inbox")  # today's entries, with their notes
    assert not page.has("kick-off")  # (Monday's: in the sheet, not in today's list)


async def test_moving_between_weeks(uma: Api, browser: Browser) -> None:
    await _entry(uma, "2026-11-25T09:00:00Z", "2026-11-25T11:00:00Z")
    page = await browser.get("/week")
    assert 'href="/week?date=2026-11-23"' in page.text  # the previous week's Monday
    assert 'href="/week?date=2026-12-07"' in page.text
    assert page.has("No time tracked this week.")
    before = await browser.get("/week?date=2026-11-27")  # any day names its week
    assert before.has("Week of 23 November 2026")
    assert _row(before.text, "Total")[2] == "2:00"
    assert not before.has("Add an entry")  # today is not in that week
    assert (await browser.get("/week?date=someday")).status == 400


async def test_adding_an_entry(world: World, uma: Api, browser: Browser) -> None:
    project = await _task(world, "Website relaunch")
    page = await browser.get("/week")
    assert f'<option value="{project}">Website relaunch</option>' in page.text
    added = await browser.post(
        "/week/entries",
        {"task_id": project, "start": "09:00", "end": "10:15", "note": "standup & notes"},
    )
    assert added.status == 303 and added.location == "/week"
    listed = await uma.get("/api/v1/entries")
    [entry] = listed.body["items"]
    assert entry["start"] == "2026-12-02T09:00:00Z" and entry["end"] == "2026-12-02T10:15:00Z"
    assert entry["task_id"] == project and entry["note"] == "standup & notes"
    assert entry["source"] == "web"
    page = await browser.get("/week")
    assert _row(page.text, "Website relaunch")[2] == "1:15"
    assert page.has("standup & notes")


async def test_a_refused_entry_says_why_and_keeps_what_was_typed(
    uma: Api, browser: Browser
) -> None:
    await browser.get("/week")
    page = await browser.post("/week/entries", {"start": "11:00", "end": "10:00", "note": "oops"})
    assert page.status == 400
    assert page.has("end must be after start.")  # the API's own words
    assert 'value="oops"' in page.text and 'value="11:00"' in page.text
    future = await browser.post("/week/entries", {"start": "16:00", "end": "17:00"})
    assert future.status == 400 and future.has("end must not be in the future.")
    typo = await browser.post("/week/entries", {"start": "9h", "end": "10:00"})
    assert typo.status == 400 and typo.has("start must be a time of day such as 09:30.")
    assert (await uma.get("/api/v1/entries")).body["items"] == []


async def test_editing_the_note_leaves_the_times(uma: Api, browser: Browser) -> None:
    entry_id = await _entry(uma, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "draft")
    page = await browser.get("/week")
    assert 'value="draft"' in page.text
    saved = await browser.post(
        f"/week/entries/{entry_id}", {"start": "08:00", "end": "09:00", "note": "final copy"}
    )
    assert saved.status == 303
    entry = (await uma.get(f"/api/v1/entries/{entry_id}")).body
    assert entry["note"] == "final copy"
    assert entry["start"] == "2026-12-02T08:00:00Z" and entry["end"] == "2026-12-02T09:00:00Z"
    await browser.post(
        f"/week/entries/{entry_id}", {"start": "07:30", "end": "09:00", "note": "final copy"}
    )
    assert (await uma.get(f"/api/v1/entries/{entry_id}")).body["duration"] == 90 * 60


async def test_deleting_an_entry(uma: Api, browser: Browser) -> None:
    entry_id = await _entry(uma, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "mistake")
    await browser.get("/week")
    assert (await browser.post(f"/week/entries/{entry_id}/delete")).status == 303
    assert (await uma.get(f"/api/v1/entries/{entry_id}")).status == 404
    assert not (await browser.get("/week")).has("mistake")


async def test_the_running_timer_and_its_stop_button(uma: Api, browser: Browser) -> None:
    r = await uma.post(
        "/api/v1/timer/start", {"note": "deep work", "started_at": "2026-12-02T14:20:00Z"}
    )
    assert r.status == 201, r.body
    page = await browser.get("/week")
    assert page.has("since 14:20") and page.has("0:40") and page.has("Stop tracking")
    assert (await browser.post("/week/timer/stop")).status == 303
    assert (await uma.get("/api/v1/timer")).body == {"running": False}
    stopped = await browser.get("/week")
    assert not stopped.has("Stop tracking")
    assert _row(stopped.text, "(no task)")[2] == "0:40"


async def test_notes_are_escaped(uma: Api, browser: Browser) -> None:
    await _entry(uma, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "<script>alert(1)</script>")
    page = await browser.get("/week")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text


async def test_a_user_cannot_open_another_users_week(
    world: World, uma: Api, browser: Browser
) -> None:
    await _entry(world.admin, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "board meeting")
    page = await browser.get(f"/week?user={world.admin.id}")
    assert page.status == 403
    assert not page.has("board meeting")
    other = await world.new_account("Globex", "boss@globex.test")
    assert (await browser.get(f"/week?user={other.id}")).status == 404


async def test_an_administrator_looks_at_a_users_week_without_changing_it(
    world: World, uma: Api
) -> None:
    await _entry(uma, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "uma's work")
    admin = Browser(world.client)
    await admin.sign_in("admin@acme.test", PASSWORD)
    page = await admin.get(f"/week?user={uma.id}")
    assert page.status == 200 and page.has("Uma User's week")
    assert _row(page.text, "(no task)")[2] == "1:00"
    assert not page.has("Add an entry") and "/week/entries/" not in page.text
    assert f"date=2026-11-23&amp;user={uma.id}" in page.text  # the week links stay on Uma


async def test_nobody_changes_another_users_entries_from_my_week(
    world: World, uma: Api, browser: Browser
) -> None:
    theirs = await _entry(world.admin, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "admin's")
    await browser.get("/week")
    edit = await browser.post(f"/week/entries/{theirs}", {"note": "hijacked"})
    assert edit.status == 404
    assert (await browser.post(f"/week/entries/{theirs}/delete")).status == 404
    # Nor does an administrator: My week is one's own (the API is where they edit others').
    mine = await _entry(uma, "2026-12-02T10:00:00Z", "2026-12-02T11:00:00Z", "uma's")
    admin = Browser(world.client)
    await admin.sign_in("admin@acme.test", PASSWORD)
    await admin.get("/week")
    assert (await admin.post(f"/week/entries/{mine}", {"note": "changed"})).status == 404
    assert (await admin.post(f"/week/entries/{mine}/delete")).status == 404
    assert (await world.admin.get(f"/api/v1/entries/{theirs}")).body["note"] == "admin's"
    assert (await uma.get(f"/api/v1/entries/{mine}")).body["note"] == "uma's"


async def test_a_form_without_the_csrf_token_changes_nothing(uma: Api, browser: Browser) -> None:
    entry_id = await _entry(uma, "2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z", "kept")
    await browser.get("/week")
    posts = [
        ("/week/entries", {"start": "10:00", "end": "11:00"}),
        (f"/week/entries/{entry_id}", {"note": "changed"}),
        (f"/week/entries/{entry_id}/delete", {}),
        ("/week/timer/stop", {}),
    ]
    for path, fields in posts:
        assert (await browser.post(path, fields, csrf=False)).status == 403, path
    [entry] = (await uma.get("/api/v1/entries")).body["items"]
    assert entry["note"] == "kept"


async def test_the_account_time_zone_decides_where_days_end(
    world: World, uma: Api, browser: Browser
) -> None:
    assert (await world.admin.get("/api/v1/account")).body["time_zone"] == "UTC"
    r = await world.admin.patch("/api/v1/account", {"time_zone": "America/New_York"})
    assert r.status == 200 and r.body["time_zone"] == "America/New_York"
    # 03:00 UTC on Wednesday is 22:00 on Tuesday in New York (UTC-5 in December).
    await _entry(uma, "2026-12-02T03:00:00Z", "2026-12-02T04:00:00Z", "late call")
    page = await browser.get("/week")
    assert page.has("days in America/New_York")
    assert _row(page.text, "(no task)") == ["", "1:00", "", "", "", "", "", "1:00"]
    assert not page.has("late call")  # not today (Wednesday) there
    # A time typed in the form is the account's time of day: 09:00 in New York, 14:00 UTC.
    await browser.post("/week/entries", {"start": "09:00", "end": "09:30", "note": "standup"})
    [added] = [
        e for e in (await uma.get("/api/v1/entries")).body["items"] if e["note"] == "standup"
    ]
    assert added["start"] == "2026-12-02T14:00:00Z"
    assert 'value="09:00"' in (await browser.get("/week")).text


async def test_the_time_zone_must_be_a_known_one(world: World) -> None:
    # ("localtime" is whatever zone the server's host has; "Factory" is no place's)
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "", "utc+1", "localtime", "Factory"):
        r = await world.admin.patch("/api/v1/account", {"time_zone": bad})
        assert (r.status, r.code) == (400, "invalid_request"), bad
    assert (await world.admin.get("/api/v1/account")).body["time_zone"] == "UTC"
    bob = await world.admin.add_user("bob@acme.test")
    assert (await bob.patch("/api/v1/account", {"time_zone": "Europe/Berlin"})).status == 403
