"""Rights are decided once the request body has arrived, and a body may not take forever
(issue 12, point 4); an administrator can stop or delete anyone's running entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from support import PASSWORD, Api, World

from server.routes import registry

# Only a request that never completes waits for this: the test fails instead of hanging.
GIVE_UP = 20


class SlowBody:
    """A JSON body sent in two parts: the second once `release()` is called. `reading` is set
    when the server starts reading the body."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, first: bytes, rest: bytes) -> None:
        self.first, self.rest = first, rest
        self.gate = asyncio.Event()
        self.reading = asyncio.Event()
        read = web.BaseRequest.read

        async def reading_starts(request: web.BaseRequest) -> bytes:
            self.reading.set()
            return await read(request)

        monkeypatch.setattr(web.BaseRequest, "read", reading_starts)

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.first
        await self.gate.wait()
        yield self.rest

    def release(self) -> None:
        self.gate.set()

    async def send(self, api: Api, method: str, path: str) -> asyncio.Task[tuple[int, Any]]:
        async def request() -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
            async with api.client.request(
                method, path, data=self.chunks(), headers=headers
            ) as resp:
                return resp.status, await resp.json()

        sent = asyncio.create_task(request())
        await asyncio.wait_for(self.reading.wait(), GIVE_UP)
        return sent


async def test_an_admin_demoted_while_their_body_was_in_flight_creates_no_administrator(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    eve = await world.admin.add_user("eve@acme.test", role="administrator")
    body = SlowBody(
        monkeypatch,
        b'{"email": "mallory@acme.test", "name": "Mallory", ',
        b'"password": "' + PASSWORD.encode() + b'", "role": "administrator"}',
    )
    sent = await body.send(eve, "POST", "/api/v1/users")
    demoted = await world.admin.patch(f"/api/v1/users/{eve.id}", {"role": "user"})
    assert demoted.status == 200, demoted.body
    assert (await world.admin.delete(f"/api/v1/users/{eve.id}")).status == 204
    body.release()
    status, answer = await asyncio.wait_for(sent, GIVE_UP)
    assert status == 401, answer
    users = (await world.admin.get("/api/v1/users")).body["items"]
    assert "mallory@acme.test" not in {u["email"] for u in users}


async def test_a_user_deactivated_while_their_start_was_in_flight_has_no_running_timer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    body = SlowBody(monkeypatch, b'{"note": ', b'"late"}')
    sent = await body.send(bob, "POST", "/api/v1/timer/start")
    assert (await world.admin.delete(f"/api/v1/users/{bob.id}")).status == 204
    body.release()
    status, answer = await asyncio.wait_for(sent, GIVE_UP)
    assert status == 401, answer
    running = await world.services.store.entries.find_one({"user_id": bob.id, "end": None})
    assert running is None


async def test_a_body_that_does_not_arrive_in_time_is_408(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "BODY_SECONDS", 0.2, raising=False)
    body = SlowBody(monkeypatch, b'{"name": ', b'"Never"}')
    sent = await body.send(world.admin, "POST", "/api/v1/tasks")
    try:
        status, answer = await asyncio.wait_for(sent, GIVE_UP)
    finally:
        body.release()
    assert status == 408
    assert answer["error"]["code"] == "request_timeout"
    assert (await world.admin.get("/api/v1/tasks", q="never")).body["items"] == []


async def test_an_unauthenticated_body_is_still_401_before_it_is_judged(world: World) -> None:
    r = await Api(world.client).post("/api/v1/tasks", raw=b"{not json")
    assert (r.status, r.code) == (401, "unauthorized")


async def test_an_administrator_stops_another_users_running_timer(world: World) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    started = await bob.post("/api/v1/timer/start", {"note": "left running"})
    entry_id = started.body["entry"]["id"]
    r = await world.admin.patch(f"/api/v1/entries/{entry_id}", {"duration": 60})
    assert r.status == 200, r.body
    assert r.body["end"] is not None and r.body["duration"] == 60
    assert (await bob.get("/api/v1/timer")).body == {"running": False}
    assert (await bob.post("/api/v1/timer/start")).status == 201  # bob can start again


async def test_an_administrator_deletes_another_users_running_entry(world: World) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    started = await bob.post("/api/v1/timer/start", {"note": "mistake"})
    entry_id = started.body["entry"]["id"]
    assert (await world.admin.delete(f"/api/v1/entries/{entry_id}")).status == 204
    assert (await bob.get("/api/v1/timer")).body == {"running": False}
    assert (await bob.get(f"/api/v1/entries/{entry_id}")).status == 404


async def test_a_user_still_stops_their_own_timer_through_the_timer(world: World) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    carol = await world.admin.add_user("carol@acme.test")
    started = await bob.post("/api/v1/timer/start")
    entry_id = started.body["entry"]["id"]
    assert (await bob.delete(f"/api/v1/entries/{entry_id}")).code == "timer_running"
    assert (await carol.delete(f"/api/v1/entries/{entry_id}")).status == 404
    assert (await bob.get("/api/v1/timer")).body["running"] is True


async def test_openapi_documents_408_on_every_operation_with_a_body(world: World) -> None:
    doc = (await world.admin.get("/api/v1/openapi.json")).body
    with_body = [
        (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    ]
    assert with_body
    for path, method, op in with_body:
        assert "408" in op["responses"], (method, path)
