"""A running timer keeps the bounds of an entry, and a forgotten one stops by itself
(issue 12, point 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from support import World

from server import clock
from server.clock import iso, parse_time

START = parse_time("2026-03-02T08:00:00Z", "")


class Clock:
    """The server's clock, standing still until moved."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: dt.datetime = START) -> None:
        self.at = at
        monkeypatch.setattr(clock, "now", lambda: self.at)

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.mark.parametrize(
    "started_at",
    ["1970-01-01T00:00:00Z", "2026-03-01T07:59:59Z", "2026-03-02T08:02:00Z"],
)
async def test_a_timer_cannot_start_before_the_last_24_hours_or_in_the_future(
    world: World, monkeypatch: pytest.MonkeyPatch, started_at: str
) -> None:
    Clock(monkeypatch)
    r = await world.admin.post("/api/v1/timer/start", {"started_at": started_at})
    assert (r.status, r.code) == (400, "invalid_request"), r.body
    assert "started_at" in r.body["error"]["message"]
    assert (await world.admin.get("/api/v1/timer")).body == {"running": False}


async def test_a_timer_may_start_up_to_24_hours_ago(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    r = await world.admin.post("/api/v1/timer/start", {"started_at": "2026-03-01T08:00:00Z"})
    assert r.status == 201, r.body


async def test_a_running_entry_cannot_be_backdated_to_1970(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    started = await world.admin.post("/api/v1/timer/start")
    path = f"/api/v1/entries/{started.body['entry']['id']}"
    r = await world.admin.patch(path, {"start": "1970-01-01T00:00:00Z"})
    assert (r.status, r.code) == (400, "invalid_request"), r.body
    r = await world.admin.patch(path, {"start": "2026-03-02T06:00:00Z"})
    assert r.status == 200 and r.body["start"] == "2026-03-02T06:00:00Z"


async def test_a_forgotten_timer_stops_after_12_hours_with_a_note(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = Clock(monkeypatch)
    started = await world.admin.post("/api/v1/timer/start", {"note": "call with Acme"})
    now.advance(hours=11, minutes=59)
    assert (await world.admin.get("/api/v1/timer")).body["running"] is True
    now.advance(hours=3)
    assert (await world.admin.get("/api/v1/timer")).body == {"running": False}
    entry = (await world.admin.get(f"/api/v1/entries/{started.body['entry']['id']}")).body
    assert entry["end"] == iso(START + dt.timedelta(hours=12))
    assert entry["duration"] == 12 * 3600
    assert entry["note"] == "call with Acme (stopped automatically after 12 h)"


async def test_stopping_a_forgotten_timer_ends_it_at_the_limit_not_now(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = Clock(monkeypatch)
    await world.admin.post("/api/v1/timer/start")
    now.advance(hours=20)
    r = await world.admin.post("/api/v1/timer/stop")
    assert (r.status, r.code) == (409, "no_running_timer")
    started = await world.admin.post("/api/v1/timer/start", {"note": "next"})
    assert started.status == 201 and started.body["stopped"] is None
    items = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [e["duration"] for e in items] == [0, 12 * 3600]


async def test_the_sweep_stops_forgotten_timers_nobody_reads(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = any_world
    now = Clock(monkeypatch)
    bob = await world.admin.add_user("bob@acme.test")
    started = await bob.post("/api/v1/timer/start")
    await world.admin.post("/api/v1/timer/start")
    now.advance(hours=12, seconds=1)
    assert await world.services.tracking.sweep_forgotten() == 2
    stored = await world.services.store.entries.find_one({"_id": started.body["entry"]["id"]})
    assert stored is not None and "timer_of" not in stored
    assert stored["end"].replace(tzinfo=dt.UTC) == START + dt.timedelta(hours=12)


async def test_administrators_set_the_forgotten_timer_limit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = Clock(monkeypatch)
    account = await world.admin.get("/api/v1/account")
    assert account.status == 200 and account.body["forgotten_timer_hours"] == 12
    for bad in (0, 25, "2", None):
        r = await world.admin.patch("/api/v1/account", {"forgotten_timer_hours": bad})
        assert (r.status, r.code) == (400, "invalid_request"), bad
    r = await world.admin.patch("/api/v1/account", {"forgotten_timer_hours": 2})
    assert r.status == 200 and r.body["forgotten_timer_hours"] == 2
    bob = await world.admin.add_user("bob@acme.test")
    assert (await bob.get("/api/v1/account")).status == 403
    assert (await bob.patch("/api/v1/account", {"forgotten_timer_hours": 24})).status == 403

    started = await bob.post("/api/v1/timer/start", {"note": ""})
    now.advance(hours=2, minutes=1)
    assert (await bob.get("/api/v1/timer")).body == {"running": False}
    entry = (await bob.get(f"/api/v1/entries/{started.body['entry']['id']}")).body
    assert entry["duration"] == 2 * 3600
    assert entry["note"] == "(stopped automatically after 2 h)"


async def test_openapi_documents_the_account_setting(world: World) -> None:
    doc = (await world.admin.get("/api/v1/openapi.json")).body
    patch = doc["paths"]["/api/v1/account"]["patch"]
    schema = patch["requestBody"]["content"]["application/json"]["schema"]
    hours = schema["properties"]["forgotten_timer_hours"]
    assert (hours["minimum"], hours["maximum"]) == (1, 24)
    assert "get" in doc["paths"]["/api/v1/account"]


async def test_entries_and_reports_show_a_forgotten_timer_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = Clock(monkeypatch)
    await world.admin.post("/api/v1/timer/start", {"note": "forgot"})
    now.advance(hours=30)
    items = (await world.admin.get("/api/v1/entries")).body["items"]
    assert [(e["duration"], e["note"]) for e in items] == [
        (12 * 3600, "forgot (stopped automatically after 12 h)")
    ]
    report = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-03-02", "to": "2026-03-04"}
    )
    assert report.body["total_seconds"] == 12 * 3600
    later = await world.admin.get(
        "/api/v1/reports/summary", **{"from": "2026-03-03", "to": "2026-03-04"}
    )
    assert later.body["total_seconds"] == 0


async def test_the_extensions_idle_minutes_are_an_account_setting_everyone_reads(
    world: World,
) -> None:
    """The account's default for the extension's idle question (a person may choose otherwise
    in their extension): administrators set it, everyone reads it in /me."""
    assert (await world.admin.get("/api/v1/account")).body["idle_minutes"] == 10
    bob = await world.admin.add_user("bob@acme.test")
    assert (await bob.get("/api/v1/me")).body["account"]["idle_minutes"] == 10
    for bad in (0, 241, "5", None, 2.5):
        r = await world.admin.patch("/api/v1/account", {"idle_minutes": bad})
        assert (r.status, r.code) == (400, "invalid_request"), bad
    r = await world.admin.patch("/api/v1/account", {"idle_minutes": 25})
    assert r.status == 200 and r.body["idle_minutes"] == 25
    assert (await bob.get("/api/v1/me")).body["account"]["idle_minutes"] == 25
    assert (await bob.patch("/api/v1/account", {"idle_minutes": 5})).status == 403
