"""The console's HTTP client and its saved sign-in, without the UI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import PASSWORD, World, free_port

from tui import config
from tui.api import AdminApi, ApiError


def base_url(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("")).rstrip("/")


async def test_a_server_error_carries_the_apis_code_and_message(world: World) -> None:
    api = AdminApi(base_url(world.client))
    try:
        with pytest.raises(ApiError) as raised:
            await api.login("admin@acme.test", "wrong password")
        assert raised.value.status == 401
        assert raised.value.code == "invalid_credentials"
        assert "email or password" in raised.value.message.lower()

        login = await api.login("admin@acme.test", PASSWORD)
        assert (await api.me())["email"] == "admin@acme.test" == login["user"]["email"]
        with pytest.raises(ApiError) as taken:
            await api.add_user("admin@acme.test", "Again", PASSWORD, "user")
        assert (taken.value.status, taken.value.code) == (409, "email_taken")
    finally:
        await api.close()


async def test_an_unreachable_server_is_said_plainly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    api = AdminApi(url)
    try:
        with pytest.raises(ApiError) as raised:
            await api.me()
    finally:
        await api.close()
    assert raised.value.code == "server_unreachable"
    assert raised.value.message.startswith(f"Cannot reach the Timetrail server at {url}")


def test_the_server_comes_from_the_flag_then_the_environment_then_the_saved_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.CONFIG_DIR_ENV, str(tmp_path / "cfg"))
    monkeypatch.delenv(config.SERVER_URL_ENV, raising=False)
    assert config.server_url(None) == config.DEFAULT_SERVER_URL
    config.save(config.Saved("http://saved.test", "tt_token"))
    assert config.server_url(None) == "http://saved.test"
    monkeypatch.setenv(config.SERVER_URL_ENV, "http://env.test")
    assert config.server_url(None) == "http://env.test"
    assert config.server_url("http://flag.test") == "http://flag.test"


def test_a_damaged_config_file_means_signed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.CONFIG_DIR_ENV, str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    config.config_file().write_text("{not json")
    assert config.load() == config.Saved()


async def test_a_report_comes_with_its_numbers_and_a_refused_range_with_the_apis_error(
    world: World,
) -> None:
    api = AdminApi(base_url(world.client), world.admin.token)
    try:
        report = await api.summary(dt.date(2026, 6, 1), dt.date(2026, 7, 1), "day")
        assert (report["items"], report["total_seconds"]) == ([], 0)
        with pytest.raises(ApiError) as raised:
            await api.summary(dt.date(2026, 7, 1), dt.date(2026, 6, 1), "day")
    finally:
        await api.close()
    assert (raised.value.status, raised.value.code) == (400, "invalid_request")
    assert raised.value.retry_after is None
