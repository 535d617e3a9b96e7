"""Salesforce as a real org behaves: objects the user may not read, meetings (Events), and
selections that name items, against the emulator over real HTTPS."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sf_support import (
    INTEGRATION,
    AiohttpClient,
    Connected,
    connected_world,
)

from salesforce_emulator.seeding import SeedSpec
from server import clock
from server.sync import planning
from server.sync.objects import EVENT, OPPORTUNITY
from server.sync.planning import Read, pack

NOTHING = {"created": 0, "updated": 0, "archived": 0, "restored": 0}


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


async def select(sf: Connected, body: dict[str, Any]) -> None:
    r = await sf.admin.put(f"{INTEGRATION}/selection", body)
    assert r.status == 200, r.body
    await sf.world.services.syncs.wait()


async def last_run(sf: Connected) -> dict[str, Any]:
    runs = (await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]
    assert runs, "no run recorded"
    return dict(runs[0])


async def task_for(sf: Connected, record_id: str) -> dict[str, Any]:
    r = await sf.admin.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
    assert r.status == 200, r.body
    return dict(r.body)


async def imported(sf: Connected, record_id: str) -> bool:
    r = await sf.admin.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
    return r.status == 200


def records(sf: Connected, sobject: str) -> list[dict[str, Any]]:
    """The org's open records of a type (neither closed nor deleted), oldest first."""
    return [
        dict(r)
        for r in sf.emu.emulator.org.rows(sobject)
        if not r.get("IsClosed") and not r.get("IsDeleted")
    ]


def salesforce_now(sf: Connected) -> dt.datetime:
    now: dt.datetime = sf.emu.emulator.clock.now()
    return now


