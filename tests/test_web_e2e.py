"""My week in a real browser: Debian's Chromium (headless, driven by playwright) against the
server running as its own process, as a person uses it: sign in, see an entry made through the
API, edit its note, add one; then Reports: its chart has a bar per day that had time, and its
CSV downloads. A form without its CSRF token is refused (403); a regular user cannot open another
user's week nor a project's report outside their roles. (An administrator's pages: amounts, the
Salesforce panel: test_web_e2e_admin.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, ROOT, require_chromium, server_process

from server.accounts import Accounts
from server.store import open_store

require_chromium("the web pages' browser test", "sync_api")
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402 (once the browser is known to be there)

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts"
USER_EMAIL = "uma@acme.test"
TASK = "Website relaunch / Design mockups"


@dataclass
class Server:
    base: str
    token: str  # the user's, for the API
    admin_id: str = ""
    outside_project_id: str = ""  # a project the user has no role on

    def call(self, method: str, path: str, body: Any = None) -> Any:
        with httpx2.Client(trust_env=False, timeout=10) as http:
            r = http.request(
                method,
                self.base + path,
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        assert r.status_code < 300, r.text
        return r.json() if r.content else None


async def _seed_store(data_dir: Path) -> str:
    store = await open_store(None, data_dir)
    try:
        _account, _admin, token = await Accounts(store).create_account(
            "Acme", "admin@acme.test", "Ada Admin", PASSWORD
        )
        return token
    finally:
        await store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("server") / "data"
    admin_token = asyncio.run(_seed_store(data_dir))
    with server_process(data_dir, data_dir.parent / "server.log") as base:
        admin = Server(base, admin_token)
        user = admin.call(
            "POST",
            "/api/v1/users",
            {"email": USER_EMAIL, "name": "Uma User", "password": PASSWORD, "role": "user"},
        )
        project = admin.call("POST", "/api/v1/tasks", {"name": "Website relaunch"})
        admin.call("POST", "/api/v1/tasks", {"name": "Design mockups", "parent_id": project["id"]})
        support = admin.call("POST", "/api/v1/tasks", {"name": "Support"})
        for root in (project, support):
            admin.call(
                "PUT", f"/api/v1/tasks/{root['id']}/members/{user['id']}", {"role": "regular"}
            )
        outside = admin.call("POST", "/api/v1/tasks", {"name": "Board meetings"})
        with httpx2.Client(trust_env=False, timeout=10) as http:
            login = http.post(
                base + "/api/v1/auth/login", json={"email": USER_EMAIL, "password": PASSWORD}
            ).json()
        yield Server(base, login["token"], admin.call("GET", "/api/v1/me")["id"], outside["id"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
        )
        try:
            yield browser
        finally:
            browser.close()


def _today_span(now: dt.datetime, minutes: int) -> tuple[dt.datetime, dt.datetime]:
    """A span of up to `minutes` ending now, within today (UTC: the account's days)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - midnight < dt.timedelta(minutes=2):
        pytest.skip("the UTC day has just begun: no whole minute of today is past yet")
    start = max(midnight, now - dt.timedelta(minutes=minutes))
    return start.replace(second=0, microsecond=0), now.replace(second=0, microsecond=0)


def _sign_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.get_by_label("Email").fill(USER_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My week")).to_be_visible()


def test_my_week_in_the_browser(server: Server, browser: Browser) -> None:
    task_id = next(
        t["id"]
        for t in server.call("GET", "/api/v1/tasks?q=Design")["items"]
        if t["name"] == "Design mockups"
    )
    start, end = _today_span(dt.datetime.now(dt.UTC), 50)
    made = server.call(
        "POST",
        "/api/v1/entries",
        {
            "task_id": task_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "note": "wireframes",
        },
    )
    context = browser.new_context()
    try:
        page = context.new_page()
        _sign_in(page, server.base)

        # The session cookie: HttpOnly, SameSite=Lax (scripts cannot read it; other sites'
        # forms do not carry it).
        [cookie] = [c for c in context.cookies() if c["name"] == "timetrail_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

        # The entry made through the API: in the timesheet and in today's list.
        expect(page.get_by_role("row", name=TASK)).to_be_visible()
        entry = page.get_by_role("listitem").filter(has_text=TASK)
        expect(entry.get_by_label("Note")).to_have_value("wireframes")

        # Edit its note.
        entry.get_by_label("Note").fill("wireframes, second round")
        entry.get_by_role("button", name="Save").click()
        expect(
            page.get_by_role("listitem").filter(has_text=TASK).get_by_label("Note")
        ).to_have_value("wireframes, second round")
        assert server.call("GET", f"/api/v1/entries/{made['id']}")["note"] == (
            "wireframes, second round"
        )

        # Add one.
        add_start, add_end = _today_span(dt.datetime.now(dt.UTC), 20)
        form = page.locator("form.add")
        form.get_by_label("Task").select_option(label=TASK)
        form.get_by_label("From").fill(add_start.strftime("%H:%M"))
        form.get_by_label("To").fill(add_end.strftime("%H:%M"))
        form.get_by_label("Note").fill("client call")
        form.get_by_role("button", name="Add entry").click()
        expect(page.get_by_label("Note").and_(page.locator('[value="client call"]'))).to_have_count(
            1
        )
        entries = server.call("GET", "/api/v1/entries")["items"]
        added = next(e for e in entries if e["note"] == "client call")
        assert added["task_id"] == task_id and added["source"] == "web"
        assert added["start"] == add_start.isoformat().replace("+00:00", "Z")

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-my-week-user.png"), full_page=True)

        # Sign out: back to the sign-in page, and My week is closed.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.goto(server.base + "/week")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        context.close()


def test_reports_in_the_browser(server: Server, browser: Browser, tmp_path: Path) -> None:
    """Time on three days of a past fortnight: three bars, each split by project, and the
    day table's CSV."""
    tasks = {t["name"]: t["id"] for t in server.call("GET", "/api/v1/tasks")["items"]}
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - dt.timedelta(days=14)
    worked = {
        2: [("Design mockups", 3), ("Support", 1)],
        3: [("Support", 2)],
        7: [("Design mockups", 5)],
    }
    for offset, spans in worked.items():
        start = first + dt.timedelta(days=offset, hours=8)
        for name, hours in spans:
            server.call(
                "POST",
                "/api/v1/entries",
                {"task_id": tasks[name], "start": start.isoformat(), "duration": hours * 3600},
            )
            start += dt.timedelta(hours=hours)
    last = first + dt.timedelta(days=13)
    context = browser.new_context(accept_downloads=True)
    try:
        page = context.new_page()
        _sign_in(page, server.base)
        page.get_by_role("link", name="Reports").click()
        expect(page.get_by_role("heading", name="Reports")).to_be_visible()
        page.get_by_label("From", exact=True).fill(first.date().isoformat())
        page.get_by_label("To", exact=True).fill(last.date().isoformat())
        page.get_by_role("button", name="Show").click()

        chart = page.locator("svg.bars")
        expect(chart).to_be_visible()
        days = [(first + dt.timedelta(days=offset)).date().isoformat() for offset in sorted(worked)]
        expect(chart.locator("g.day")).to_have_count(len(days))
        assert [d.get_attribute("data-day") for d in chart.locator("g.day").all()] == days
        expect(chart.locator("g.day").first.locator("rect")).to_have_count(2)  # two projects
        expect(page.get_by_role("img", name="Share of the time per project")).to_be_visible()
        expect(
            page.locator("#by-project").get_by_role("row", name="Website relaunch")
        ).to_contain_text("8:00")

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-reports-user.png"), full_page=True)

        with page.expect_download() as download:
            page.locator("#by-day").get_by_role("link", name="CSV").click()
        saved = tmp_path / "report.csv"
        download.value.save_as(saved)
        rows = saved.read_text().splitlines()
        assert rows[0] == "day,seconds,hours,entries"
        assert rows[1:] == [
            f"{days[0]},14400,4.00,2",
            f"{days[1]},7200,2.00,1",
            f"{days[2]},18000,5.00,1",
            "total,39600,11.00,4",
        ]
    finally:
        context.close()


def test_a_form_without_its_csrf_token_is_refused_in_the_browser(
    server: Server, browser: Browser
) -> None:
    """A form posted without the session's CSRF token (as another site's forged form would be):
    403, the page says why, and nothing is added."""
    context = browser.new_context()
    try:
        page = context.new_page()
        _sign_in(page, server.base)
        form = page.locator("form.add")
        form.locator('input[type="hidden"]').evaluate("input => input.remove()")
        start, end = _today_span(dt.datetime.now(dt.UTC), 10)
        form.get_by_label("From").fill(start.strftime("%H:%M"))
        form.get_by_label("To").fill(end.strftime("%H:%M"))
        form.get_by_label("Note").fill("forged")
        with page.expect_response(server.base + "/week/entries") as answer:
            form.get_by_role("button", name="Add entry").click()
        assert answer.value.status == 403
        expect(
            page.get_by_role("heading", name=re.compile("did not come from this page"))
        ).to_be_visible()
        expect(page.get_by_text("403 csrf_failed")).to_be_visible()
        notes = [e["note"] for e in server.call("GET", "/api/v1/entries")["items"]]
        assert "forged" not in notes
    finally:
        context.close()


def test_a_regular_user_cannot_open_others_weeks_nor_reports_outside_their_roles(
    server: Server, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        _sign_in(page, server.base)
        week = page.goto(f"{server.base}/week?user={server.admin_id}")
        assert week is not None and week.status == 403
        expect(page.get_by_text("403 forbidden")).to_be_visible()
        expect(page.get_by_role("table")).to_have_count(0)  # no one's timesheet

        report = page.goto(f"{server.base}/reports?project={server.outside_project_id}")
        assert report is not None and report.status == 404
        expect(page.get_by_text("404 not_found")).to_be_visible()
        expect(page.locator("svg")).to_have_count(0)  # no chart, no numbers
        expect(page.get_by_text("Board meetings")).to_have_count(0)
    finally:
        context.close()
