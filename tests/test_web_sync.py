"""Force synchronization on My week: administrators see the Salesforce integration's state (status,
last run, next run, problems) and start a run from a form; while it runs the page (its script, or
without one a refresh) shows it running. Nobody else sees any of it, nor may post the form.
(In a real browser, with the script: test_web_browser_sync.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sf_support import INTEGRATION, Connected
from support import PASSWORD, World
from web_support import Browser, Page

from server import clock
from server.web.integration import PANEL, REFRESH_SECONDS

ADMIN, BOB = "admin@acme.test", "bob@acme.test"
REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+); url=([^"]+)">')


async def _connected(sf: Connected) -> None:
    assert (await sf.authorize()).status_code == 200
    await sf.world.services.syncs.wait()


async def _browser(world: World, email: str) -> Browser:
    browser = Browser(world.client)
    await browser.sign_in(email, PASSWORD)
    await browser.get("/week")  # (the forms' CSRF token of the signed-in session)
    return browser


def _panel(page: Page) -> str:
    found = re.search(r'<section class="card sync".*?</section>', page.text, re.S)
    assert found, "no integration panel"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


async def _runs(sf: Connected) -> list[tuple[str, str]]:
    items = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
    return [(r["trigger"], r["status"]) for r in items]


async def test_an_administrator_forces_a_run_and_watches_it(sf: Connected) -> None:
    await _connected(sf)
    admin = await _browser(sf.world, ADMIN)
    before = await admin.get("/week")
    panel = _panel(before)
    assert "Connected · as " in panel and "Succeeded" in panel and "(connect)" in panel
    assert "Force synchronization" in panel
    assert not REFRESH.search(before.text)  # nothing going: the page stays still

    sf.emu.emulator.inject_failures("delay", 1, seconds=0.5)
    forced = await admin.post("/week/sync")
    assert (forced.status, forced.location) == (303, "/week")
    running = await admin.get("/week?date=2026-01-05")
    assert "Running since" in _panel(running) and "(force)" in _panel(running)
    refresh = REFRESH.search(running.text)
    assert refresh and refresh.groups() == (str(REFRESH_SECONDS), "/week?date=2026-01-05")

    await sf.world.services.syncs.wait()
    done = await admin.get("/week")
    assert "Succeeded" in _panel(done) and "(force)" in _panel(done)
    assert not REFRESH.search(done.text)
    assert await _runs(sf) == [("force", "succeeded"), ("connect", "succeeded")]


async def test_a_run_shows_what_it_has_done_so_far(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first import, held after its first page of records: the page shows it running with
    the tasks it has created so far, and the run's API view says the same."""
    syncs = sf.world.services.syncs
    renew, reached, release = syncs._renew_lease, asyncio.Event(), asyncio.Event()

    async def held(account_id: str, run_id: str) -> None:
        reached.set()
        await release.wait()
        await renew(account_id, run_id)

    monkeypatch.setattr(syncs, "_renew_lease", held)
    assert (await sf.authorize()).status_code == 200
    await reached.wait()
    try:
        admin = await _browser(sf.world, ADMIN)
        panel = _panel(await admin.get("/week"))
        [run] = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
    finally:
        release.set()  # (a failure must not leave the run held)
    found = re.search(r"Running since .*?\(connect\) · (\d+) created, .*? · (\d+) API calls", panel)
    assert found and int(found.group(1)) > 0 and int(found.group(2)) > 0, panel
    assert run["status"] == "running" and run["counts"]["created"] == int(found.group(1))
    await syncs.wait()
    assert "Succeeded" in _panel(await admin.get("/week"))


async def test_a_failed_run_is_shown_as_a_problem(sf: Connected) -> None:
    await _connected(sf)
    sf.emu.emulator.inject_failures("drop", 10)
    admin = await _browser(sf.world, ADMIN)
    assert (await admin.post("/week/sync")).status == 303
    await sf.world.services.syncs.wait()
    panel = _panel(await admin.get("/week"))
    assert "Failed" in panel and "The last run failed:" in panel and "unavailable" in panel.lower()


