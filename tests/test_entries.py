"""Manual time entries: add, edit, delete own entries, with validation."""

from __future__ import annotations

from support import World


async def test_add_entry_with_end_or_duration(world: World) -> None:
    task = await world.admin.create_task("Support")
    by_end = await world.admin.post(
        "/api/v1/entries",
        {
            "task_id": task["id"],
            "start": "2026-04-01T08:00:00Z",
            "end": "2026-04-01T09:15:00Z",
            "note": "calls",
        },
    )
    assert by_end.status == 201
    assert by_end.body["duration"] == 75 * 60
    assert by_end.body["source"] == "api"
    by_duration = await world.admin.post(
        "/api/v1/entries",
        {
            "task_id": task["id"],
            "start": "2026-04-01T10:00:00+02:00",
            "duration": 1800,
            "source": "tui",
        },
    )
    assert by_duration.status == 201
    assert by_duration.body["start"] == "2026-04-01T08:00:00Z"
    assert by_duration.body["end"] == "2026-04-01T08:30:00Z"
    assert by_duration.body["source"] == "tui"


async def test_entries_are_listed_newest_first_and_filtered_by_range(world: World) -> None:
    for day in ("01", "02", "03"):
        await world.admin.post(
            "/api/v1/entries",
            {"task_id": None, "start": f"2026-05-{day}T09:00:00Z", "duration": 600},
        )
    everything = await world.admin.get("/api/v1/entries")
    assert [e["start"][:10] for e in everything.body["items"]] == [
        "2026-05-03",
        "2026-05-02",
        "2026-05-01",
    ]
    middle = await world.admin.get("/api/v1/entries", **{"from": "2026-05-02", "to": "2026-05-03"})
    assert [e["start"][:10] for e in middle.body["items"]] == ["2026-05-02"]
    first_page = await world.admin.get("/api/v1/entries", limit=2)
    assert len(first_page.body["items"]) == 2 and first_page.body["next_cursor"]
    rest = await world.admin.get("/api/v1/entries", limit=2, cursor=first_page.body["next_cursor"])
    assert [e["start"][:10] for e in rest.body["items"]] == ["2026-05-01"]
    assert rest.body["next_cursor"] is None


async def test_invalid_spans_are_refused(world: World) -> None:
    cases: list[dict[str, str | int]] = [
        {"start": "2026-04-01T09:00:00Z", "end": "2026-04-01T09:00:00Z"},
        {"start": "2026-04-01T09:00:00Z", "end": "2026-04-01T08:00:00Z"},
        {"start": "2026-04-01T09:00:00Z", "end": "2026-04-02T09:00:01Z"},
        {"start": "2026-04-01T09:00:00Z"},
        {"start": "2026-04-01T09:00:00Z", "end": "2026-04-01T10:00:00Z", "duration": 3600},
    ]
    for body in cases:
        r = await world.admin.post("/api/v1/entries", {"task_id": None, **body})
        assert (r.status, r.code) == (400, "invalid_request"), body
    assert (await world.admin.get("/api/v1/entries")).body["items"] == []


async def test_edit_and_delete_own_entry(world: World) -> None:
    created = await world.admin.post(
        "/api/v1/entries", {"task_id": None, "start": "2026-04-01T08:00:00Z", "duration": 600}
    )
    entry_id = created.body["id"]
    edited = await world.admin.patch(
        f"/api/v1/entries/{entry_id}", {"end": "2026-04-01T09:00:00Z", "note": "longer"}
    )
    assert edited.status == 200
    assert (edited.body["duration"], edited.body["note"]) == (3600, "longer")
    moved = await world.admin.patch(
        f"/api/v1/entries/{entry_id}", {"start": "2026-04-01T08:30:00Z"}
    )
    assert moved.body["duration"] == 1800
    assert (await world.admin.delete(f"/api/v1/entries/{entry_id}")).status == 204
    assert (await world.admin.get(f"/api/v1/entries/{entry_id}")).status == 404


async def test_users_cannot_touch_each_others_entries_but_admins_can(world: World) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    carol = await world.admin.add_user("carol@acme.test")
    entry = await bob.post(
        "/api/v1/entries", {"task_id": None, "start": "2026-04-01T08:00:00Z", "duration": 600}
    )
    path = f"/api/v1/entries/{entry.body['id']}"
    assert (await carol.get(path)).status == 404
    assert (await carol.patch(path, {"note": "mine now"})).status == 404
    assert (await carol.delete(path)).status == 404
    assert (await carol.get("/api/v1/entries", user_id=bob.id)).status == 403
    assert (await world.admin.patch(path, {"note": "fixed by admin"})).body["note"] == (
        "fixed by admin"
    )


async def test_running_entry_is_ended_by_the_timer_only(world: World) -> None:
    started = await world.admin.post("/api/v1/timer/start", {"note": "draft"})
    path = f"/api/v1/entries/{started.body['entry']['id']}"
    r = await world.admin.patch(path, {"end": "2026-04-01T09:00:00Z"})
    assert (r.status, r.code) == (409, "timer_running")
    assert (await world.admin.delete(path)).code == "timer_running"
    renamed = await world.admin.patch(path, {"note": "final"})
    assert renamed.body["note"] == "final" and renamed.body["end"] is None
    assert (await world.admin.get("/api/v1/timer")).body["entry"]["note"] == "final"


async def test_manual_entry_on_an_archived_task_is_refused(world: World) -> None:
    task = await world.admin.create_task("Done")
    await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"archived": True})
    r = await world.admin.post(
        "/api/v1/entries",
        {"task_id": task["id"], "start": "2026-04-01T08:00:00Z", "duration": 60},
    )
    assert (r.status, r.code) == (409, "task_archived")
