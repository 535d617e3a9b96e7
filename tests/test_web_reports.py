"""Reports in the browser: time by project, task, user and day over a range, with SVG charts,
tables and CSV. Everyone sees what the API's reports let them see: administrators the account,
managers their projects, regular users only their own time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET

import pytest
from support import PASSWORD, Api, World
from web_support import Browser

from server import clock
from server.web import charts
from server.web import reports as web_reports

NOW = dt.datetime(2026, 6, 20, 12, 0, tzinfo=dt.UTC)
UMA, MAX = "uma@acme.test", "max@acme.test"
SVG = "{http://www.w3.org/2000/svg}"
SF_ID = "006Hs00001AbCdEIAV"


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


async def _entry(api: Api, task_id: str | None, start: str, seconds: int) -> None:
    r = await api.post("/api/v1/entries", {"task_id": task_id, "start": start, "duration": seconds})
    assert r.status == 201, r.body


class Team:
    def __init__(self, web: str, ops: str, design: str, uma: Api, max_: Api) -> None:
        self.web, self.ops, self.design, self.uma, self.max = web, ops, design, uma, max_


@pytest.fixture
async def team(world: World) -> Team:
    """Website (Uma regular, Max manager) and Operations (nobody but the administrator)."""
    web = await world.admin.create_task("Website")
    design = await world.imported_task(
        world.admin, web["id"], "Acme redesign", "Opportunity", SF_ID
    )
    ops = await world.admin.create_task("Operations")
    uma = await world.admin.add_user(UMA, name="Uma User")
    max_ = await world.admin.add_user(MAX, name="Max Manager")
    await world.admin.assign(web["id"], uma, "regular")
    await world.admin.assign(web["id"], max_, "manager")
    await _entry(uma, design["id"], "2026-06-01T09:00:00Z", 2 * 3600)
    await _entry(uma, design["id"], "2026-06-03T09:00:00Z", 3600)
    await _entry(max_, web["id"], "2026-06-03T13:00:00Z", 1800)
    await _entry(world.admin, ops["id"], "2026-06-02T09:00:00Z", 4 * 3600)
    return Team(web["id"], ops["id"], design["id"], uma, max_)


async def _browser(world: World, email: str) -> Browser:
    browser = Browser(world.client)
    await browser.sign_in(email, PASSWORD)
    return browser


def _bars(text: str) -> list[str]:
    found = re.search(r"<svg class=\"chart bars\".*?</svg>", text, re.S)
    assert found, "no bar chart"
    return [
        g.get("data-day") or ""
        for g in ET.fromstring(found.group(0)).iter(f"{SVG}g")
        if g.get("class") == "day"
    ]


def _table(text: str, table_id: str) -> dict[str, str]:
    """Row label → hours, of the table `table_id` (its body: no total)."""
    found = re.search(
        rf'<table class="sheet report" id="{table_id}">.*?<tbody>(.*?)</tbody>', text, re.S
    )
    assert found, f"no table {table_id}"
    rows = re.findall(
        r"<tr>\s*<th scope=\"row\">(.*?)</th>\s*<td class=\"num\">(.*?)</td>", found.group(1), re.S
    )
    return {re.sub(r"<[^>]+>|\s+", " ", label).strip(): hours for label, hours in rows}


async def test_an_administrator_sees_the_accounts_time(world: World, team: Team) -> None:
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get("/reports")  # this month by default: June 2026
    assert page.status == 200
    assert _bars(page.text) == ["2026-06-01", "2026-06-02", "2026-06-03"]
    assert _table(page.text, "by-project") == {"Operations": "4:00", "Website": "3:30"}
    assert _table(page.text, "by-user")["Uma User"] == "3:00"
    assert _table(page.text, "by-day") == {
        "Mon 1 Jun 2026": "2:00",
        "Tue 2 Jun 2026": "4:00",
        "Wed 3 Jun 2026": "1:30",
    }
    assert page.has("7:30 hours, 1 Jun 2026 to 30 Jun 2026")


async def test_a_regular_user_sees_only_their_own_time(world: World, team: Team) -> None:
    uma = await _browser(world, UMA)
    page = await uma.get("/reports")
    assert _table(page.text, "by-project") == {"Website": "3:00"}
    assert _bars(page.text) == ["2026-06-01", "2026-06-03"]
    assert 'name="user"' not in page.text  # no one else to choose
    max_id = (await team.max.get("/api/v1/me")).body["id"]
    assert (await uma.get(f"/reports?user={max_id}")).status == 403
    assert (await uma.get(f"/reports/summary.csv?user={max_id}")).status == 403
    assert (await uma.get(f"/reports?project={team.ops}")).status == 404


async def test_a_manager_sees_their_projects(world: World, team: Team) -> None:
    max_ = await _browser(world, MAX)
    page = await max_.get("/reports")
    assert _table(page.text, "by-user") == {"Uma User": "3:00", "Max Manager": "0:30"}
    assert "Operations" not in page.text
    assert (await max_.get(f"/reports?project={team.ops}")).status == 404


async def test_filter_by_project_and_range(world: World, team: Team) -> None:
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get(f"/reports?from=2026-06-02&to=2026-06-03&project={team.web}")
    assert _bars(page.text) == ["2026-06-03"]
    assert _table(page.text, "by-project") == {"Website": "1:30"}


async def test_a_salesforce_task_links_to_its_record(world: World, team: Team) -> None:
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get("/reports")
    link = re.search(r'<a href="([^"]+)" class="record"', page.text)
    assert link and link.group(1) == f"https://acme.my.salesforce.com/{SF_ID}"


async def test_the_csv_is_the_apis(world: World, team: Team) -> None:
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get("/reports/summary.csv?from=2026-06-01&to=2026-06-30&group_by=day")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in page.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(page.text)))
    assert rows[0][:4] == ["day", "seconds", "hours", "entries"]
    assert [r[:2] for r in rows[1:]] == [
        ["2026-06-01", "7200"],
        ["2026-06-02", "14400"],
        ["2026-06-03", "5400"],
        ["total", "27000"],
    ]


async def test_a_bad_range_is_said_on_the_page(world: World, team: Team) -> None:
    admin = await _browser(world, "admin@acme.test")
    backwards = await admin.get("/reports?from=2026-06-10&to=2026-06-01")
    assert backwards.status == 400 and backwards.has("to must not be before from.")
    too_long = await admin.get("/reports?from=2025-01-01&to=2026-06-01")
    assert too_long.status == 400 and too_long.has("at most 366 days")


async def test_signed_out_visitors_are_sent_to_sign_in(world: World) -> None:
    page = await Browser(world.client).get("/reports")
    assert page.status == 303 and page.location == "/"


async def test_a_busy_account_keeps_the_page_short(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Projects past the palette stack as one "Other projects" piece; tasks past the list are
    one row (the CSV has them all)."""
    monkeypatch.setattr(web_reports, "TASK_ROWS", 3)
    for i in range(charts.COLOURS + 2):
        project = await world.admin.create_task(f"Project {i}")
        await _entry(world.admin, project["id"], "2026-06-01T08:00:00Z", 600 * (i + 1))
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get("/reports")
    found = re.search(r"<svg class=\"chart bars\".*?</svg>", page.text, re.S)
    assert found
    [day] = [g for g in ET.fromstring(found.group(0)).iter(f"{SVG}g") if g.get("class") == "day"]
    pieces = [r.find(f"{SVG}title").text for r in day.iter(f"{SVG}rect")]  # type: ignore[union-attr]
    assert len(pieces) == charts.COLOURS + 1
    assert pieces[-1] == "Mon 1 Jun, Other projects: 0:30"  # Project 0 and 1: 10 + 20 min
    tasks = _table(page.text, "by-task")
    assert len(tasks) == 4 and tasks["7 more tasks (in the CSV)"] == "4:40"


