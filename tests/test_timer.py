"""The timer: one running timer per user, held by the server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import World

from server import clock
from server.clock import parse_time


@pytest.fixture
def jan_5_noon(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's clock stands at 2026-01-05 12:00 UTC: a timer starts at most 24 hours ago,
    so tests that start timers at fixed times of that morning need "now" to be that day."""
    noon = parse_time("2026-01-05T12:00:00Z", "")
    monkeypatch.setattr(clock, "now", lambda: noon)


async def test_start_stop_records_an_entry(world: World) -> None:
    task = await world.admin.create_task("Website")
    r = await world.admin.post("/api/v1/timer/start", {"task_id": task["id"], "note": "kickoff"})
    assert r.status == 201
    assert r.body["stopped"] is None
    entry = r.body["entry"]
    assert entry["end"] is None and entry["task"]["name"] == "Website"

    running = await world.admin.get("/api/v1/timer")
    assert running.body["running"] is True
    assert running.body["entry"]["id"] == entry["id"]

    stopped = await world.admin.post("/api/v1/timer/stop")
    assert stopped.status == 200
    assert stopped.body["entry"]["id"] == entry["id"]
    assert stopped.body["entry"]["end"] is not None
    assert (await world.admin.get("/api/v1/timer")).body == {"running": False}

    again = await world.admin.post("/api/v1/timer/stop")
    assert (again.status, again.code) == (409, "no_running_timer")


async def test_start_while_running_stops_the_old_one_at_the_same_instant(
    world: World, jan_5_noon: None
) -> None:
    a = await world.admin.create_task("A")
    b = await world.admin.create_task("B")
    first = await world.admin.post(
        "/api/v1/timer/start", {"task_id": a["id"], "started_at": "2026-01-05T09:00:00Z"}
    )
    second = await world.admin.post(
        "/api/v1/timer/start", {"task_id": b["id"], "started_at": "2026-01-05T10:30:00+01:00"}
    )
    assert second.status == 201
    assert second.body["stopped"]["id"] == first.body["entry"]["id"]
    assert second.body["stopped"]["end"] == second.body["entry"]["start"] == "2026-01-05T09:30:00Z"
    assert second.body["stopped"]["duration"] == 30 * 60


async def test_fifty_concurrent_starts_leave_exactly_one_running_entry(any_world: World) -> None:
    world = any_world
    task = await world.admin.create_task("Busy")
    results = await asyncio.gather(
        *[world.admin.post("/api/v1/timer/start", {"task_id": task["id"]}) for _ in range(50)]
    )
    assert all(r.status == 201 for r in results)
    entries = await world.admin.get("/api/v1/entries", limit=500)
    assert len(entries.body["items"]) == 50
    running = [e for e in entries.body["items"] if e["end"] is None]
    assert len(running) == 1
    timer = await world.admin.get("/api/v1/timer")
    assert timer.body["entry"]["id"] == running[0]["id"]
    stopped_ids = [r.body["stopped"]["id"] for r in results if r.body["stopped"]]
    assert len(stopped_ids) == len(set(stopped_ids)) == 49


async def test_timer_on_no_task(world: World) -> None:
    r = await world.admin.post("/api/v1/timer/start", {})
    assert r.status == 201 and r.body["entry"]["task"] is None


async def test_archived_task_refuses_a_timer_but_its_time_still_counts(world: World) -> None:
    task = await world.admin.create_task("Old client")
    await world.admin.post(
        "/api/v1/entries",
        {"task_id": task["id"], "start": "2026-02-01T09:00:00Z", "end": "2026-02-01T11:00:00Z"},
    )
    archived = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"archived": True})
    assert archived.body["archived"] is True

    r = await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    assert (r.status, r.code) == (409, "task_archived")

    report = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-02-01", "to": "2026-02-02"}
    )
    assert report.body["total_seconds"] == 7200
    assert report.body["items"][0]["key"]["archived"] is True


async def test_a_timer_keeps_running_when_its_task_is_archived(world: World) -> None:
    task = await world.admin.create_task("Closing")
    await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"archived": True})
    assert (await world.admin.get("/api/v1/timer")).body["running"] is True
    assert (await world.admin.post("/api/v1/timer/stop")).status == 200


async def test_start_in_the_future_or_before_the_running_timer_is_refused(world: World) -> None:
    r = await world.admin.post("/api/v1/timer/start", {"started_at": "2999-01-01T00:00:00Z"})
    assert (r.status, r.code) == (400, "invalid_request")
    assert "started_at" in r.body["error"]["message"]
    await world.admin.post("/api/v1/timer/start", {"started_at": "2026-03-01T10:00:00Z"})
    r = await world.admin.post("/api/v1/timer/start", {"started_at": "2026-03-01T09:00:00Z"})
    assert (r.status, r.code) == (400, "invalid_request")


async def test_deactivating_a_user_stops_their_timer_and_keeps_entries(world: World) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    await bob.post("/api/v1/timer/start", {})
    assert (await world.admin.delete(f"/api/v1/users/{bob.id}")).status == 204
    assert (await bob.get("/api/v1/timer")).status == 401
    entries = await world.admin.get("/api/v1/entries", user_id=bob.id)
    assert len(entries.body["items"]) == 1
    assert entries.body["items"][0]["end"] is not None


class Crash(Exception):
    pass


