"""An administrator's pages in a real browser (Debian's Chromium, headless, driven by playwright)
against the server on a local port: Reports with amounts in the account's currency (and a
regular user's without any), and My week's Salesforce panel, whose forced run shows its progress
without the page reloading (the server wired to the Salesforce emulator).

The two pages' screenshots in docs/ come from here: they are saved under tests/artifacts/
(`web-reports.png`, `web-my-week.png`) at each run; copy them to docs/ to update the README's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sf_support import INTEGRATION, Connected
from support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, ROOT, Api, World, require_chromium

require_chromium("the web pages' browser test", "async_api")
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect  # noqa: E402 (once the browser is known to be there)

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts"
ADMIN, BOB = "admin@acme.test", "bob@acme.test"
# Wide enough for the tables' four columns; the screenshots are of the whole page.
VIEWPORT = ViewportSize(width=1000, height=800)
# A forced run's panel is looked at every 3 s; the run itself takes a few seconds here.
RUN_SECONDS = 20_000


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()


def _base(world: World) -> str:
    server = world.client.server
    return f"http://{server.host}:{server.port}"


async def _signed_in(chromium: Browser, world: World, email: str) -> Page:
    context = await chromium.new_context(viewport=VIEWPORT)  # (closed with the browser)
    page = await context.new_page()
    await page.goto(_base(world) + "/")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="My week")).to_be_visible()
    return page


async def _reports(chromium: Browser, world: World, email: str) -> Page:
    """Signed in as `email`, on Reports from 2 to 13 November 2026, as a person gets there."""
    page = await _signed_in(chromium, world, email)
    await page.get_by_role("link", name="Reports").click()
    await page.get_by_label("From", exact=True).fill("2026-11-02")
    await page.get_by_label("To", exact=True).fill("2026-11-13")
    await page.get_by_role("button", name="Show").click()
    return page


async def _entry(api: Api, task_id: str, start: str, hours: float) -> None:
    body = {"task_id": task_id, "start": start, "duration": int(hours * 3600)}
    r = await api.post("/api/v1/entries", body)
    assert r.status == 201, r.body


def _ok(answer: Any) -> Any:
    assert answer.status < 300, answer.body
    return answer.body


async def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


# Reports: amounts for administrators, none for a regular user ------------------------------


async def test_reports_show_amounts_in_the_accounts_currency_to_administrators_only(
    world: World, chromium: Browser
) -> None:
    """Two weeks of November: Website relaunch billed at 120 USD an hour, Support not billable.
    The administrator sees each table's amounts and total in USD; Bob, a regular user, sees his
    own hours and no amount anywhere."""
    admin = world.admin
    _ok(await admin.patch("/api/v1/account", {"currency": "USD"}))
    website = await admin.create_task("Website relaunch")
    design = await admin.create_task("Design mockups", website["id"])
    support = await admin.create_task("Support")
    _ok(await admin.patch(f"/api/v1/tasks/{website['id']}", {"rate": "120"}))
    _ok(await admin.patch(f"/api/v1/tasks/{support['id']}", {"billable": False}))
    bob = await admin.add_user(BOB, name="Bob Builder")
    for project in (website, support):
        await admin.assign(project["id"], bob, "regular")
    for who, task, start, hours in [
        (bob, design, "2026-11-02T08:00:00Z", 3),
        (admin, support, "2026-11-02T13:00:00Z", 1),
        (bob, support, "2026-11-03T09:00:00Z", 2),
        (admin, design, "2026-11-04T09:00:00Z", 1.5),
        (bob, design, "2026-11-06T08:00:00Z", 4),
        (admin, design, "2026-11-09T09:00:00Z", 2),
        (bob, support, "2026-11-09T14:00:00Z", 1),
        (bob, design, "2026-11-11T08:00:00Z", 2.5),
    ]:
        await _entry(who, task["id"], start, hours)

    page = await _reports(chromium, world, ADMIN)

    by_project = page.locator("#by-project")
    await expect(by_project.get_by_role("columnheader", name="Amount (USD)")).to_be_visible()
    # 13 h on the website at 120 an hour; Support's 4 h are not billable.
    website_row = by_project.get_by_role("row", name="Website relaunch")
    await expect(website_row.get_by_role("cell")).to_have_text(["13:00", "76%", "1560.00"])
    support_row = by_project.get_by_role("row", name="Support")
    await expect(support_row.get_by_role("cell")).to_have_text(["4:00", "24%", "0.00"])
    await expect(by_project.locator("tfoot")).to_contain_text("1560.00 USD")
    by_user = page.locator("#by-user")
    bob_row = by_user.get_by_role("row", name="Bob Builder")
    await expect(bob_row.get_by_role("cell")).to_have_text(["12:30", "74%", "1140.00"])
    ada_row = by_user.get_by_role("row", name="Ada Admin")
    await expect(ada_row.get_by_role("cell")).to_have_text(["4:30", "26%", "420.00"])
    await expect(page.locator("#by-day").locator("tfoot")).to_contain_text("1560.00 USD")
    await _screenshot(page, "web-reports.png")

    page = await _reports(chromium, world, BOB)
    by_project = page.locator("#by-project")
    website_row = by_project.get_by_role("row", name="Website relaunch")
    await expect(website_row.get_by_role("cell")).to_have_text(["9:30", "76%"])
    await expect(by_project.get_by_role("row", name="Support").get_by_role("cell")).to_have_text(
        ["3:00", "24%"]
    )
    await expect(page.get_by_role("columnheader", name=re.compile("Amount"))).to_have_count(0)
    await expect(page.get_by_text(re.compile(r"USD|1140\.00|1560\.00"))).to_have_count(0)


# My week: the Salesforce panel, and a forced run followed live ------------------------------


def _panel_time(iso: str | None) -> str:
    """A time as the panel shows it (the account's zone here is UTC)."""
    if iso is None:
        return "none scheduled"
    instant = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return instant.astimezone(dt.UTC).strftime("%a %-d %b %H:%M:%S")


async def _this_weeks_time(sf: Connected) -> None:
    """Some of the administrator's time this week on imported opportunities, for the page to
    look lived in (days of this week up to today; today's ended an hour ago or less)."""
    tasks = _ok(await sf.admin.get("/api/v1/tasks", trackable="true", limit=500))
    imported = [t for t in tasks["items"] if t["source"]][:3]
    assert imported, tasks
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    today = now.replace(hour=0, minute=0)
    for days_back in range(today.weekday() + 1):
        day = today - dt.timedelta(days=days_back)
        for n, task in enumerate(imported):
            start = day + dt.timedelta(hours=8 + 3 * n)
            hours = 1 + (2 * n + days_back) % 4 / 2
            if start + dt.timedelta(hours=hours) <= now:
                await _entry(sf.admin, task["id"], start.isoformat(), hours)


async def test_an_administrator_forces_a_sync_and_watches_it_without_a_reload(
    sf: Connected, chromium: Browser
) -> None:
    assert (await sf.authorize()).status_code == 200
    syncs, emulator = sf.world.services.syncs, sf.emu.emulator
    await syncs.wait()
    # A forced run that failed: the panel has a problem to show.
    emulator.inject_failures("drop", 10)
    _ok(await sf.admin.post(f"{INTEGRATION}/sync"))
    await syncs.wait()
    emulator.faults.clear()
    await _this_weeks_time(sf)
    state = _ok(await sf.admin.get(INTEGRATION))

    page = await _signed_in(chromium, sf.world, ADMIN)
    panel = page.get_by_role("region", name="Salesforce")
    last_run = panel.locator(".last-run")
    await expect(panel.locator(".status")).to_have_text(
        f"Connected · as {state['org']['username']}"
    )
    await expect(last_run).to_contain_text(re.compile(r"^\s*Failed, .*\(force\)", re.S))
    await expect(panel.locator(".next-run")).to_have_text(_panel_time(state["next_run_at"]))
    problems = panel.get_by_role("list", name="Problems")
    await expect(problems).to_contain_text("The last run failed:")

    # Something typed on the page and not saved yet: still there after the run (no reload).
    note = page.locator("form.add").get_by_label("Note")
    await note.fill("notes from the Globex call")
    # A new opportunity to import, and a slow Salesforce, so the run is seen going.
    emulator.create_record(
        "Opportunity",
        {"Name": "Globex renewal", "StageName": "Prospecting", "CloseDate": "2027-01-01"},
    )
    emulator.inject_failures("delay", 3, seconds=1.5)
    await panel.get_by_role("button", name="Force synchronization").click()

    await expect(last_run).to_contain_text(re.compile(r"Running since .*\(force\)", re.S))
    await expect(last_run).to_contain_text(
        re.compile(r"^\s*Succeeded, .*\(force\) · 1 created", re.S), timeout=RUN_SECONDS
    )
    await expect(problems).to_have_count(0)
    await expect(note).to_have_value("notes from the Globex call")
    runs = _ok(await sf.admin.get(f"{INTEGRATION}/runs"))
    assert [(r["trigger"], r["status"]) for r in runs["items"][:2]] == [
        ("force", "succeeded"),
        ("force", "failed"),
    ]

    await note.fill("")
    await note.blur()
    await _screenshot(page, "web-my-week.png")
