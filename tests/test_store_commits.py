"""The embedded store's group commit: writes wait for one commit per turn of the event loop, no
response leaves before its writes are on disk, and a crash can only lose a tail of the writes in
the order they were made (never an earlier write while keeping a later one)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import bson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from support import PASSWORD, ROOT, free_port, server_env

from server.app import create_app
from server.appkeys import SERVICES
from server.settings import Settings
from server.store import EMBEDDED_FILE, Store, StoreError, open_embedded, open_mongomock
from server.store.commits import CommitGroup


def on_disk(data_dir: Path, collection: str) -> set[str]:
    """The `_id`s another process would read from the collection's table now."""
    with sqlite3.connect(data_dir / EMBEDDED_FILE) as other:
        rows = other.execute(f'SELECT doc FROM "{collection}"').fetchall()
    return {bson.decode(blob)["_id"] for (blob,) in rows}


async def test_writes_commit_together_once_the_loop_turns(tmp_path: Path) -> None:
    store = await open_embedded(tmp_path)
    try:
        await store.entries.insert_one({"_id": "e1", "n": 1})
        await store.entries.insert_one({"_id": "e2", "n": 2})
        assert on_disk(tmp_path, "entries") == set()  # not yet: they wait for the group
        await store.durable()
        assert on_disk(tmp_path, "entries") == {"e1", "e2"}
        await store.entries.delete_one({"_id": "e1"})
        await asyncio.sleep(0)  # one turn of the loop is enough, with nobody waiting
        await asyncio.sleep(0)
        assert on_disk(tmp_path, "entries") == {"e2"}
    finally:
        await store.close()


async def test_writes_to_several_collections_reach_the_disk_together(tmp_path: Path) -> None:
    """A crash can only lose a tail of the writes: those of one turn commit together."""
    store = await open_embedded(tmp_path)
    try:
        await store.timers.insert_one({"_id": "t1"})
        await store.entries.insert_one({"_id": "e1"})
        await store.timers.insert_one({"_id": "t2"})
        assert on_disk(tmp_path, "timers") == on_disk(tmp_path, "entries") == set()
        await store.durable()
        assert on_disk(tmp_path, "timers") == {"t1", "t2"}
        assert on_disk(tmp_path, "entries") == {"e1"}
    finally:
        await store.close()


async def test_closing_commits_what_waits(tmp_path: Path) -> None:
    store = await open_embedded(tmp_path)
    await store.entries.insert_one({"_id": "e1"})
    await store.close()
    assert on_disk(tmp_path, "entries") == {"e1"}
    store = await open_embedded(tmp_path)
    try:
        assert await store.entries.find_one({"_id": "e1"}) == {"_id": "e1"}
    finally:
        await store.close()


class FailingConnection:
    def commit(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    def rollback(self) -> None:
        pass


async def test_a_failed_commit_fails_the_waiting_and_refuses_what_follows() -> None:
    broken: Any = FailingConnection()
    group = CommitGroup(broken)
    group.check()
    group.wrote()
    with pytest.raises(StoreError):
        await group.durable()
    with pytest.raises(StoreError):
        group.check()
    with pytest.raises(StoreError):
        await group.durable()


# Responses wait ----------------------------------------------------------------------------------


async def _app_on(store: Store, data_dir: Path) -> TestClient[Any, Any]:
    async def factory() -> Store:
        return store

    client = TestClient(TestServer(create_app(Settings(data_dir=data_dir), factory)))
    await client.start_server()
    await client.app[SERVICES].accounts.create_account("Acme", "a@acme.test", "Ada", PASSWORD)
    return client


async def test_no_answer_leaves_before_the_store_says_its_writes_are_durable(
    tmp_path: Path,
) -> None:
    store = await open_mongomock()
    committed = asyncio.Event()
    committed.set()

    async def durable() -> None:
        await committed.wait()

    store._durable = durable
    client = await _app_on(store, tmp_path)
    try:
        login = {"email": "a@acme.test", "password": PASSWORD}
        token = (await (await client.post("/api/v1/auth/login", json=login)).json())["token"]
        committed.clear()  # the store holds its next commit back
        answer = asyncio.ensure_future(
            client.post(
                "/api/v1/timer/start", json={}, headers={"Authorization": f"Bearer {token}"}
            )
        )
        await asyncio.sleep(0.2)
        assert not answer.done()
        committed.set()
        response = await asyncio.wait_for(answer, 5)
        assert response.status == 201
    finally:
        await client.close()


async def test_a_store_that_cannot_commit_answers_503_not_a_traceback(tmp_path: Path) -> None:
    store = await open_mongomock()
    broken = False

    async def durable() -> None:
        if broken:
            raise StoreError("The embedded store could not write to its files.")

    store._durable = durable
    client = await _app_on(store, tmp_path)
    try:
        login = {"email": "a@acme.test", "password": PASSWORD}
        token = (await (await client.post("/api/v1/auth/login", json=login)).json())["token"]
        broken = True
        response = await client.post(
            "/api/v1/timer/start", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "store_unavailable"
    finally:
        await client.close()


# A crash -----------------------------------------------------------------------------------------


def _init(data_dir: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "server", "init", "--account", "Acme", "--email", "a@acme.test",
         "--name", "Ada", "--password", PASSWORD],
        env=server_env(data_dir), cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=True,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1].strip()


async def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                async with session.get(f"{base}/healthz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def test_every_answered_timer_call_survives_the_server_being_killed(tmp_path: Path) -> None:
    token = await asyncio.to_thread(_init, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    stopped: list[str] = []
    try:
        await _wait_healthy(base, process)
        async with aiohttp.ClientSession(headers=headers) as session:

            async def call(path: str) -> Any:
                async with session.post(f"{base}{path}", json={}) as answer:
                    assert answer.status in (200, 201), await answer.text()
                    return await answer.json()

            for _ in range(30):
                await call("/api/v1/timer/start")
                stopped.append((await call("/api/v1/timer/stop"))["entry"]["id"])
            running = (await call("/api/v1/timer/start"))["entry"]["id"]
        process.send_signal(signal.SIGKILL)  # no shutdown: whatever was answered must be on disk
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)

    store = await open_embedded(tmp_path)
    try:
        entries = {e["_id"]: e for e in await store.entries.find({})}
        assert set(entries) == {*stopped, running}
        assert all(entries[i]["end"] is not None for i in stopped)
        assert entries[running]["end"] is None
    finally:
        await store.close()