async def test_a_start_that_dies_after_stopping_the_old_timer_loses_nothing(
    any_world: World, monkeypatch: pytest.MonkeyPatch, jan_5_noon: None
) -> None:
    """A server killed between a start's two writes (ending the running entry, inserting the new
    one) has stopped the old timer and started nothing: no entry lost, nothing running twice."""
    world = any_world
    await world.admin.post(
        "/api/v1/timer/start", {"note": "first", "started_at": "2026-01-05T09:00:00Z"}
    )
    tracking = world.services.tracking
    caller = await world.services.accounts.authenticate(str(world.admin.token))
    entries_collection = world.services.store.entries

    async def die(*args: object, **kwargs: object) -> None:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(entries_collection, "insert_one", die)
        with pytest.raises(Crash):
            second_at = parse_time("2026-01-05T10:00:00Z", "")
            await tracking.start(caller, None, "second", second_at, "api")

    assert (await world.admin.get("/api/v1/timer")).body == {"running": False}
    entries = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [(e["note"], e["end"]) for e in entries] == [("first", "2026-01-05T10:00:00Z")]
    again = await world.admin.post(
        "/api/v1/timer/start", {"note": "second", "started_at": "2026-01-05T10:00:00Z"}
    )
    assert again.status == 201 and again.body["stopped"] is None


async def test_a_start_that_loses_a_race_stops_the_winner_and_runs_alone(
    any_world: World, monkeypatch: pytest.MonkeyPatch, jan_5_noon: None
) -> None:
    """On MongoDB another start of the same user can land between a start's reading of the
    running timer and its insert: the unique key refuses the loser's insert, and it stops the
    winner at its own start instant before starting."""
    world = any_world
    tracking = world.services.tracking
    caller = await world.services.accounts.authenticate(str(world.admin.token))
    entries_collection = world.services.store.entries
    insert = entries_collection.insert_one
    raced = False

    async def another_start_first(doc: Any) -> None:
        nonlocal raced
        if not raced:
            raced = True
            winner_at = parse_time("2026-01-05T09:30:00Z", "")
            await tracking.start(caller, None, "winner", winner_at, "api")
        await insert(doc)

    with monkeypatch.context() as m:
        m.setattr(entries_collection, "insert_one", another_start_first)
        loser_at = parse_time("2026-01-05T10:00:00Z", "")
        entry, stopped = await tracking.start(caller, None, "loser", loser_at, "api")

    assert stopped is not None and stopped["note"] == "winner"
    timer = (await world.admin.get("/api/v1/timer")).body
    assert timer["running"] is True and timer["entry"]["id"] == entry["_id"]
    entries = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [(e["note"], e["end"]) for e in entries] == [
        ("loser", None),
        ("winner", "2026-01-05T10:00:00Z"),
    ]


async def test_two_racing_stops_end_the_timer_once(
    any_world: World, monkeypatch: pytest.MonkeyPatch, jan_5_noon: None
) -> None:
    world = any_world
    await world.admin.post("/api/v1/timer/start", {"started_at": "2026-01-05T09:00:00Z"})
    tracking = world.services.tracking
    caller = await world.services.accounts.authenticate(str(world.admin.token))
    running = tracking.running
    raced = False

    async def another_stop_first(*args: Any) -> Any:
        nonlocal raced
        seen = await running(*args)
        if not raced:
            raced = True
            await tracking.stop(caller, parse_time("2026-01-05T10:00:00Z", ""))
        return seen

    with monkeypatch.context() as m:
        m.setattr(tracking, "running", another_stop_first)
        late = await world.admin.post("/api/v1/timer/stop", {"stopped_at": "2026-01-05T11:00:00Z"})

    assert late.status == 409 and late.body["error"]["code"] == "no_running_timer"
    entries = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [e["end"] for e in entries] == ["2026-01-05T10:00:00Z"]


async def test_timers_kept_the_old_way_carry_over_at_start_up(
    any_world: World, jan_5_noon: None
) -> None:
    """Stores written before `timer_of` kept each running timer in a `timers` document (with a
    copy of the entry, which an interrupted start may not have written)."""
    world = any_world
    store = world.services.store
    caller = await world.services.accounts.authenticate(str(world.admin.token))
    bob = await world.admin.add_user("bob@acme.test")
    at = parse_time("2026-01-05T09:00:00Z", "")

    def entry(entry_id: str, user_id: str) -> dict[str, Any]:
        return {
            "_id": entry_id, "account_id": caller.account_id, "user_id": user_id,
            "task_id": None, "start": at, "end": None, "note": "old", "source": "api",
            "created_at": at,
        }  # fmt: skip

    written = entry("0123456789abcdef01234567", caller.user_id)
    await store.entries.insert_one(written)
    await store.timers.insert_one(
        {"_id": caller.user_id, "account_id": caller.account_id, "entry": written}
    )
    interrupted = entry("89abcdef0123456789abcdef", str(bob.id))
    replaced = entry("456789abcdef0123456789ab", str(bob.id))  # its start died before ending it
    replaced["start"] = parse_time("2026-01-05T08:00:00Z", "")
    await store.entries.insert_one(replaced)
    await store.timers.insert_one(
        {
            "_id": bob.id,
            "account_id": caller.account_id,
            "entry": interrupted,
            "seen_running_id": replaced["_id"],
        }
    )

    assert await world.services.tracking.adopt_old_timers() == 2
    assert await store.timers.count({}) == 0
    timer = (await world.admin.get("/api/v1/timer")).body
    assert timer["running"] is True and timer["entry"]["id"] == written["_id"]
    stopped = await world.admin.post("/api/v1/timer/stop")
    assert stopped.status == 200 and stopped.body["entry"]["end"] is not None
    bobs = (await bob.get("/api/v1/timer")).body
    assert bobs["running"] is True and bobs["entry"]["id"] == interrupted["_id"]
    ended = (await bob.get(f"/api/v1/entries/{replaced['_id']}")).body
    assert ended["end"] == "2026-01-05T09:00:00Z"
    assert await world.services.tracking.adopt_old_timers() == 0
