"""Importing and syncing the Salesforce project tree, against the emulator over real HTTPS."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sf_support import (
    INTEGRATION,
    AiohttpClient,
    Connected,
    account_id,
    connected_world,
)

from salesforce_emulator.seeding import SeedSpec
from server import clock
from server.sync import runs as runs_module
from server.sync.engine import Plan, Read, pack
from server.sync.importer import Importer, record_key
from server.sync.objects import CASE, OPPORTUNITY
from server.sync.runs import Syncs
from server.sync.scheduler import SyncScheduler
from server.tree import source_key
from server.tree_index import AccountIndex


async def connect_and_import(sf: Connected) -> dict[str, Any]:
    page = await sf.authorize()
    assert page.status_code == 200, page.text
    await sf.world.services.syncs.wait()
    return await last_run(sf)


async def sync(sf: Connected) -> dict[str, Any]:
    r = await sf.admin.post(f"{INTEGRATION}/sync")
    assert r.status == 202, r.body
    await sf.world.services.syncs.wait()
    return await last_run(sf)


async def last_run(sf: Connected) -> dict[str, Any]:
    runs = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
    assert runs, "no run recorded"
    return dict(runs[0])


async def task_for(sf: Connected, record_id: str) -> dict[str, Any]:
    r = await sf.admin.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
    assert r.status == 200, r.body
    return dict(r.body)


async def imported_count(sf: Connected) -> int:
    account = await account_id(sf.admin)
    return await sf.world.services.store.tasks.count(
        {"account_id": account, "source": {"$ne": None}}
    )


def records(sf: Connected, sobject: str) -> list[dict[str, Any]]:
    """The org's open records of a type (neither closed nor deleted), oldest first."""
    return [
        dict(r)
        for r in sf.emu.emulator.org.rows(sobject)
        if not r.get("IsClosed") and not r.get("IsDeleted")
    ]


# The first import --------------------------------------------------------------------------


async def test_connecting_imports_the_tree_at_once(sf: Connected) -> None:
    opp = sf.emu.emulator.org.insert(
        "Opportunity",
        {"Name": "Acme Renewal", "StageName": "Prospecting", "CloseDate": "2026-12-01"},
    )
    sf.emu.emulator.org.insert(
        "Task", {"Subject": "Call Alice", "WhatId": opp["Id"], "Status": "Not Started"}
    )

    run = await connect_and_import(sf)

    assert (run["trigger"], run["status"]) == ("connect", "succeeded")
    every = sum(1 for t in ("Opportunity", "Case") for _ in sf.emu.emulator.org.rows(t))
    assert run["counts"]["created"] == every + 1
    assert run["api_calls"] == 1  # every object's first (and only) page in one Composite call
    task = await task_for(sf, opp["Id"])
    assert task["path"] == ["Salesforce", "Opportunities"]
    assert task["locked"] is True
    assert task["source"] == {
        "system": "salesforce",
        "object": "Opportunity",
        "id": opp["Id"],
        "url": f"{sf.emu.instance_url}/{opp['Id']}",
    }
    children = (await sf.admin.get(f"/api/v1/tasks/{task['id']}/children")).body["items"]
    assert [c["name"] for c in children] == ["Call Alice"]
    assert children[0]["path"] == ["Salesforce", "Opportunities", "Acme Renewal"]
    project_id = (await sf.admin.get(INTEGRATION)).body["project_id"]
    project = (await sf.admin.get(f"/api/v1/tasks/{project_id}")).body
    assert (project["name"], project["kind"], project["locked"]) == ("Salesforce", "project", True)
    folders = (await sf.admin.get(f"/api/v1/tasks/{project_id}/children")).body["items"]
    assert [f["name"] for f in folders] == ["Cases", "Opportunities"]
    case = records(sf, "Case")[0]
    assert (await task_for(sf, case["Id"]))["name"] == f"{case['CaseNumber']}: {case['Subject']}"


async def test_every_user_becomes_regular_on_the_project_and_so_do_later_ones(
    sf: Connected,
) -> None:
    bob = await sf.admin.add_user("bob@acme.test")
    await connect_and_import(sf)
    opp = records(sf, "Opportunity")[0]
    task = await task_for(sf, opp["Id"])
    assert (await bob.get(f"/api/v1/tasks/{task['id']}")).body["my_role"] == "regular"
    assert (await bob.post("/api/v1/timer/start", {"task_id": task["id"]})).status == 201

    carl = await sf.admin.add_user("carl@acme.test")
    assert (await carl.get(f"/api/v1/tasks/{task['id']}")).body["my_role"] == "regular"


