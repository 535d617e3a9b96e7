"""The embedded store (the default): data survives restarts, one process at a time, and the CLI."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from support import PASSWORD, ROOT, Api, server_env, sign_in

from server.accounts import Accounts
from server.app import create_app
from server.appkeys import SERVICES
from server.settings import Settings
from server.store import EMBEDDED_FILE, StoreLockedError, open_embedded
from server.store.collections import IndexSpec

ADMIN_EMAIL = "admin@acme.test"


@asynccontextmanager
async def running_app(data_dir: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The real app with its default store factory (embedded, as no MongoDB URI is set)."""
    app = create_app(Settings(data_dir=data_dir))
    async with TestClient(TestServer(app)) as client:
        yield client


async def _first_account(client: TestClient[Any, Any]) -> Api:
    services = client.app[SERVICES]
    await services.accounts.create_account("Acme", ADMIN_EMAIL, "Ada Admin", PASSWORD)
    return await sign_in(client, ADMIN_EMAIL)


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=server_env(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _cli_async(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_cli, data_dir, *args)


def _account_args(account: str, email: str, name: str = "Ada Admin") -> list[str]:
    return ["--account", account, "--email", email, "--name", name, "--password", PASSWORD]


def _printed_token(stdout: str) -> str:
    return stdout.strip().splitlines()[-1].strip()


# Restarts ----------------------------------------------------------------------------------------


async def test_users_tasks_and_entries_survive_a_restart(tmp_path: Path) -> None:
    async with running_app(tmp_path) as client:
        admin = await _first_account(client)
        await admin.add_user("bob@acme.test")
        project = await admin.create_task("Website")
        task = await admin.create_task("Design", project["id"])
        entry = await admin.post(
            "/api/v1/entries",
            {"task_id": task["id"], "start": "2026-01-05T09:00:00Z", "end": "2026-01-05T10:30:00Z"},
        )
        assert entry.status == 201
        started = await admin.post("/api/v1/timer/start", {"task_id": project["id"]})
        assert started.status == 201

    async with running_app(tmp_path) as client:
        admin = await sign_in(client, ADMIN_EMAIL)
        users = await admin.get("/api/v1/users")
        assert sorted(u["email"] for u in users.body["items"]) == [ADMIN_EMAIL, "bob@acme.test"]
        design = await admin.get(f"/api/v1/tasks/{task['id']}")
        assert design.status == 200
        assert (design.body["name"], design.body["path"]) == ("Design", ["Website"])
        entries = await admin.get("/api/v1/entries", **{"from": "2026-01-05", "to": "2026-01-06"})
        assert [(e["id"], e["duration"], e["task"]["path"]) for e in entries.body["items"]] == [
            (entry.body["id"], 5400, ["Website"])
        ]
        timer = await admin.get("/api/v1/timer")
        assert timer.body["running"] is True
        assert timer.body["entry"]["id"] == started.body["entry"]["id"]


async def test_sign_in_with_the_same_password_works_after_a_restart(tmp_path: Path) -> None:
    async with running_app(tmp_path) as client:
        admin = await _first_account(client)
        await admin.add_user("bob@acme.test")

    async with running_app(tmp_path) as client:
        anonymous = Api(client)
        wrong = await anonymous.post(
            "/api/v1/auth/login", {"email": "bob@acme.test", "password": "not the password"}
        )
        assert (wrong.status, wrong.code) == (401, "invalid_credentials")
        bob = await sign_in(client, "bob@acme.test")
        me = await bob.get("/api/v1/me")
        assert (me.status, me.body["email"], me.body["account"]["name"]) == (
            200,
            "bob@acme.test",
            "Acme",
        )


async def test_a_token_issued_before_a_restart_still_works(tmp_path: Path) -> None:
    async with running_app(tmp_path) as client:
        admin = await _first_account(client)
        token = admin.token

    async with running_app(tmp_path) as client:
        me = await Api(client, token).get("/api/v1/me")
        assert (me.status, me.body["email"]) == (200, ADMIN_EMAIL)


async def test_a_token_revoked_before_a_restart_stays_revoked(tmp_path: Path) -> None:
    async with running_app(tmp_path) as client:
        admin = await _first_account(client)
        assert (await admin.post("/api/v1/auth/logout")).status == 204

    async with running_app(tmp_path) as client:
        me = await Api(client, admin.token).get("/api/v1/me")
        assert (me.status, me.code) == (401, "unauthorized")


async def test_health_reports_the_embedded_store(tmp_path: Path) -> None:
    async with running_app(tmp_path) as client:
        health = await Api(client).get("/healthz")
        assert (health.status, health.body) == (200, {"status": "ok", "store": "ok"})
        assert client.app[SERVICES].store.backend == "embedded"


# One process at a time ----------------------------------------------------------------------------


async def test_a_second_open_of_the_same_folder_is_refused_naming_the_folder(
    tmp_path: Path,
) -> None:
    store = await open_embedded(tmp_path)
    try:
        with pytest.raises(StoreLockedError) as refused:
            await open_embedded(tmp_path)
        assert str(tmp_path) in str(refused.value)
        assert "TIMETRAIL_MONGODB_URI" in str(refused.value)
    finally:
        await store.close()


async def test_the_folder_can_be_opened_again_once_closed(tmp_path: Path) -> None:
    first = await open_embedded(tmp_path)
    await first.users.insert_one({"_id": "u1", "account_id": "a", "email": "ada@acme.test"})
    await first.close()

    second = await open_embedded(tmp_path)
    try:
        assert await second.users.find_one({"_id": "u1"}) is not None
    finally:
        await second.close()


@pytest.mark.slow
async def test_a_second_server_process_on_an_open_store_exits_with_a_clear_message(
    tmp_path: Path,
) -> None:
    store = await open_embedded(tmp_path)
    try:
        result = await _cli_async(tmp_path, "serve", "--port", "0")
    finally:
        await store.close()

    assert result.returncode != 0
    assert "already open" in result.stderr
    assert str(tmp_path) in result.stderr
    assert "Traceback" not in result.stderr


# The command line -------------------------------------------------------------------------------


@pytest.mark.slow
async def test_init_prints_a_token_that_works_against_a_server_on_that_folder(
    tmp_path: Path,
) -> None:
    result = await _cli_async(tmp_path, "init", *_account_args("Acme", ADMIN_EMAIL))
    assert result.returncode == 0, result.stderr

    async with running_app(tmp_path) as client:
        me = await Api(client, _printed_token(result.stdout)).get("/api/v1/me")
        assert me.status == 200, me.body
        assert (me.body["email"], me.body["role"], me.body["account"]["name"]) == (
            ADMIN_EMAIL,
            "administrator",
            "Acme",
        )


@pytest.mark.slow
async def test_init_finishes_a_creation_that_stopped_between_its_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the administrator was written and before the account was left a user
    with no account: running `timetrail init` again repairs the store instead of failing on the
    email it took."""
    store = await open_embedded(tmp_path)
    try:

        async def crash(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the process died here")

        monkeypatch.setattr(store.accounts, "update_one", crash)
        monkeypatch.setattr(store.accounts, "insert_one", crash)
        with pytest.raises(RuntimeError):
            await Accounts(store).create_account("Acme", ADMIN_EMAIL, "Ada Admin", "first try!")
        assert await store.users.find_one({"email": ADMIN_EMAIL}) is not None
        assert await store.accounts.find_one({}) is None
    finally:
        await store.close()

    result = await _cli_async(tmp_path, "init", *_account_args("Acme", ADMIN_EMAIL))
    assert result.returncode == 0, result.stderr
    async with running_app(tmp_path) as client:
        me = await Api(client, _printed_token(result.stdout)).get("/api/v1/me")
        assert (me.body["email"], me.body["account"]["name"]) == (ADMIN_EMAIL, "Acme")
        assert (await sign_in(client, ADMIN_EMAIL)).token  # the password given the second time
    again = await _cli_async(tmp_path, "init", *_account_args("Acme", ADMIN_EMAIL))
    assert again.returncode == 1


@pytest.mark.slow
def test_a_second_init_is_refused_with_exit_code_1(tmp_path: Path) -> None:
    assert _cli(tmp_path, "init", *_account_args("Acme", ADMIN_EMAIL)).returncode == 0

    again = _cli(tmp_path, "init", *_account_args("Other", "other@other.test"))

    assert again.returncode == 1
    assert "already has an account" in again.stderr
    assert "account create" in again.stderr
    assert "Traceback" not in again.stderr
    assert again.stdout == ""


@pytest.mark.slow
async def test_account_create_adds_an_isolated_account(tmp_path: Path) -> None:
    acme = await _cli_async(tmp_path, "init", *_account_args("Acme", ADMIN_EMAIL))
    beta = await _cli_async(
        tmp_path, "account", "create", *_account_args("Beta", "boss@beta.test", "Bea Boss")
    )
    assert (acme.returncode, beta.returncode) == (0, 0), beta.stderr

    async with running_app(tmp_path) as client:
        acme_admin = Api(client, _printed_token(acme.stdout))
        beta_admin = Api(client, _printed_token(beta.stdout))
        secret = await acme_admin.create_task("Acme secret project")

        me = await beta_admin.get("/api/v1/me")
        assert (me.body["email"], me.body["account"]["name"]) == ("boss@beta.test", "Beta")
        users = await beta_admin.get("/api/v1/users")
        assert [u["email"] for u in users.body["items"]] == ["boss@beta.test"]
        tasks = await beta_admin.get("/api/v1/tasks")
        assert tasks.body["items"] == []
        peek = await beta_admin.get(f"/api/v1/tasks/{secret['id']}")
        assert (peek.status, peek.code) == (404, "not_found")


@pytest.mark.slow
def test_account_create_refuses_an_email_already_in_use(tmp_path: Path) -> None:
    assert _cli(tmp_path, "init", *_account_args("Acme", ADMIN_EMAIL)).returncode == 0

    taken = _cli(tmp_path, "account", "create", *_account_args("Beta", "ADMIN@acme.test"))

    assert taken.returncode == 1
    assert "admin@acme.test is already in use" in taken.stderr
    assert "Traceback" not in taken.stderr
    assert taken.stdout == ""


async def test_indexes_no_query_reads_any_more_are_dropped_when_the_store_opens(
    tmp_path: Path,
) -> None:
    """Two indexes earlier versions made cost every write and served nothing: gone after an
    upgrade, the others kept."""
    store = await open_embedded(tmp_path)
    retired = [
        IndexSpec("entries", (("account_id", 1), ("end", 1)), "entries_by_end"),
        IndexSpec("timers", (("account_id", 1),), "timers_by_account"),
    ]
    for spec in retired:
        await store.collection(spec.collection).create_index(spec)
    await store.close()

    await (await open_embedded(tmp_path)).close()

    with sqlite3.connect(tmp_path / EMBEDDED_FILE) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    indexes = {name for (name,) in rows}
    assert not indexes & {"entries.entries_by_end", "timers.timers_by_account"}
    assert {"entries.entries_by_user_start", "entries.one_timer_per_user"} <= indexes


async def test_a_store_whose_index_changed_definition_still_opens(tmp_path: Path) -> None:
    """An upgrade may redefine an index under the same name: the store replaces it."""
    store = await open_embedded(tmp_path)
    await store.tasks.drop_index("tasks_by_parent")
    await store.tasks.create_index(
        IndexSpec("tasks", (("parent_id", 1), ("name", 1)), "tasks_by_parent")
    )
    await store.close()

    reopened = await open_embedded(tmp_path)
    try:
        await reopened.tasks.insert_one({"_id": "t1", "account_id": "a", "parent_id": None})
        assert await reopened.tasks.count({"account_id": "a"}) == 1
    finally:
        await reopened.close()
