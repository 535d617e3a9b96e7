"""Test support: an HTTP client signed in as one user, and a world with one account."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.appkeys import SERVICES
from server.services import Services
from server.tree import Source

PASSWORD = "correct horse battery"

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@dataclass
class Response:
    status: int
    body: Any
    headers: Any

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and "error" in self.body:
            return str(self.body["error"]["code"])
        return None


class Api:
    """An HTTP client signed in as one user (or anonymous)."""

    def __init__(self, client: TestClient[Any, Any], token: str | None = None, user: Any = None):
        self.client = client
        self.token = token
        self.user = user or {}

    @property
    def id(self) -> str:
        return str(self.user["id"])

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> Response:
        all_headers = dict(headers or {})
        if self.token:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        kwargs: dict[str, Any] = {"headers": all_headers}
        if params:
            kwargs["params"] = {
                k: str(v).lower() if isinstance(v, bool) else v
                for k, v in params.items()
                if v is not None
            }
        if raw is not None:
            kwargs["data"] = raw
            all_headers.setdefault("Content-Type", "application/json")
        elif json is not None:
            kwargs["json"] = json
        async with self.client.request(method, path, **kwargs) as resp:
            if resp.content_type == "application/json":
                body: Any = await resp.json()
            else:
                body = await resp.text()
            return Response(resp.status, body, resp.headers)

    async def get(self, path: str, **params: Any) -> Response:
        return await self.request("GET", path, **params)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("PUT", path, json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("PATCH", path, json, **kw)

    async def delete(self, path: str, **params: Any) -> Response:
        return await self.request("DELETE", path, **params)

    # Conveniences used by many tests ------------------------------------------------------

    async def create_task(self, name: str, parent_id: str | None = None) -> dict[str, Any]:
        r = await self.post("/api/v1/tasks", {"name": name, "parent_id": parent_id})
        assert r.status == 201, r.body
        return dict(r.body)

    async def add_user(self, email: str, role: str = "user", name: str | None = None) -> Api:
        r = await self.post(
            "/api/v1/users",
            {
                "email": email,
                "name": name or email.split("@", maxsplit=1)[0],
                "password": PASSWORD,
                "role": role,
            },
        )
        assert r.status == 201, r.body
        return await sign_in(self.client, email)

    async def assign(self, task_id: str, user: Api, role: str) -> None:
        r = await self.put(f"/api/v1/tasks/{task_id}/members/{user.id}", {"role": role})
        assert r.status == 200, r.body


async def sign_in(client: TestClient[Any, Any], email: str, password: str = PASSWORD) -> Api:
    anonymous = Api(client)
    r = await anonymous.post("/api/v1/auth/login", {"email": email, "password": password})
    assert r.status == 200, r.body
    return Api(client, r.body["token"], r.body["user"])


@dataclass
class World:
    """A running app with one account and its administrator signed in."""

    client: TestClient[Any, Any]
    admin: Api

    @property
    def services(self) -> Services:
        app = self.client.app
        assert app is not None
        services: Services = app[SERVICES]
        return services

    async def new_account(self, name: str, email: str) -> Api:
        await self.services.accounts.create_account(name, email, "Admin", PASSWORD)
        return await sign_in(self.client, email)

    async def imported_task(
        self,
        account_api: Api,
        parent_id: str | None,
        name: str,
        object_: str | None = None,
        sf_id: str | None = None,
    ) -> dict[str, Any]:
        """A locked task as the Salesforce import creates it."""
        me = await account_api.get("/api/v1/me")
        source = (
            Source("salesforce", object_, sf_id, f"https://acme.my.salesforce.com/{sf_id}")
            if object_ and sf_id
            else None
        )
        doc = await self.services.tree.create_imported_task(
            me.body["account"]["id"], parent_id, name, source
        )
        return {"id": doc["_id"], **doc}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


ROOT = Path(__file__).resolve().parent.parent

# Debian's Chromium, as the browser tests drive it (through playwright), and the flags they
# start it with: headless, no sandbox (containers), nothing that reaches the network by itself.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-default-browser-check",
)


def require_chromium(test: str, playwright_api: str) -> None:
    """Skips the calling test module (at its import) without Chromium or playwright's
    `playwright_api` ("sync_api" or "async_api"); `test`: what needs them, for the reason."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's chromium is not installed (apt-get install chromium); {test} needs it",
            allow_module_level=True,
        )
    pytest.importorskip(
        f"playwright.{playwright_api}", reason="the playwright package (test extra) drives Chromium"
    )


def server_env(data_dir: Path) -> dict[str, str]:
    """This environment without any `TIMETRAIL_` setting but the embedded store in `data_dir`
    (never a MongoDB, nor a port or key from the shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRAIL_")}
    env["TIMETRAIL_DATA_DIR"] = str(data_dir)
    return env


@contextlib.contextmanager
def server_process(
    data_dir: Path, log: Path, start_within: float = 30, port: int | None = None
) -> Iterator[str]:
    """`python -m server serve` on the embedded store in `data_dir` and `port` (a free one if not
    given), as a person runs it, its output in `log` (appended to: a server restarted on the
    same data keeps one log); yields its base URL once it answers `/healthz`."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def healthy() -> bool:
        try:
            with no_proxy.open(f"{base}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(data_dir),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + start_within
            while not healthy():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)
