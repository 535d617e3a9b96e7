"""Shared fixtures: the real app on an in-memory store, driven over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sf_support import Connected, connected_world
from support import PASSWORD, AiohttpClient, World, sign_in

from salesforce_emulator.seeding import SeedSpec
from server import security
from server.app import create_app
from server.appkeys import SERVICES
from server.settings import Settings
from server.store import open_mongomock


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> None:
    """Argon2 with its production cost takes ~0.1 s a hash; tests hash hundreds of passwords."""
    security.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings, store_factory=open_mongomock))


async def _acme(client: TestClient[Any, Any]) -> World:
    """One account, "Acme", with its administrator signed in."""
    assert client.app is not None
    services = client.app[SERVICES]
    await services.accounts.create_account("Acme", "admin@acme.test", "Ada Admin", PASSWORD)
    return World(client, await sign_in(client, "admin@acme.test"))


@pytest.fixture
async def world(client: TestClient[Any, Any]) -> World:
    return await _acme(client)


@pytest.fixture(params=["mongomock", "embedded"])
async def any_world(
    request: pytest.FixtureRequest, aiohttp_client: AiohttpClient, settings: Settings
) -> World:
    """The world on each backend. mongomock never yields between the steps of a request, so
    races only show on the embedded store, where every store call is a thread hop."""
    factory = open_mongomock if request.param == "mongomock" else None
    return await _acme(await aiohttp_client(create_app(settings, store_factory=factory)))


@pytest.fixture
async def sf(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Connected]:
    """A small seeded org (6 opportunities, 4 cases, no activities) and an account on the
    embedded store ready to connect to it, its sync retrying at once."""
    spec = SeedSpec(users=2, accounts=3, opportunities=6, cases=4, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as connected:
        connected.world.services.syncs.retry_delays = (0.01, 0.01)
        yield connected