async def test_syncing_again_duplicates_nothing_and_costs_one_call(sf: Connected) -> None:
    await connect_and_import(sf)
    before = await imported_count(sf)
    calls = sf.emu.api_calls
    run = await sync(sf)
    assert sf.emu.api_calls - calls == run["api_calls"] == 1
    assert run["status"] == "succeeded" and run["trigger"] == "force"
    assert run["counts"] == {"created": 0, "updated": 0, "archived": 0, "restored": 0}
    assert await imported_count(sf) == before


async def test_a_composite_holds_at_most_five_queries_and_25_subrequests() -> None:
    units = [
        [Read(OPPORTUNITY, "records", f"q{i}"), Read(OPPORTUNITY, "deleted", f"d{i}")]
        for i in range(12)
    ]
    calls = pack(units)
    assert [len(c) for c in calls] == [10, 10, 4]
    assert [r.url for c in calls for r in c] == [r.url for u in units for r in u]
    deletions = pack([[Read(CASE, "deleted", f"d{i}")] for i in range(30)])
    assert [len(c) for c in deletions] == [25, 5]


def test_a_deletions_window_gives_its_bounds_with_an_offset_encoded() -> None:
    # SALESFORCE.md §3.1: `2026-03-01T00:00:00+00:00`, URL-encoded; `Z` is not shown to work.
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    window = (start, start + dt.timedelta(hours=1))
    plan = Plan(OPPORTUNITY, ("",), False, start, start, window, "66.0")
    deleted = plan.reads()[-1]
    assert deleted.kind == "deleted"
    assert deleted.url == (
        "v66.0/sobjects/Opportunity/deleted/"
        "?start=2026-03-01T00%3A00%3A00%2B00%3A00&end=2026-03-01T01%3A00%3A00%2B00%3A00"
    )


