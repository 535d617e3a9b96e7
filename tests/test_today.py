"""What the extension's Today view needs: discard a timer, a day's entries with their total in
one call, and the tasks tracked last."""

from __future__ import annotations

import pytest
from support import World

from server import clock
from server.clock import parse_time


@pytest.fixture
def jan_5_noon(monkeypatch: pytest.MonkeyPatch) -> None:
    noon = parse_time("2026-01-05T12:00:00Z", "")
    monkeypatch.setattr(clock, "now", lambda: noon)


async def test_discard_deletes_the_running_timer(world: World) -> None:
    task = await world.admin.create_task("Oops")
    started = await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    r = await world.admin.delete("/api/v1/timer")
    assert r.status == 204
    assert (await world.admin.get("/api/v1/timer")).body == {"running": False}
    gone = await world.admin.get(f"/api/v1/entries/{started.body['entry']['id']}")
    assert gone.status == 404
    again = await world.admin.delete("/api/v1/timer")
    assert (again.status, again.code) == (409, "no_running_timer")


async def test_discard_leaves_stopped_entries_and_other_users_alone(world: World) -> None:
    task = await world.admin.create_task("Shared")
    uma = await world.admin.add_user("uma@acme.test")
    await world.admin.assign(task["id"], uma, "regular")
    await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    await world.admin.post("/api/v1/timer/stop")
    await uma.post("/api/v1/timer/start", {"task_id": task["id"]})
    r = await world.admin.delete("/api/v1/timer")
    assert (r.status, r.code) == (409, "no_running_timer")
    assert len((await world.admin.get("/api/v1/entries")).body["items"]) == 1
    assert (await uma.get("/api/v1/timer")).body["running"] is True


async def test_a_days_entries_come_with_their_total(world: World, jan_5_noon: None) -> None:
    task = await world.admin.create_task("Support")
    for start, minutes in [("2026-01-04T22:00:00Z", 30), ("2026-01-05T08:00:00Z", 45)]:
        r = await world.admin.post(
            "/api/v1/entries", {"task_id": task["id"], "start": start, "duration": minutes * 60}
        )
        assert r.status == 201, r.body
    await world.admin.post(
        "/api/v1/timer/start", {"task_id": task["id"], "started_at": "2026-01-05T11:00:00Z"}
    )
    day = await world.admin.get(
        "/api/v1/entries", **{"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
    )
    assert day.status == 200
    assert [e["duration"] for e in day.body["items"]] == [3600, 45 * 60]  # newest first
    assert day.body["total_seconds"] == 3600 + 45 * 60  # the running one up to now
    # the total counts every page, not just the one shown
    first_page = await world.admin.get(
        "/api/v1/entries",
        limit=1,
        **{"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z"},
    )
    assert len(first_page.body["items"]) == 1
    assert first_page.body["total_seconds"] == 3600 + 45 * 60
    # without a range there is no total
    assert (await world.admin.get("/api/v1/entries")).body["total_seconds"] is None


async def test_recent_tasks_are_the_last_tracked_still_trackable(
    world: World, jan_5_noon: None
) -> None:
    a = await world.admin.create_task("Alpha")
    b = await world.admin.create_task("Beta")
    c = await world.admin.create_task("Gamma")
    for task, hour in [(a, 8), (b, 9), (a, 10), (c, 11)]:
        r = await world.admin.post(
            "/api/v1/entries",
            {"task_id": task["id"], "start": f"2026-01-05T{hour:02d}:00:00Z", "duration": 60},
        )
        assert r.status == 201, r.body
    recent = await world.admin.get("/api/v1/tasks/recent")
    assert recent.status == 200
    assert [t["name"] for t in recent.body["items"]] == ["Gamma", "Alpha", "Beta"]
    assert (await world.admin.get("/api/v1/tasks/recent", limit=2)).body["items"][1][
        "name"
    ] == "Alpha"

    r = await world.admin.patch(f"/api/v1/tasks/{c['id']}", {"archived": True})
    assert r.status == 200, r.body
    names = [t["name"] for t in (await world.admin.get("/api/v1/tasks/recent")).body["items"]]
    assert names == ["Alpha", "Beta"]

    uma = await world.admin.add_user("uma@acme.test")
    assert (await uma.get("/api/v1/tasks/recent")).body["items"] == []
