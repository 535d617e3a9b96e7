"""The timer: one running timer per user, held by the server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import World

from server.clock import parse_time


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


async def test_start_while_running_stops_the_old_one_at_the_same_instant(world: World) -> None:
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


async def test_a_start_that_dies_midway_is_healed_by_the_next_one(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server killed between swapping the timer and ending the old entry must not leave two
    running entries behind."""
    world = any_world
    await world.admin.post(
        "/api/v1/timer/start", {"note": "first", "started_at": "2026-01-05T09:00:00Z"}
    )
    tracking = world.services.tracking
    caller = await world.services.accounts.authenticate(str(world.admin.token))

    async def die(*args: object) -> None:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(tracking, "_complete", die)
        with pytest.raises(Crash):
            second_at = parse_time("2026-01-05T10:00:00Z", "")
            await tracking.start(caller, None, "second", second_at, "api")

    third = await world.admin.post(
        "/api/v1/timer/start", {"note": "third", "started_at": "2026-01-05T11:00:00Z"}
    )
    assert third.status == 201
    entries = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [e["note"] for e in entries] == ["third", "second", "first"]
    assert [e["note"] for e in entries if e["end"] is None] == ["third"]
    assert entries[2]["end"] == "2026-01-05T10:00:00Z"  # ended when "second" started
    assert entries[1]["end"] == "2026-01-05T11:00:00Z"


async def test_a_start_that_dies_before_writing_its_entry_loses_nothing(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = any_world
    tracking = world.services.tracking
    caller = await world.services.accounts.authenticate(str(world.admin.token))
    entries_collection = world.services.store.entries
    original = entries_collection.insert_one

    async def die(*args: object, **kwargs: object) -> None:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(entries_collection, "insert_one", die)
        with pytest.raises(Crash):
            await tracking.start(caller, None, "interrupted", None, "api")
    assert entries_collection.insert_one == original

    timer = await world.admin.get("/api/v1/timer")
    assert timer.body["running"] is True and timer.body["entry"]["note"] == "interrupted"
    stopped = await world.admin.post("/api/v1/timer/stop")
    assert stopped.status == 200 and stopped.body["entry"]["note"] == "interrupted"
    entries = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [(e["note"], e["end"] is not None) for e in entries] == [("interrupted", True)]


async def test_a_stop_that_lands_between_the_swap_and_the_entry_write_wins(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On MongoDB a stop can run while a start awaits between swapping the timer and writing
    the entry: the stop writes the entry from the timer's copy, ended, and the start must then
    leave it be."""
    world = any_world
    tracking = world.services.tracking
    caller = await world.services.accounts.authenticate(str(world.admin.token))
    timers = world.services.store.timers
    swap = timers.find_one_and_update

    async def swap_then_stop(*args: Any, **kwargs: Any) -> Any:
        previous = await swap(*args, **kwargs)
        await tracking.stop(caller, None)
        return previous

    with monkeypatch.context() as m:
        m.setattr(timers, "find_one_and_update", swap_then_stop)
        entry, stopped = await tracking.start(caller, None, "raced", None, "api")

    assert stopped is None
    timer = await world.admin.get("/api/v1/timer")
    assert timer.body["running"] is False
    entries = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [(e["id"], e["note"], e["end"] is not None) for e in entries] == [
        (entry["_id"], "raced", True)
    ]