def both_clocks(sf: Connected, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move Salesforce's clock and this server's together, as time passes for both."""
    offset = dt.timedelta(0)
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + offset)

    def advance(seconds: float) -> None:
        nonlocal offset
        offset += dt.timedelta(seconds=seconds)
        sf.emu.emulator.advance_clock(seconds)

    return advance


def read_everything(sf: Connected) -> list[str]:
    """The queries Salesforce answered that read records without a `SystemModstamp` bound."""
    return [q for q in sf.emu.emulator.queries if "SystemModstamp >=" not in q]


async def test_records_unchanged_for_weeks_are_not_read_again(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connect_and_import(sf)
    advance = both_clocks(sf, monkeypatch)
    nothing = {"created": 0, "updated": 0, "archived": 0, "restored": 0}
    for _ in range(4):  # twenty quiet days, a sync every five
        advance(5 * 86400)
        sf.emu.emulator.queries.clear()
        calls = sf.emu.api_calls
        run = await sync(sf)
        assert (run["counts"], run["api_calls"]) == (nothing, 1)
        assert sf.emu.api_calls - calls == 1
        assert read_everything(sf) == []

    advance(20 * 86400)  # twenty days without any sync: deletions are beyond the log
    assert (await sync(sf))["status"] == "succeeded"
    sf.emu.emulator.queries.clear()
    calls = sf.emu.api_calls
    run = await sync(sf)
    assert (run["counts"], run["api_calls"], sf.emu.api_calls - calls) == (nothing, 1, 1)
    assert read_everything(sf) == []


async def test_a_record_committed_late_with_an_earlier_stamp_is_not_missed(
    sf: Connected,
) -> None:
    await connect_and_import(sf)
    org = sf.emu.emulator.org
    opp = records(sf, "Opportunity")[0]
    org.update(opp["Id"], {"Name": "Renamed"})
    await sync(sf)
    late = sf.emu.emulator.create_record(
        "Opportunity",
        {"Name": "Committed late", "StageName": "Prospecting", "CloseDate": "2027-01-01"},
        stamped_seconds_ago=60,
    )
    assert late["SystemModstamp"] < org.require(opp["Id"])["SystemModstamp"]

    run = await sync(sf)

    assert run["counts"]["created"] == 1
    assert (await task_for(sf, late["Id"]))["name"] == "Committed late"


async def test_windows_run_on_salesforces_clock_not_the_servers(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf.emu.emulator.advance_clock(3 * 86400)  # the org's clock is days ahead of this server's
    await connect_and_import(sf)
    org = sf.emu.emulator.org
    first, second = records(sf, "Opportunity")[:2]
    org.update(first["Id"], {"Name": "Changed"})
    org.delete(second["Id"])
    org.purge(second["Id"])
    both_clocks(sf, monkeypatch)(120)  # `…/deleted` counts whole minutes

    calls = sf.emu.api_calls
    run = await sync(sf)

    assert (run["status"], run["api_calls"], sf.emu.api_calls - calls) == ("succeeded", 1, 1)
    assert (await task_for(sf, first["Id"]))["name"] == "Changed"
    assert (await task_for(sf, second["Id"]))["archived"] is True


async def erase_an_opportunity_after_a_sync(
    sf: Connected, advance: Callable[[float], None], seconds: float
) -> dict[str, Any]:
    """Import, sync `seconds` later (the deletions cursor then later than the import), then
    delete an opportunity and empty the recycle bin, which purges the delete log with it: the
    next sync, `seconds` later, can find the deletion only by reading every live id. Returns
    the opportunity; the queries seen so far are forgotten."""
    await connect_and_import(sf)
    advance(seconds)
    await sync(sf)
    opp = records(sf, "Opportunity")[0]
    sf.emu.emulator.org.delete(opp["Id"])
    sf.emu.emulator.empty_recycle_bin()
    advance(seconds)
    sf.emu.emulator.queries.clear()
    return opp


async def test_deletions_lost_with_an_emptied_recycle_bin_are_found_by_reading_ids(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    advance = both_clocks(sf, monkeypatch)
    opp = await erase_an_opportunity_after_a_sync(sf, advance, 120)

    calls = sf.emu.api_calls
    run = await sync(sf)

    assert (await task_for(sf, opp["Id"]))["archived"] is True
    assert run["api_calls"] == sf.emu.api_calls - calls == 2  # the sync, then every live id
    on_records = " AND (What.Type IN ('Opportunity', 'Case'))"
    assert read_everything(sf) == [
        "SELECT Id FROM Opportunity WHERE IsDeleted = false",
        "SELECT Id FROM Case WHERE IsDeleted = false",
        *(f"SELECT Id FROM {t} WHERE IsDeleted = false{on_records}" for t in ("Task", "Event")),
    ]
    advance(120)
    calls = sf.emu.api_calls
    assert (await sync(sf))["api_calls"] == sf.emu.api_calls - calls == 1


async def test_4500_opportunities_arrive_over_three_pages(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    spec = SeedSpec(users=1, accounts=5, opportunities=4500, cases=0, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as sf:
        calls_before = sf.emu.api_calls
        run = await connect_and_import(sf)
        assert run["status"] == "succeeded", run
        assert run["counts"]["created"] == 4500
        assert await imported_count(sf) == 4500
        # The API-access check at connect, one Composite call with every object's first page,
        # and the two further pages of opportunities.
        assert sf.emu.api_calls - calls_before == 1 + 1 + 2
        assert run["api_calls"] == 3
        found = await sf.admin.get("/api/v1/tasks", q=records(sf, "Opportunity")[-1]["Name"])
        assert found.body["items"]


# Archiving rules ---------------------------------------------------------------------------


async def test_closed_won_archives_but_a_custom_closed_stage_stays_active(sf: Connected) -> None:
    await connect_and_import(sf)
    won, custom = records(sf, "Opportunity")[:2]
    sf.emu.emulator.org.close(won["Id"], "Closed Won")
    sf.emu.emulator.org.close(custom["Id"], "Closed - Duplicate")

    run = await sync(sf)

    assert run["counts"]["archived"] == 1
    assert (await task_for(sf, won["Id"]))["archived"] is True
    assert (await task_for(sf, custom["Id"]))["archived"] is False


async def test_a_closed_case_is_archived_and_restored_when_reopened(sf: Connected) -> None:
    await connect_and_import(sf)
    case = records(sf, "Case")[0]
    sf.emu.emulator.org.close(case["Id"])
    assert (await sync(sf))["counts"]["archived"] == 1
    task = await task_for(sf, case["Id"])
    assert task["archived"] is True
    refused = await sf.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    assert (refused.status, refused.code) == (409, "task_archived")

    sf.emu.emulator.org.reopen(case["Id"])
    assert (await sync(sf))["counts"]["restored"] == 1
    assert (await task_for(sf, case["Id"]))["archived"] is False


async def test_deleted_undeleted_and_purged_records(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connect_and_import(sf)
    first, second = records(sf, "Opportunity")[:2]
    org = sf.emu.emulator.org
    org.delete(first["Id"])
    await sync(sf)
    assert (await task_for(sf, first["Id"]))["archived"] is True
    org.undelete(first["Id"])
    await sync(sf)
    assert (await task_for(sf, first["Id"]))["archived"] is False

    org.delete(second["Id"])
    org.purge(second["Id"])
    # `…/deleted` counts whole minutes: let two pass, on both sides.
    sf.emu.emulator.advance_clock(120)
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + dt.timedelta(minutes=2))
    await sync(sf)
    assert (await task_for(sf, second["Id"]))["archived"] is True


async def test_archiving_keeps_entries_and_a_running_timer(sf: Connected) -> None:
    await connect_and_import(sf)
    opp = records(sf, "Opportunity")[0]
    task = await task_for(sf, opp["Id"])
    await sf.admin.post(
        "/api/v1/entries", {"task_id": task["id"], "start": "2026-03-02T09:00:00Z", "duration": 900}
    )
    await sf.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    sf.emu.emulator.org.close(opp["Id"], "Closed Lost")
    await sync(sf)
    assert (await sf.admin.get("/api/v1/timer")).body["running"] is True
    report = await sf.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-03-01", "to": "2026-03-03"}
    )
    assert report.body["total_seconds"] == 900


# Activities ---------------------------------------------------------------------------------


async def test_an_activity_moving_to_another_opportunity_moves_its_subtask(sf: Connected) -> None:
    org = sf.emu.emulator.org
    one, two = records(sf, "Opportunity")[:2]
    activity = org.insert(
        "Task", {"Subject": "Send quote", "WhatId": one["Id"], "Status": "Not Started"}
    )
    await connect_and_import(sf)
    subtask = await task_for(sf, activity["Id"])
    assert subtask["parent_id"] == (await task_for(sf, one["Id"]))["id"]

    org.update(activity["Id"], {"WhatId": two["Id"]})
    run = await sync(sf)

    moved = await task_for(sf, activity["Id"])
    assert moved["id"] == subtask["id"]
    assert moved["parent_id"] == (await task_for(sf, two["Id"]))["id"]
    assert moved["path"] == ["Salesforce", "Opportunities", two["Name"]]
    assert run["counts"]["updated"] == 1


async def test_search_follows_each_sync_without_reloading_the_tree(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = sf.emu.emulator.org
    one, two, three = records(sf, "Opportunity")[:3]
    org.insert("Task", {"Subject": "Draft proposal", "WhatId": one["Id"], "Status": "Not Started"})
    assert (await sf.admin.get("/api/v1/tasks", q="draft proposal")).body["items"] == []
    reloads = 0
    real_finish = AccountIndex.finish

    def counting_finish(index: AccountIndex) -> None:  # once per load of the whole tree
        nonlocal reloads
        reloads += 1
        real_finish(index)

    monkeypatch.setattr(AccountIndex, "finish", counting_finish)
    await connect_and_import(sf)
    assert (await sf.admin.get("/api/v1/tasks", q="draft proposal")).body["items"]

    org.update(one["Id"], {"Name": "Zeppelin renewal"})
    org.close(two["Id"], "Closed Won")
    org.insert(
        "Opportunity",
        {"Name": "Quokka expansion", "StageName": "Prospecting", "CloseDate": "2027-01-01"},
    )
    await sync(sf)

    async def names(q: str) -> list[str]:
        return [t["name"] for t in (await sf.admin.get("/api/v1/tasks", q=q)).body["items"]]

    assert await names("zeppelin") == ["Zeppelin renewal"]
    assert await names(one["Name"]) == []
    assert await names("quokka") == ["Quokka expansion"]
    assert await names(two["Name"]) == []  # archived: not offered
    assert await names(three["Name"]) == [three["Name"]]
    activity = (await sf.admin.get("/api/v1/tasks", q="draft proposal")).body["items"]
    assert [a["path"] for a in activity] == [["Salesforce", "Opportunities", "Zeppelin renewal"]]
    assert reloads == 0


async def test_a_completed_activity_is_archived(sf: Connected) -> None:
    org = sf.emu.emulator.org
    opp = records(sf, "Opportunity")[0]
    activity = org.insert("Task", {"Subject": "Demo", "WhatId": opp["Id"], "Status": "Not Started"})
    await connect_and_import(sf)
    org.close(activity["Id"])
    await sync(sf)
    assert (await task_for(sf, activity["Id"]))["archived"] is True


# Roles survive syncs ------------------------------------------------------------------------


async def test_a_manual_unassignment_survives_ten_syncs(sf: Connected) -> None:
    bob = await sf.admin.add_user("bob@acme.test")
    await connect_and_import(sf)
    project_id = (await sf.admin.get(INTEGRATION)).body["project_id"]
    removed = await sf.admin.delete(f"/api/v1/tasks/{project_id}/members/{bob.id}", scope="subtree")
    assert removed.status == 204
    for _ in range(10):
        assert (await sync(sf))["status"] == "succeeded"
    assert (await bob.get("/api/v1/tasks")).body["items"] == []
    assert (await bob.get(f"/api/v1/tasks/{project_id}")).status == 404


# Runs and failures --------------------------------------------------------------------------


async def test_a_force_sync_while_one_runs_returns_the_running_one(sf: Connected) -> None:
    await connect_and_import(sf)
    sf.emu.emulator.inject_failures("delay", 1, seconds=0.5)
    first = await sf.admin.post(f"{INTEGRATION}/sync")
    second = await sf.admin.post(f"{INTEGRATION}/sync")
    assert first.status == second.status == 202
    assert second.body["run"]["id"] == first.body["run"]["id"]
    assert second.body["run"]["status"] == "running"
    await sf.world.services.syncs.wait()


async def imported_keys(sf: Connected) -> list[str]:
    account = await account_id(sf.admin)
    docs = await sf.world.services.store.tasks.find(
        {"account_id": account, "source": {"$ne": None}}, projection={"source_key": 1}
    )
    return [d["source_key"] for d in docs]


async def org_keys(sf: Connected, *sobjects: str) -> set[str]:
    account = await account_id(sf.admin)
    return {
        source_key(account, record_key(r["Id"]))
        for t in sobjects
        for r in sf.emu.emulator.org.rows(t)
    }


async def test_an_expired_query_locator_restarts_that_query_once_losing_nothing(
    sf: Connected,
) -> None:
    # SALESFORCE.md §4.2: INVALID_QUERY_LOCATOR (a bad or expired nextRecordsUrl) restarts the
    # query once. Opportunities come in three pages of two; their second page's locator has
    # expired, so they are read again from the first page.
    sf.emu.emulator.set_page_size(2)
    sf.emu.emulator.inject_failures("expired_locator")
    calls = sf.emu.api_calls
    run = await connect_and_import(sf)
    assert (run["status"], run["warnings"]) == ("succeeded", [])
    keys = await imported_keys(sf)
    assert len(keys) == len(set(keys)) == 10  # nothing lost, nothing twice
    assert set(keys) == await org_keys(sf, "Opportunity", "Case")
    archived = await sf.world.services.store.tasks.count(
        {"account_id": await account_id(sf.admin), "source": {"$ne": None}, "archived": True}
    )
    # Each record counted once, although the first page of opportunities was read twice.
    assert run["counts"] == {"created": 10, "updated": 0, "archived": archived, "restored": 0}
    # Every call the restart cost is counted, as Salesforce counted it: the Composite call, the
    # refused page, the first page again (a Composite call), the two pages after it, the second
    # page of cases (and the API-access check at connect, which is not the run's).
    assert run["api_calls"] == sf.emu.api_calls - calls - 1 == 6

    # The cursor did not run ahead of what was read: a later change is read.
    sf.emu.emulator.set_page_size(2000)
    opportunity = next(iter(sf.emu.emulator.org.rows("Opportunity")))
    sf.emu.emulator.org.update(opportunity["Id"], {"Name": "Renamed after the restart"})
    again = await sync(sf)
    assert (again["status"], again["counts"]["updated"]) == ("succeeded", 1)
    assert (await task_for(sf, opportunity["Id"]))["name"] == "Renamed after the restart"


async def test_a_second_expired_locator_in_a_run_skips_that_object_with_a_warning(
    sf: Connected,
) -> None:
    sf.emu.emulator.set_page_size(2)
    sf.emu.emulator.inject_failures("expired_locator", 2)  # the restarted query's too
    run = await connect_and_import(sf)
    assert run["status"] == "succeeded"
    [warning] = run["warnings"]
    assert (warning["object"], warning["code"]) == ("Opportunity", "INVALID_QUERY_LOCATOR")
    assert "restarted" in warning["message"]
    assert "Opportunity" not in ((await sf.raw()).get("cursors") or {})  # read again next run
    keys = await imported_keys(sf)
    assert (await org_keys(sf, "Case")) <= set(keys)  # the other objects synced

    sf.emu.emulator.set_page_size(2000)
    after = await sync(sf)
    assert (after["status"], after["warnings"]) == ("succeeded", [])
    keys = await imported_keys(sf)
    assert len(keys) == len(set(keys)) == 10
    assert set(keys) == await org_keys(sf, "Opportunity", "Case")


async def test_reading_every_live_id_restarts_on_an_expired_locator_too(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    advance = both_clocks(sf, monkeypatch)
    opp = await erase_an_opportunity_after_a_sync(sf, advance, 600)
    sf.emu.emulator.set_page_size(2)
    sf.emu.emulator.inject_failures("expired_locator")  # the live opportunities' second page

    run = await sync(sf)

    assert (run["status"], run["warnings"]) == ("succeeded", [])
    ids_query = "SELECT Id FROM Opportunity WHERE IsDeleted = false"
    assert read_everything(sf).count(ids_query) == 2  # started over once
    assert (await task_for(sf, opp["Id"]))["archived"] is True
    for record in records(sf, "Opportunity"):  # the open ones left stay active
        assert (await task_for(sf, record["Id"]))["archived"] is False


async def test_outages_are_retried_then_recorded_and_the_next_run_completes(
    sf: Connected,
) -> None:
    await connect_and_import(sf)
    new = sf.emu.emulator.org.insert(
        "Opportunity", {"Name": "Late Deal", "StageName": "Prospecting", "CloseDate": "2026-12-01"}
    )
    sf.emu.emulator.inject_failures("unavailable", 2)
    assert (await sync(sf))["status"] == "succeeded"  # two 503s, retried
    sf.emu.emulator.inject_failures("server_error", 2)
    calls = sf.emu.api_calls
    retried = await sync(sf)  # two 500 UNKNOWN_EXCEPTIONs, retried (bounded, SALESFORCE.md §4.2)
    assert (retried["status"], retried["api_calls"]) == ("succeeded", sf.emu.api_calls - calls)
    sf.emu.emulator.inject_failures("unavailable", 10)
    down = await sync(sf)  # (a maintenance page is named by its status, never quoted)
    assert (down["status"], down["error"]) == ("failed", "Salesforce unavailable: HTTP 503")
    sf.emu.emulator.faults.clear()
    sf.emu.emulator.org.update(new["Id"], {"Name": "Later Deal"})
    sf.emu.emulator.inject_failures("drop", 10)
    failed = await sync(sf)
    assert failed["status"] == "failed" and "unavailable" in failed["error"].lower()
    sf.emu.emulator.faults.clear()
    assert (await sync(sf))["status"] == "succeeded"
    assert (await task_for(sf, new["Id"]))["name"] == "Later Deal"


async def test_sync_needs_a_connection(sf: Connected) -> None:
    r = await sf.admin.post(f"{INTEGRATION}/sync")
    assert (r.status, r.code) == (409, "not_connected")


async def test_the_record_key_of_an_imported_task_is_its_18_character_id(sf: Connected) -> None:
    await connect_and_import(sf)
    opp = records(sf, "Opportunity")[0]
    account = await account_id(sf.admin)
    doc = await sf.world.services.store.tasks.find_one(
        {"source_key": source_key(account, record_key(opp["Id"]))}
    )
    assert doc is not None and doc["account_id"] == account and len(opp["Id"]) == 18


async def test_active_integrations_sync_on_schedule(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    spec = SeedSpec(users=1, accounts=1, opportunities=3, cases=0, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, sync_interval_seconds=1) as sf:
        await connect_and_import(sf)
        status = (await sf.admin.get(INTEGRATION)).body
        assert status["next_run_at"] is not None
        for _ in range(60):
            runs = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
            if any(r["trigger"] == "schedule" for r in runs):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no scheduled run within 6 seconds")
        await sf.world.services.syncs.wait()


async def test_two_server_processes_never_sync_one_account_at_once(sf: Connected) -> None:
    await connect_and_import(sf)
    services = sf.world.services
    # A second process on the same database: its own Syncs over the same store.
    other = Syncs(services.store, services.tree, services.integrations)
    sf.emu.emulator.inject_failures("delay", 1, seconds=0.3)
    account = await account_id(sf.admin)
    mine, theirs = await asyncio.gather(
        services.syncs.start(account, "force"), other.start(account, "schedule")
    )
    assert mine["_id"] == theirs["_id"]
    await services.syncs.wait()
    await other.wait()
    runs = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]  # the import and one more


async def test_with_two_server_processes_an_account_syncs_once_per_interval(
    sf: Connected,
) -> None:
    await connect_and_import(sf)
    services = sf.world.services
    other = Syncs(services.store, services.tree, services.integrations)
    mine = SyncScheduler(services.store, services.syncs, 3600)
    theirs = SyncScheduler(services.store, other, 3600)
    for scheduler, syncs in ((mine, services.syncs), (theirs, other), (mine, services.syncs)):
        await scheduler.tick()
        await syncs.wait()
    runs = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
    assert [r["trigger"] for r in runs] == ["schedule", "connect"]


async def test_a_long_first_import_keeps_its_lease_and_a_force_sync_joins_it(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lease = dt.timedelta(seconds=5)
    monkeypatch.setattr(runs_module, "LEASE", lease)
    spec = SeedSpec(users=1, accounts=5, opportunities=4500, cases=2500, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as sf:
        # Every REST call slow (the access check, the first pages, then three more pages): the
        # run takes twice its lease, and renews it with every page.
        sf.emu.emulator.inject_failures("delay", 5, seconds=2.0)
        assert (await sf.authorize()).status_code == 200
        first = await last_run(sf)
        started = dt.datetime.fromisoformat(first["started_at"].replace("Z", "+00:00"))
        # Until the run has outlived its first lease.
        outlived = started + lease + dt.timedelta(seconds=0.5)
        await asyncio.sleep(max((outlived - clock.now()).total_seconds(), 0))

        again = await sf.admin.post(f"{INTEGRATION}/sync")

        assert again.status == 202
        assert (again.body["run"]["id"], again.body["run"]["status"]) == (first["id"], "running")
        await sf.world.services.syncs.wait()
        runs = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
        assert [(r["trigger"], r["status"]) for r in runs] == [("connect", "succeeded")]


async def test_a_crash_between_pages_then_a_clean_run_gives_exactly_the_emulators_tree(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = SeedSpec(users=1, accounts=5, opportunities=4100, cases=10, activities=300)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as sf:
        real_apply = Importer.apply
        pages = 0

        async def apply_then_die(self: Importer, *args: Any, **kwargs: Any) -> set[str]:
            nonlocal pages
            pages += 1
            if pages == 2:
                raise asyncio.CancelledError  # the process is killed mid-import
            return await real_apply(self, *args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(Importer, "apply", apply_then_die)
            crashed = await connect_and_import(sf)
        assert (crashed["status"], crashed["error"]) == ("failed", "interrupted")
        assert 0 < await imported_count(sf) < 4100

        assert (await sync(sf))["status"] == "succeeded"

        org = sf.emu.emulator.org
        expected = {
            record_key(r["Id"])
            for t in ("Opportunity", "Case", "Task")
            for r in org.rows(t)
            if t != "Task" or org.type_of(org.require(r["WhatId"])) in ("Opportunity", "Case")
        }
        account = await account_id(sf.admin)
        docs = await sf.world.services.store.tasks.find(
            {"account_id": account, "source": {"$ne": None}}, projection={"source_key": 1}
        )
        keys = [d["source_key"] for d in docs]
        assert len(keys) == len(set(keys))  # no duplicates
        assert set(keys) == {source_key(account, k) for k in expected}


async def test_an_exhausted_api_limit_fails_the_run_with_that_reason(sf: Connected) -> None:
    await connect_and_import(sf)
    sf.emu.emulator.set_api_limit(limit=1, used=1)
    run = await sync(sf)
    assert run["status"] == "failed"
    # The refusal carries no usage (Salesforce need not send it), and the usage known from the
    # last answer, far below the limit, is not quoted as if it were the reason.
    assert run["error"] == (
        "Salesforce's daily API limit is reached; syncing resumes when it frees up."
    )
    assert run["api_calls"] == 0  # a refused call is not counted

    # A quiet sync costs one call: the last of the day, which its answer says.
    sf.emu.emulator.set_api_limit(limit=sf.emu.emulator.api_calls + 1)
    assert (await sync(sf))["status"] == "succeeded"
    used = sf.emu.emulator.api_calls
    run = await sync(sf)
    assert run["error"] == (
        f"Salesforce's daily API limit is reached ({used}/{used} calls in 24 h); "
        "syncing resumes when it frees up."
    )


async def test_scheduled_syncs_pause_at_90_percent_of_the_api_limit_and_forced_ones_go(
    sf: Connected,
) -> None:
    await connect_and_import(sf)
    services = sf.world.services
    sf.emu.emulator.set_api_limit(limit=1000, used=899)
    assert (await sync(sf))["status"] == "succeeded"  # now at 900 of 1000
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("active", "api_limit")
    assert "900 of 1000" in status["message"]
    before = len((await sf.admin.get(f"{INTEGRATION}/runs")).body["items"])

    await services.scheduler.tick()
    await services.syncs.wait()
    assert len((await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]) == before
    assert (await sync(sf))["trigger"] == "force"  # forced runs still go

    sf.emu.emulator.set_api_limit(limit=100_000)
    assert (await sync(sf))["status"] == "succeeded"
    assert (await sf.status())["reason"] is None
    await services.scheduler.tick()
    await services.syncs.wait()
    assert (await last_run(sf))["trigger"] == "schedule"


# Selection -----------------------------------------------------------------------


async def select(sf: Connected, body: dict[str, Any]) -> dict[str, Any]:
    r = await sf.admin.put(f"{INTEGRATION}/selection", body)
    assert r.status == 200, r.body
    await sf.world.services.syncs.wait()
    return await last_run(sf)


async def test_selecting_two_opportunities_archives_the_others_and_all_restores_them(
    sf: Connected,
) -> None:
    await connect_and_import(sf)
    opps = records(sf, "Opportunity")
    chosen = [opps[0]["Id"], opps[1]["Id"][:15]]  # a 15-character id is fine too

    run = await select(
        sf,
        {
            "objects": {"Opportunity": {"enabled": True, "mode": "selected", "ids": chosen}},
            "activities": True,
        },
    )

    assert run["trigger"] == "selection" and run["status"] == "succeeded"
    assert run["counts"]["archived"] == len(opps) - 2
    assert (await task_for(sf, opps[0]["Id"]))["archived"] is False
    assert (await task_for(sf, opps[1]["Id"]))["archived"] is False
    assert (await task_for(sf, opps[2]["Id"]))["archived"] is True
    assert (await task_for(sf, records(sf, "Case")[0]["Id"]))["archived"] is False
    trackable = (await sf.admin.get("/api/v1/tasks", q=opps[2]["Name"], trackable=True)).body
    assert opps[2]["Id"] not in [t["source"] and t["source"]["id"] for t in trackable["items"]]

    before = await imported_count(sf)
    back = await select(
        sf, {"objects": {"Opportunity": {"enabled": True, "mode": "all"}}, "activities": True}
    )
    assert back["counts"]["restored"] == len(opps) - 2
    assert (await task_for(sf, opps[2]["Id"]))["archived"] is False
    assert await imported_count(sf) == before  # restored, never duplicated


async def test_turning_a_type_off_archives_it_and_on_restores_it(sf: Connected) -> None:
    await connect_and_import(sf)
    case = records(sf, "Case")[0]
    await select(sf, {"objects": {"Case": {"enabled": False}}, "activities": True})
    assert (await task_for(sf, case["Id"]))["archived"] is True
    await select(sf, {"objects": {"Case": {"enabled": True}}, "activities": True})
    assert (await task_for(sf, case["Id"]))["archived"] is False


async def test_a_malformed_selection_is_refused_naming_the_field(sf: Connected) -> None:
    cases = [
        ({"objects": {"Lead": {"enabled": True}}, "activities": True}, "objects.Lead"),
        ({"objects": {"Case": {"mode": "some"}}, "activities": True}, "objects.Case.mode"),
        (
            {"objects": {"Case": {"mode": "selected", "ids": ["nope"]}}, "activities": True},
            "objects.Case.ids[0]",
        ),
        ({"objects": {}, "activities": "yes"}, "activities"),
    ]
    for body, field in cases:
        r = await sf.admin.put(f"{INTEGRATION}/selection", body)
        assert (r.status, r.code) == (400, "invalid_request"), body
        assert field in r.body["error"]["message"]