def meeting(sf: Connected, what_id: str, subject: str, starts_in_minutes: float) -> dict[str, Any]:
    start = salesforce_now(sf) + dt.timedelta(minutes=starts_in_minutes)
    return dict(
        sf.emu.emulator.org.insert(
            "Event",
            {
                "Subject": subject,
                "WhatId": what_id,
                "StartDateTime": start,
                "DurationInMinutes": 30,
            },
        )
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


# Objects the user may not read --------------------------------------------------------------


async def test_an_unreadable_object_is_skipped_with_a_warning_and_caught_up_later(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = sf.emu.emulator.org
    await connect_and_import(sf)
    advance = both_clocks(sf, monkeypatch)
    advance(120)
    first, second = records(sf, "Case")[:2]
    org.update(first["Id"], {"Subject": "Renamed while hidden"})
    org.close(second["Id"])
    opp = records(sf, "Opportunity")[0]
    call = org.insert("Task", {"Subject": "Call", "WhatId": opp["Id"], "Status": "Not Started"})
    demo = meeting(sf, opp["Id"], "Demo", starts_in_minutes=60)
    sf.emu.emulator.set_object_access("Case", False)

    run = await sync(sf)

    assert run["status"] == "succeeded" and run["error"] is None
    assert [(w["object"], w["code"]) for w in run["warnings"]] == [("Case", "INVALID_TYPE")]
    assert "Case" in run["warnings"][0]["message"]
    assert (await task_for(sf, call["Id"]))["archived"] is False
    assert (await task_for(sf, demo["Id"]))["archived"] is False
    # Unreadable is not deleted: every imported case is as it was.
    first_task = await task_for(sf, first["Id"])
    assert first_task["name"] == f"{first['CaseNumber']}: {first['Subject']}"
    assert first_task["archived"] is False
    assert (await task_for(sf, second["Id"]))["archived"] is False

    # A field hidden by field-level security: Task is skipped too, the rest goes on.
    advance(120)
    sf.emu.emulator.set_field_access("Task", "Subject", False)
    org.update(call["Id"], {"Subject": "Call back"})
    org.update(opp["Id"], {"Name": "Renamed opportunity"})
    run = await sync(sf)
    assert run["status"] == "succeeded"
    warnings = sorted((w["object"], w["code"]) for w in run["warnings"])
    assert warnings == [("Case", "INVALID_TYPE"), ("Task", "INVALID_FIELD")]
    assert (await task_for(sf, opp["Id"]))["name"] == "Renamed opportunity"
    assert (await task_for(sf, call["Id"]))["name"] == "Call"

    # Readable again: the next run catches up with what changed meanwhile.
    advance(120)
    sf.emu.emulator.set_object_access("Case", True)
    sf.emu.emulator.set_field_access("Task", "Subject", True)
    run = await sync(sf)
    assert (run["status"], run["warnings"]) == ("succeeded", [])
    assert (await task_for(sf, first["Id"]))["name"].endswith("Renamed while hidden")
    assert (await task_for(sf, second["Id"]))["archived"] is True
    assert (await task_for(sf, call["Id"]))["name"] == "Call back"


async def test_an_object_unreadable_at_the_first_import_arrives_when_readable(
    sf: Connected,
) -> None:
    sf.emu.emulator.set_object_access("Case", False)
    run = await connect_and_import(sf)
    assert run["status"] == "succeeded"
    assert [w["object"] for w in run["warnings"]] == ["Case"]
    case = records(sf, "Case")[0]
    assert not await imported(sf, case["Id"])
    assert await imported(sf, records(sf, "Opportunity")[0]["Id"])

    sf.emu.emulator.set_object_access("Case", True)
    run = await sync(sf)
    assert run["warnings"] == []
    assert (await task_for(sf, case["Id"]))["archived"] is False


# Meetings -----------------------------------------------------------------------------------


async def test_events_are_subtasks_archived_once_over_by_salesforces_clock(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    opp = records(sf, "Opportunity")[0]
    case = records(sf, "Case")[0]
    past = meeting(sf, opp["Id"], "Kick-off", starts_in_minutes=-120)
    soon = meeting(sf, opp["Id"], "Demo", starts_in_minutes=10)
    later = meeting(sf, case["Id"], "Review", starts_in_minutes=24 * 60)
    account = next(iter(sf.emu.emulator.org.rows("Account")))
    on_account = meeting(sf, account["Id"], "Lunch", starts_in_minutes=60)

    await connect_and_import(sf)

    opp_task = await task_for(sf, opp["Id"])
    for event, name in ((past, "Kick-off"), (soon, "Demo")):
        task = await task_for(sf, event["Id"])
        assert (task["name"], task["parent_id"]) == (name, opp_task["id"])
    demo = await task_for(sf, soon["Id"])
    assert demo["source"]["object"] == "Event" and demo["locked"] is True
    assert demo["path"] == ["Salesforce", "Opportunities", opp["Name"]]
    assert (await task_for(sf, past["Id"]))["archived"] is True
    assert (await task_for(sf, later["Id"]))["archived"] is False
    assert (await task_for(sf, later["Id"]))["parent_id"] == (await task_for(sf, case["Id"]))["id"]
    assert not await imported(sf, on_account["Id"])

    # The demo ends on Salesforce's clock (this server's stays behind): no field changes, and
    # the idle sync that archives it still costs one call.
    sf.emu.emulator.advance_clock(45 * 60)
    calls = sf.emu.api_calls
    run = await sync(sf)
    assert (run["api_calls"], sf.emu.api_calls - calls) == (1, 1)
    assert run["counts"] == {**NOTHING, "archived": 1}
    assert (await task_for(sf, soon["Id"]))["archived"] is True
    assert (await task_for(sf, later["Id"]))["archived"] is False

    # Moved into the future: it comes back; deleted: archived like a task.
    both_clocks(sf, monkeypatch)(120)
    org = sf.emu.emulator.org
    org.update(soon["Id"], {"StartDateTime": salesforce_now(sf) + dt.timedelta(days=2)})
    org.delete(later["Id"])
    run = await sync(sf)
    assert run["counts"]["restored"] == 1
    assert (await task_for(sf, soon["Id"]))["archived"] is False
    assert (await task_for(sf, later["Id"]))["archived"] is True


async def test_an_idle_sync_of_four_objects_costs_one_call(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    opp = records(sf, "Opportunity")[0]
    meeting(sf, opp["Id"], "Demo", starts_in_minutes=60)
    sf.emu.emulator.org.insert("Task", {"Subject": "Call", "WhatId": opp["Id"]})
    await connect_and_import(sf)
    both_clocks(sf, monkeypatch)(600)  # every deletions window is due
    calls = sf.emu.api_calls
    run = await sync(sf)
    assert (run["api_calls"], sf.emu.api_calls - calls, run["counts"]) == (1, 1, NOTHING)


# Selections that name items -----------------------------------------------------------------


async def test_an_idle_sync_with_checked_opportunities_costs_one_call(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connect_and_import(sf)
    chosen = [r["Id"] for r in records(sf, "Opportunity")[:2]]
    checked = {"enabled": True, "mode": "selected", "ids": chosen}
    await select(sf, {"objects": {"Opportunity": checked}, "activities": True})
    both_clocks(sf, monkeypatch)(600)
    sf.emu.emulator.queries.clear()
    calls = sf.emu.api_calls
    run = await sync(sf)
    assert (run["api_calls"], sf.emu.api_calls - calls, run["counts"]) == (1, 1, NOTHING)
    tasks = [q for q in sf.emu.emulator.queries if " FROM Task " in q]
    assert len(tasks) == 1 and "What.Type IN ('Case') OR WhatId IN (" in tasks[0]


async def test_an_opportunity_checked_later_brings_its_older_activities(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = sf.emu.emulator.org
    await connect_and_import(sf)
    first = records(sf, "Opportunity")[0]
    only_first = {"enabled": True, "mode": "selected", "ids": [first["Id"]]}
    await select(sf, {"objects": {"Opportunity": only_first}, "activities": True})
    # Created while not checked: read and left out, and every cursor moves past them.
    later = org.insert(
        "Opportunity", {"Name": "Later", "StageName": "Prospecting", "CloseDate": "2027-01-01"}
    )
    call = org.insert("Task", {"Subject": "Call", "WhatId": later["Id"]})
    demo = meeting(sf, later["Id"], "Demo", starts_in_minutes=7 * 24 * 60)
    advance = both_clocks(sf, monkeypatch)
    advance(3600)
    await sync(sf)
    assert not await imported(sf, later["Id"]) and not await imported(sf, call["Id"])
    advance(3600)
    await sync(sf)

    both = {**only_first, "ids": [first["Id"], later["Id"]]}
    await select(sf, {"objects": {"Opportunity": both}, "activities": True})

    assert (await last_run(sf))["status"] == "succeeded"
    later_task = await task_for(sf, later["Id"])
    for activity in (call, demo):
        task = await task_for(sf, activity["Id"])
        assert (task["parent_id"], task["archived"]) == (later_task["id"], False)

    # Unchecked again: it goes to the archive, and its activities with it.
    advance(3600)
    await select(sf, {"objects": {"Opportunity": only_first}, "activities": True})
    assert (await task_for(sf, later["Id"]))["archived"] is True
    assert (await task_for(sf, call["Id"]))["archived"] is True
    assert (await task_for(sf, demo["Id"]))["archived"] is True


async def test_activities_turned_on_later_arrive_however_old(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connect_and_import(sf)
    await select(sf, {"objects": {}, "activities": False})
    opp = records(sf, "Opportunity")[0]
    demo = meeting(sf, opp["Id"], "Demo", starts_in_minutes=7 * 24 * 60)
    advance = both_clocks(sf, monkeypatch)
    advance(3600)
    await sync(sf)
    advance(3600)
    await select(sf, {"objects": {}, "activities": True})
    assert (await task_for(sf, demo["Id"]))["archived"] is False


def sent_alone(soql: str) -> int:
    return len(f"/services/data/v66.0/queryAll?q={quote(soql)}".encode())


@pytest.fixture
async def many(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Connected]:
    spec = SeedSpec(users=1, accounts=5, opportunities=650, cases=3, activities=300, events=100)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as connected:
        connected.world.services.syncs.retry_delays = (0.01, 0.01)
        yield connected


async def test_650_selected_opportunities_are_read_by_id_in_short_queries(
    many: Connected,
) -> None:
    sf = many
    await connect_and_import(sf)
    opps = [r["Id"] for r in records(sf, "Opportunity")]
    chosen, left_out = opps[:-1], opps[-1]
    sf.emu.emulator.queries.clear()

    every = {"enabled": True, "mode": "selected", "ids": chosen}
    await select(sf, {"objects": {"Opportunity": every}, "activities": True})

    assert (await last_run(sf))["status"] == "succeeded"
    queries = list(sf.emu.emulator.queries)
    by_object = {
        t: [q for q in queries if f" FROM {t} " in q] for t in ("Opportunity", "Task", "Event")
    }
    assert len(by_object["Opportunity"]) >= 2
    assert all(" WHERE (Id IN (" in q for q in by_object["Opportunity"])
    assert max(sent_alone(q) for q in queries) <= 16_384
    for activity in ("Task", "Event"):
        assert all("WhatId IN (" in q or "What.Type IN ('Case')" in q for q in by_object[activity])
        assert sum("WhatId IN (" in q for q in by_object[activity]) >= 2
    assert (await task_for(sf, left_out))["archived"] is True
    assert (await task_for(sf, chosen[-1]))["archived"] is False
    org = sf.emu.emulator.org
    open_tasks = [r["Id"] for r in records(sf, "Task")]
    on_chosen = [i for i in open_tasks if org.require(i)["WhatId"] in set(chosen)]
    assert on_chosen
    assert all([not (await task_for(sf, i))["archived"] for i in on_chosen])


async def test_an_object_read_in_more_chunks_than_a_call_holds_archives_only_at_the_end(
    many: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf = many
    await connect_and_import(sf)  # everything
    opps = [r["Id"] for r in records(sf, "Opportunity")]
    monkeypatch.setattr(planning, "MAX_URL_BYTES", 2_000)  # 60-odd ids a query
    sf.emu.emulator.queries.clear()
    calls = sf.emu.api_calls

    chosen = opps[:-1]  # open ones, all but one
    every = {"enabled": True, "mode": "selected", "ids": chosen}
    await select(sf, {"objects": {"Opportunity": every}, "activities": True})

    run = await last_run(sf)
    assert (run["trigger"], run["status"]) == ("selection", "succeeded")
    chunks = [q for q in sf.emu.emulator.queries if " FROM Opportunity " in q]
    assert len(chunks) > 5  # more than one Composite call holds
    assert max(sent_alone(q) for q in sf.emu.emulator.queries) <= 2_000
    assert run["api_calls"] == sf.emu.api_calls - calls
    assert run["counts"]["restored"] == 0
    assert (await task_for(sf, opps[-1]))["archived"] is True
    # Every chosen one stayed active, the last chunk's too.
    for record_id in (chosen[0], chosen[-1]):
        assert (await task_for(sf, record_id))["archived"] is False


async def test_an_object_with_more_queries_than_a_call_takes_spans_calls() -> None:
    unit = [Read(OPPORTUNITY, "records", f"q{i}") for i in range(7)]
    unit.append(Read(OPPORTUNITY, "deleted", "d"))
    calls = pack([[Read(EVENT, "records", "e")], unit])
    assert [[r.url for r in c] for c in calls] == [
        ["e"],
        ["q0", "q1", "q2", "q3", "q4"],
        ["q5", "q6", "d"],
    ]