async def test_a_run_starting_elsewhere_is_said_on_the_page(sf: Connected) -> None:
    await _connected(sf)
    account = (await sf.admin.get("/api/v1/me")).body["account"]["id"]
    # Another server has just taken the account's lease and not yet recorded its run.
    await sf.world.services.store.sync_leases.insert_one(
        {"_id": account, "run_id": "elsewhere", "expires_at": clock.now() + dt.timedelta(minutes=5)}
    )
    admin = await _browser(sf.world, ADMIN)
    page = await admin.post("/week/sync")
    assert page.status == 409 and page.has("A sync is starting for this account.")
    assert await _runs(sf) == [("connect", "succeeded")]


async def test_without_a_connection_the_refusal_is_shown(world: World) -> None:
    admin = await _browser(world, ADMIN)
    assert "Not connected" in _panel(await admin.get("/week"))
    page = await admin.post("/week/sync")
    assert page.status == 409 and page.has("not connected; enable it first.")


async def test_the_form_needs_its_csrf_token(sf: Connected) -> None:
    await _connected(sf)
    admin = await _browser(sf.world, ADMIN)
    await admin.get("/week")
    assert (await admin.post("/week/sync", csrf=False)).status == 403
    assert await _runs(sf) == [("connect", "succeeded")]


async def test_other_users_see_none_of_it(sf: Connected) -> None:
    await _connected(sf)
    await sf.admin.add_user(BOB)
    bob = await _browser(sf.world, BOB)
    page = await bob.get("/week")
    assert page.status == 200
    assert "Force synchronization" not in page.text and "card sync" not in page.text
    refused = await bob.post("/week/sync")
    assert refused.status == 403 and refused.has("Only administrators can do this.")
    assert await _runs(sf) == [("connect", "succeeded")]


async def test_the_panel_alone_is_what_the_pages_script_fetches(sf: Connected) -> None:
    await _connected(sf)
    admin = await _browser(sf.world, ADMIN)
    week = await admin.get("/week")
    assert f'data-live="{PANEL}"' in week.text and 'src="/static/sync-panel.js"' in week.text
    policy = week.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy

    sf.emu.emulator.inject_failures("delay", 1, seconds=0.5)
    forced = await admin.post(PANEL)  # (the script's POST: the panel comes back, not a redirect)
    assert forced.status == 200 and "<html" not in forced.text
    assert "Running since" in _panel(forced) and "(force)" in _panel(forced)
    assert f'data-refresh="{REFRESH_SECONDS}"' in forced.text  # look again while it runs
    await sf.world.services.syncs.wait()
    done = await admin.get(PANEL)
    assert done.status == 200 and "Succeeded" in _panel(done) and 'data-refresh=""' in done.text
    assert await _runs(sf) == [("force", "succeeded"), ("connect", "succeeded")]


async def test_the_panels_refusal_is_shown_in_it(world: World) -> None:
    admin = await _browser(world, ADMIN)
    refused = await admin.post(PANEL)
    assert refused.status == 409 and "not connected; enable it first." in _panel(refused)
    assert (await admin.post(PANEL, csrf=False)).status == 403


async def test_nobody_else_may_look_at_the_panel_nor_run_a_script(sf: Connected) -> None:
    await _connected(sf)
    await sf.admin.add_user(BOB)
    bob = await _browser(sf.world, BOB)
    week = await bob.get("/week")
    assert (
        "script-src" not in week.headers["Content-Security-Policy"] and "<script" not in week.text
    )
    for answer in (await bob.get(PANEL), await bob.post(PANEL)):
        assert answer.status == 403 and answer.has("Only administrators can do this.")
    assert await _runs(sf) == [("connect", "succeeded")]
