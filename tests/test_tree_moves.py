"""Moving a subtree survives a crash halfway (issue 12, point 3).

A move rewrites every task below the moved one, one document at a time. A server that dies in the
middle must not leave tasks that answer as if they were still in the old project (a user whose
only role is there could find them) while others answer from the new one; the same request sent
again, or a restart, finishes the move.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import PASSWORD, AiohttpClient, Api, World, server_process, sign_in

from server import clock
from server.app import create_app
from server.appkeys import SERVICES
from server.ids import new_id
from server.services import Services
from server.settings import Settings
from server.store import EMBEDDED_FILE, Collection, StoreError, open_embedded

CHILDREN = 12
CRASH_AFTER = 5  # task writes: the moved task and four of the tasks below it


@dataclass
class Layout:
    old: dict[str, Any]  # the project the subtree leaves
    new: dict[str, Any]  # the project it joins
    moved: dict[str, Any]
    below: list[dict[str, Any]]
    bob: Api  # regular on the old project only
    carol: Api  # regular on the new project only


async def layout(world: World) -> Layout:
    admin = world.admin
    old = await admin.create_task("Old project")
    new = await admin.create_task("New project")
    moved = await admin.create_task("Moved", old["id"])
    below = []
    for i in range(CHILDREN):
        child = await admin.create_task(f"Widget {i}", moved["id"])
        below.append(child)
        below.append(await admin.create_task(f"Widget part {i}", child["id"]))
    bob = await admin.add_user("bob@acme.test")
    carol = await admin.add_user("carol@acme.test")
    await admin.assign(old["id"], bob, "regular")
    await admin.assign(new["id"], carol, "regular")
    return Layout(old, new, moved, below, bob, carol)


class Crash:
    """Makes the tasks collection's writes fail after `after` of them, as a server killed
    mid-move would stop writing."""

    def __init__(self, tasks: Collection, after: int) -> None:
        self.tasks, self.after, self.writes = tasks, after, 0
        self.update_one, self.update_each = tasks.update_one, tasks.update_each

    async def _count(self, n: int) -> None:
        if self.writes + n > self.after:
            raise StoreError("killed")
        self.writes += n

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def update_one(filter: Any, update: Any, **kw: Any) -> Any:
            await self._count(1)
            return await self.update_one(filter, update, **kw)

        async def update_each(changes: Any) -> None:
            await self._count(len(changes))
            await self.update_each(changes)

        monkeypatch.setattr(self.tasks, "update_one", update_one)
        monkeypatch.setattr(self.tasks, "update_each", update_each)


async def crashed_move(world: World, monkeypatch: pytest.MonkeyPatch) -> Layout:
    lay = await layout(world)
    with monkeypatch.context() as patch:
        Crash(world.services.store.tasks, CRASH_AFTER).install(patch)
        r = await world.admin.patch(
            f"/api/v1/tasks/{lay.moved['id']}", {"parent_id": lay.new["id"]}
        )
    assert r.status == 503, r.body
    return lay


async def statuses(api: Api, tasks: list[dict[str, Any]]) -> set[int]:
    return {(await api.get(f"/api/v1/tasks/{t['id']}")).status for t in tasks}


async def assert_fully_moved(world: World, lay: Layout) -> None:
    """What is stored, not only what is shown: every task below names the new project."""
    store = world.services.store
    root = await store.tasks.find_one({"_id": lay.moved["id"]})
    assert root is not None and root["ancestors"] == [lay.new["id"]]
    docs = await store.tasks.find({"ancestors": lay.moved["id"]})
    assert len(docs) == len(lay.below)
    assert all(d["ancestors"][0] == lay.new["id"] for d in docs)
    assert all(d["path"][:2] == ["New project", "Moved"] for d in docs)


async def test_a_half_done_move_answers_as_if_it_were_done_or_not_never_a_mix(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = await crashed_move(any_world, monkeypatch)
    tasks = [lay.moved, *lay.below]
    bob_sees, carol_sees = await statuses(lay.bob, tasks), await statuses(lay.carol, tasks)
    assert len(bob_sees) == 1 and len(carol_sees) == 1, (bob_sees, carol_sees)
    assert bob_sees != carol_sees  # one of them sees the subtree: exactly one place holds it
    bob_found = (await lay.bob.get("/api/v1/tasks", q="widget", limit=100)).body["items"]
    carol_found = (await lay.carol.get("/api/v1/tasks", q="widget", limit=100)).body["items"]
    assert sorted([len(bob_found), len(carol_found)]) == [0, len(lay.below)]
    # Each answer shows one consistent path for the whole subtree.
    paths = {tuple(t["path"][:1]) for t in bob_found + carol_found}
    assert len(paths) == 1
    for task in lay.below[:4]:
        shown = (await any_world.admin.get(f"/api/v1/tasks/{task['id']}")).body
        assert shown["path"][0] == ("Old project" if bob_sees == {200} else "New project")


async def test_sending_the_same_move_again_finishes_it(
    any_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = await crashed_move(any_world, monkeypatch)
    r = await any_world.admin.patch(
        f"/api/v1/tasks/{lay.moved['id']}", {"parent_id": lay.new["id"]}
    )
    assert r.status == 200, r.body
    assert r.body["parent_id"] == lay.new["id"] and r.body["path"] == ["New project"]
    await assert_fully_moved(any_world, lay)
    assert await statuses(lay.bob, [lay.moved, *lay.below]) == {404}
    assert await statuses(lay.carol, [lay.moved, *lay.below]) == {200}


async def test_the_next_change_to_the_tree_finishes_an_interrupted_move_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = await crashed_move(world, monkeypatch)
    # Renaming the moved task rewrites the paths below it by position: it must not run on a
    # half-moved subtree.
    r = await world.admin.patch(f"/api/v1/tasks/{lay.moved['id']}", {"name": "Shifted"})
    assert r.status == 200, r.body
    docs = await world.services.store.tasks.find({"ancestors": lay.moved["id"]})
    assert {tuple(d["path"][:2]) for d in docs} == {("New project", "Shifted")}


async def test_role_assignments_below_follow_an_interrupted_move_once_finished(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.admin
    lay = await layout(world)
    dave = await admin.add_user("dave@acme.test")
    await admin.assign(lay.below[-1]["id"], dave, "manager")
    with monkeypatch.context() as patch:
        Crash(world.services.store.tasks, CRASH_AFTER).install(patch)
        r = await admin.patch(f"/api/v1/tasks/{lay.moved['id']}", {"parent_id": lay.new["id"]})
    assert r.status == 503
    r = await admin.patch(f"/api/v1/tasks/{lay.moved['id']}", {"parent_id": lay.new["id"]})
    assert r.status == 200
    # "Unassign from the entire project" on the new project reaches the assignment below.
    r = await admin.delete(f"/api/v1/tasks/{lay.new['id']}/members/{dave.id}", scope="subtree")
    assert r.status == 204
    assert (await dave.get(f"/api/v1/tasks/{lay.below[-1]['id']}")).status == 404


async def test_a_restart_finishes_an_interrupted_move(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = await aiohttp_client(create_app(settings))
    await first.app[SERVICES].accounts.create_account(
        "Acme", "admin@acme.test", "Ada Admin", "correct horse battery"
    )
    world = World(first, await sign_in(first, "admin@acme.test"))
    lay = await crashed_move(world, monkeypatch)
    await first.close()  # the server stops (its store closes) with the move unfinished

    second = await aiohttp_client(create_app(settings))
    restarted = World(second, await sign_in(second, "admin@acme.test"))
    await assert_fully_moved(restarted, lay)
    account = await restarted.services.store.accounts.find_one({})
    assert account is not None and "tree_move" not in account
    carol = await sign_in(second, "carol@acme.test")
    found = (await carol.get("/api/v1/tasks", q="widget", limit=100)).body["items"]
    assert len(found) == len(lay.below)


SUBTREE = 3000


def _http(base: str, method: str, path: str, token: str | None, body: Any = None) -> Any:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as answer:
        data = answer.read()
        return json.loads(data) if data else None


def _sign_in(base: str, email: str) -> str:
    answer = _http(base, "POST", "/api/v1/auth/login", None, {"email": email, "password": PASSWORD})
    return str(answer["token"])


async def _seed(data_dir: Path) -> tuple[str, str, str]:
    """An account whose "Old project" holds "Moved" with `SUBTREE` tasks below it, and an empty
    "New project"; returns (old, new, moved) ids."""
    store = await open_embedded(data_dir)
    try:
        services = Services.build(Settings(data_dir=data_dir), store)
        account, _, _ = await services.accounts.create_account(
            "Acme", "admin@acme.test", "Ada Admin", PASSWORD
        )
        now = clock.now()

        def task(name: str, parent: dict[str, Any] | None) -> dict[str, Any]:
            return {
                "_id": new_id(), "account_id": account["_id"], "name": name,
                "parent_id": parent["_id"] if parent else None,
                "ancestors": [*parent["ancestors"], parent["_id"]] if parent else [],
                "path": [*parent["path"], parent["name"]] if parent else [],
                "kind": "task" if parent else "project", "archived": False, "locked": False,
                "source": None, "sort_name": name.casefold(), "created_at": now, "updated_at": now,
            }  # fmt: skip

        old, new = task("Old project", None), task("New project", None)
        moved = task("Moved", old)
        widgets = [task(f"Widget {i}", moved) for i in range(SUBTREE // 2)]
        parts = [task(f"Widget part {i}", w) for i, w in enumerate(widgets)]
        await store.tasks.insert_many([old, new, moved, *widgets, *parts])
        return old["_id"], new["_id"], moved["_id"]
    finally:
        await store.close()


def _moved_so_far(data_dir: Path, new_id_: str) -> int:
    """How many stored tasks name the new project (read from the embedded store's file)."""
    path = data_dir / EMBEDDED_FILE
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT count(*) FROM tasks WHERE instr(doc, ?) > 0", (new_id_.encode(),)
        ).fetchone()
        return int(row[0])


