"""Test support for the Salesforce integration: the server on a local port wired to the
Salesforce emulator on HTTPS, and the administrator's browser as an HTTP client."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from aiohttp.test_utils import TestClient, TestServer
from support import PASSWORD, Api, World, sign_in

from salesforce_emulator.emulator import Seed
from salesforce_emulator.runner import RunningEmulator, running_emulator
from server.app import create_app
from server.appkeys import SERVICES
from server.services import CALLBACK_PATH
from server.settings import Settings
from server.store import open_mongomock

INTEGRATION = "/api/v1/integrations/salesforce"
AiohttpClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@dataclass
class Connected:
    world: World
    emu: RunningEmulator
    browser: httpx2.AsyncClient

    @property
    def admin(self) -> Api:
        return self.world.admin

    async def authorize(self) -> httpx2.Response:
        """Ask for an authorization URL, then let the browser follow it to the callback."""
        r = await self.admin.post(f"{INTEGRATION}/connect")
        assert r.status == 200, r.body
        return await self.browser.get(r.body["authorize_url"])

    async def status(self) -> dict[str, Any]:
        r = await self.admin.get(INTEGRATION)
        assert r.status == 200, r.body
        return dict(r.body)

    async def refresh_is_refused(self, refresh_token: str, login_url: str | None = None) -> bool:
        """Whether Salesforce now refuses this refresh token (it was revoked), at the login
        host that issued it (default: production)."""
        answer = await self.browser.post(
            f"{login_url}/services/oauth2/token" if login_url else self.emu.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.emu.client_id,
                "client_secret": self.emu.client_secret,
            },
        )
        return answer.status_code == 400 and answer.json()["error"] == "invalid_grant"

    async def raw(self) -> dict[str, Any]:
        account = (await self.admin.get("/api/v1/me")).body["account"]["id"]
        doc = await self.world.services.store.integrations.find_one({"_id": account})
        assert doc is not None
        return doc


@contextlib.asynccontextmanager
async def connected_world(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    seed: Seed = "demo",
    embedded: bool = False,
    sync_interval_seconds: int = 3600,
    sandbox: bool = False,
) -> AsyncIterator[Connected]:
    """With `embedded`, on the embedded store (in tmp_path) rather than mongomock, whose unique
    checks scan every document (too slow for thousands of imports)."""
    # The server's socket is bound first and handed to it as it is: the emulator learns the
    # server's address before the server starts, and no other process can take the port between.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        public_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        async with running_emulator(
            tmp_path, seed=seed, redirect_uris=[public_url + CALLBACK_PATH], sandbox=sandbox
        ) as emu:
            settings = Settings(
                data_dir=tmp_path / "data",
                public_url=public_url,
                salesforce_client_id=emu.client_id,
                salesforce_client_secret=emu.client_secret,
                salesforce_login_url=emu.login_url,
                salesforce_sandbox_login_url=emu.sandbox_login_url or "https://test.salesforce.com",
                salesforce_ca_bundle=emu.ca_file,
                sync_interval_seconds=sync_interval_seconds,
            )
            app = create_app(settings, store_factory=None if embedded else open_mongomock)
            server = TestServer(app, socket_factory=lambda *_: listener)
            client: TestClient[Any, Any] = await aiohttp_client(server)  # (it starts the server)
            try:
                assert client.app is not None
                await client.app[SERVICES].accounts.create_account(
                    "Acme", "admin@acme.test", "Ada Admin", PASSWORD
                )
                world = World(client, await sign_in(client, "admin@acme.test"))
                async with httpx2.AsyncClient(
                    verify=ssl.create_default_context(cafile=str(emu.ca_file)),
                    follow_redirects=True,
                    trust_env=False,
                ) as browser:
                    yield Connected(world, emu, browser)
                    # The first import a connection starts must end before the emulator goes.
                    await client.app[SERVICES].syncs.wait()
            finally:
                await client.close()  # (the server stops serving on its socket before it closes)


async def account_id(api: Api) -> str:
    return str((await api.get("/api/v1/me")).body["account"]["id"])
