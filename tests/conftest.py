"""Shared fixtures: the real app on an in-memory store, driven over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import PASSWORD, AiohttpClient, World, sign_in

from server.app import create_app
from server.appkeys import SERVICES
from server.settings import Settings
from server.store import open_mongomock


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings, store_factory=open_mongomock))


@pytest.fixture
async def world(client: TestClient[Any, Any]) -> World:
    assert client.app is not None
    services = client.app[SERVICES]
    await services.accounts.create_account("Acme", "admin@acme.test", "Ada Admin", PASSWORD)
    return World(client, await sign_in(client, "admin@acme.test"))