@pytest.mark.slow
async def test_a_server_killed_mid_move_finishes_the_move_when_it_restarts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    old, new, moved = await _seed(data_dir)
    with server_process(data_dir, tmp_path / "first.log") as base:
        admin = _sign_in(base, "admin@acme.test")
        for email, project in (("bob@acme.test", old), ("carol@acme.test", new)):
            user = _http(
                base, "POST", "/api/v1/users", admin,
                {"email": email, "name": email[:3], "password": PASSWORD, "role": "user"},
            )  # fmt: skip
            _http(base, "PUT", f"/api/v1/tasks/{project}/members/{user['id']}", admin,
                  {"role": "regular"})  # fmt: skip
        pid = int((data_dir / "store.lock").read_text().split()[1])

        def send_move() -> None:
            with contextlib.suppress(OSError):  # (the server dies before it answers)
                _http(base, "PATCH", f"/api/v1/tasks/{moved}", admin, {"parent_id": new})

        patch = threading.Thread(target=send_move)
        patch.start()
        deadline = time.monotonic() + 30
        while (written := _moved_so_far(data_dir, new)) < 100:
            assert time.monotonic() < deadline, "the move did not start"
        os.kill(pid, signal.SIGKILL)
        patch.join()
    # The embedded store commits the writes of one turn of the event loop together, and the
    # move writes its whole subtree in one turn: the kill finds it written whole, never in part
    # (the restart still finishes what the account's pending move names).
    at_kill = _moved_so_far(data_dir, new)
    assert at_kill >= max(written, SUBTREE), at_kill

    with server_process(data_dir, tmp_path / "second.log") as base:
        bob, carol = _sign_in(base, "bob@acme.test"), _sign_in(base, "carol@acme.test")
        assert _http(base, "GET", "/api/v1/tasks?q=widget", bob)["items"] == []
        found = _http(base, "GET", "/api/v1/tasks?q=widget&limit=500", carol)
        assert len(found["items"]) == 500 and found["next_cursor"] is not None
    store = await open_embedded(data_dir)
    try:
        below = await store.tasks.find({"ancestors": moved})
        assert len(below) == SUBTREE
        assert all(d["ancestors"][:2] == [new, moved] for d in below)
        assert all(d["path"][:2] == ["New project", "Moved"] for d in below)
    finally:
        await store.close()
