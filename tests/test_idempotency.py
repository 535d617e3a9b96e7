"""Idempotency-Key: a write sent again (a timeout, an offline queue replayed) happens once."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from support import World

from server import clock

START = "/api/v1/timer/start"


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


async def entry_count(world: World) -> int:
    return len((await world.admin.get("/api/v1/entries")).body["items"])


async def test_a_replayed_start_with_the_same_key_creates_one_entry(world: World) -> None:
    task = await world.admin.create_task("Website")
    body = {"task_id": task["id"], "source": "extension"}
    first = await world.admin.post(START, body, headers=key("start-1"))
    again = await world.admin.post(START, body, headers=key("start-1"))
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await entry_count(world) == 1
    # the replay did not stop the first (as a second start would have)
    timer = (await world.admin.get("/api/v1/timer")).body
    assert timer["entry"]["id"] == first.body["entry"]["id"]

    # a new key is a new request
    other = await world.admin.post(START, body, headers=key("start-2"))
    assert other.status == 201 and other.body["stopped"]["id"] == first.body["entry"]["id"]
    assert await entry_count(world) == 2


async def test_a_key_reused_for_another_request_is_refused(world: World) -> None:
    a = await world.admin.create_task("A")
    b = await world.admin.create_task("B")
    assert (await world.admin.post(START, {"task_id": a["id"]}, headers=key("k"))).status == 201
    r = await world.admin.post(START, {"task_id": b["id"]}, headers=key("k"))
    assert (r.status, r.code) == (422, "idempotency_key_reused")
    r = await world.admin.post("/api/v1/timer/stop", {}, headers=key("k"))
    assert (r.status, r.code) == (422, "idempotency_key_reused")
    assert (await world.admin.get("/api/v1/timer")).body["entry"]["task_id"] == a["id"]


async def test_keys_belong_to_their_user(world: World) -> None:
    task = await world.admin.create_task("Shared")
    uma = await world.admin.add_user("uma@acme.test")
    await world.admin.assign(task["id"], uma, "regular")
    body = {"task_id": task["id"]}
    mine = await world.admin.post(START, body, headers=key("same"))
    hers = await uma.post(START, body, headers=key("same"))
    assert mine.status == hers.status == 201
    assert hers.body["entry"]["user_id"] == uma.id != mine.body["entry"]["user_id"]
    assert "Idempotent-Replayed" not in hers.headers


async def test_an_error_answer_is_replayed_too(world: World) -> None:
    """The first stop found no timer; the same stop sent again must not stop a timer started
    since (the queue replays what the person did then, not now)."""
    first = await world.admin.post("/api/v1/timer/stop", {}, headers=key("stop-1"))
    assert (first.status, first.code) == (409, "no_running_timer")
    task = await world.admin.create_task("Later")
    assert (await world.admin.post(START, {"task_id": task["id"]})).status == 201
    again = await world.admin.post("/api/v1/timer/stop", {}, headers=key("stop-1"))
    assert (again.status, again.body) == (409, first.body)
    assert (await world.admin.get("/api/v1/timer")).body["running"] is True


async def test_concurrent_duplicates_run_once(any_world: World) -> None:
    world = any_world
    task = await world.admin.create_task("Racy")
    body = {"task_id": task["id"]}
    answers = await asyncio.gather(
        *(world.admin.post(START, body, headers=key("race")) for _ in range(6))
    )
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    for a in answers:
        if a.status == 409:
            assert a.code == "idempotency_key_in_use"
    assert {a.body["entry"]["id"] for a in answers if a.status == 201} == {
        (await world.admin.get("/api/v1/timer")).body["entry"]["id"]
    }
    assert await entry_count(world) == 1


async def test_keys_are_kept_24_hours_then_forgotten(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = await world.admin.create_task("Daily")
    first = await world.admin.post(START, {"task_id": task["id"]}, headers=key("day"))
    assert (await world.admin.post("/api/v1/timer/stop")).status == 200
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(hours=23))
    r = await world.admin.post(START, {"task_id": task["id"]}, headers=key("day"))
    assert r.headers["Idempotent-Replayed"] == "true" and r.body == first.body
    assert await world.services.store.idempotency_keys.count({}) == 1

    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(hours=24, seconds=1))
    r = await world.admin.post(START, {"task_id": task["id"]}, headers=key("day"))
    assert r.status == 201 and r.body["entry"]["id"] != first.body["entry"]["id"]
    assert "Idempotent-Replayed" not in r.headers
    # another key's write purges expired ones
    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(hours=49))
    await world.admin.post("/api/v1/timer/stop", {}, headers=key("other"))
    assert await world.services.store.idempotency_keys.count({}) == 1


@pytest.mark.parametrize("bad", ["", "has space", "x" * 201, "é"])
async def test_a_malformed_key_is_a_bad_request(world: World, bad: str) -> None:
    r = await world.admin.post("/api/v1/timer/stop", {}, headers={"Idempotency-Key": bad})
    assert (r.status, r.code) == (400, "invalid_request")
    assert "Idempotency-Key" in r.body["error"]["message"]


async def test_entry_writes_take_keys(world: World) -> None:
    task = await world.admin.create_task("Manual")
    body = {"task_id": task["id"], "start": "2026-01-05T09:00:00Z", "duration": 600}
    created = await world.admin.post("/api/v1/entries", body, headers=key("create"))
    again = await world.admin.post("/api/v1/entries", body, headers=key("create"))
    assert created.status == again.status == 201 and again.body == created.body
    assert await entry_count(world) == 1
    path = f"/api/v1/entries/{created.body['id']}"
    note = await world.admin.patch(path, {"note": "one"}, headers=key("note"))
    await world.admin.patch(path, {"note": "two"})
    replay = await world.admin.patch(path, {"note": "one"}, headers=key("note"))
    assert replay.body == note.body  # the first answer, not a new write over "two"
    assert (await world.admin.get(path)).body["note"] == "two"
    deleted = await world.admin.request("DELETE", path, headers=key("delete"))
    replay = await world.admin.request("DELETE", path, headers=key("delete"))
    assert deleted.status == replay.status == 204
    assert replay.headers["Idempotent-Replayed"] == "true"


async def test_openapi_documents_the_header_on_the_extensions_writes(world: World) -> None:
    doc = (await world.admin.get("/api/v1/openapi.json")).body
    for path, method in [
        ("/api/v1/timer/start", "post"),
        ("/api/v1/timer/stop", "post"),
        ("/api/v1/timer", "delete"),
        ("/api/v1/entries", "post"),
        ("/api/v1/entries/{id}", "patch"),
        ("/api/v1/entries/{id}", "delete"),
    ]:
        op = doc["paths"][path][method]
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert names == ["Idempotency-Key"], (path, method)
        assert "422" in op["responses"]