def _amounts(text: str, table_id: str) -> tuple[dict[str, str], str]:
    """Row label → amount, and the total, of the table `table_id` (none: the column is absent)."""
    found = re.search(rf'<table class="sheet report" id="{table_id}">(.*?)</table>', text, re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(
        r"<th scope=\"row\">(.*?)</th>.*?<td class=\"num amount\">(.*?)</td>", found.group(1), re.S
    )
    amounts = {re.sub(r"<[^>]+>|\s+", " ", label).strip(): amount for label, amount in rows}
    return amounts, amounts.pop("Total", "")


async def _rates(world: World, team: Team) -> None:
    for task_id, rate in ((team.web, "100"), (team.ops, "50")):
        r = await world.admin.patch(f"/api/v1/tasks/{task_id}", {"rate": rate})
        assert r.status == 200, r.body


async def test_an_administrator_sees_amounts_with_the_currency(world: World, team: Team) -> None:
    await _rates(world, team)
    await world.admin.patch("/api/v1/account", {"currency": "USD"})
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get("/reports")
    assert page.has("Amount (USD)")
    # Website 3:30 at 100, Operations 4:00 at 50.
    assert _amounts(page.text, "by-project") == (
        {"Operations": "200.00", "Website": "350.00"},
        "550.00 USD",
    )
    by_day, day_total = _amounts(page.text, "by-day")
    assert by_day["Wed 3 Jun 2026"] == "150.00" and day_total == "550.00 USD"


async def test_the_days_amounts_count_the_projects_past_the_palette(world: World) -> None:
    """A day's amount adds up every project's, those stacked as "Other projects" too, and an
    entry past midnight counts on both days at its project's rate."""
    for i in range(charts.COLOURS + 2):
        project = await world.admin.create_task(f"Project {i}")
        r = await world.admin.patch(f"/api/v1/tasks/{project['id']}", {"rate": f"{10 * (i + 1)}"})
        assert r.status == 200, r.body
        await _entry(world.admin, project["id"], "2026-06-01T08:00:00Z", 3600)
    await _entry(world.admin, project["id"], "2026-06-01T23:00:00Z", 2 * 3600)  # (Project 9)
    admin = await _browser(world, "admin@acme.test")
    page = await admin.get("/reports")
    by_day, total = _amounts(page.text, "by-day")
    # 10 + 20 + ... + 100 an hour, one hour each, and Project 9's hour before midnight.
    assert by_day == {"Mon 1 Jun 2026": "650.00", "Tue 2 Jun 2026": "100.00"}
    assert total == "750.00 EUR"


async def test_a_manager_sees_amounts_of_their_projects(world: World, team: Team) -> None:
    await _rates(world, team)
    max_ = await _browser(world, MAX)
    page = await max_.get("/reports")
    assert _amounts(page.text, "by-user") == (
        {"Uma User": "300.00", "Max Manager": "50.00"},
        "350.00 EUR",
    )


async def test_a_regular_user_sees_no_amounts(world: World, team: Team) -> None:
    await _rates(world, team)
    uma = await _browser(world, UMA)
    page = await uma.get("/reports")
    assert _table(page.text, "by-project") == {"Website": "3:00"}
    assert not page.has("Amount") and "amount" not in page.text
    csv_page = await uma.get("/reports/summary.csv?group_by=project")
    header = next(csv.reader(io.StringIO(csv_page.text)))
    assert header[-3:] == ["seconds", "hours", "entries"]


async def test_the_csv_has_the_apis_amount_columns(world: World, team: Team) -> None:
    await _rates(world, team)
    admin = await _browser(world, "admin@acme.test")
    query = "from=2026-06-01&to=2026-06-30&group_by=project"
    page = await admin.get(f"/reports/summary.csv?{query}")
    rows = list(csv.reader(io.StringIO(page.text)))
    assert rows[0][-3:] == ["billable_hours", "amount", "currency"]
    assert [r[-2:] for r in rows[1:]] == [["200.00", "EUR"], ["350.00", "EUR"], ["550.00", "EUR"]]
    api = await world.admin.get(
        "/api/v1/reports/summary",
        **{"from": "2026-06-01", "to": "2026-07-01"},
        group_by="project",
        format="csv",
    )
    assert api.body == page.text
