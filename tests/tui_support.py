"""Driving the admin console in tests: the real app, over real HTTP, against the real server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sf_support import Connected
from support import PASSWORD, Api
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from tui import config
from tui.app import AdminApp
from tui.screens.enable import EnableScreen
from tui.screens.main import MainScreen
from tui.screens.overview import OverviewPane
from tui.screens.signin import SignInScreen
from tui.widgets.status import StatusLine

Console = tuple[AdminApp, Pilot[None]]


def server_url(sf: Connected) -> str:
    server = sf.world.client.server
    return f"http://127.0.0.1:{server.port}"


def text_of(widget: Widget) -> str:
    """What a Static shows, as plain text."""
    assert isinstance(widget, Static)
    return str(widget.render())


def screen_text(app: AdminApp) -> str:
    """Every Static on the current screen, joined: what the user reads."""
    texts = app.screen.query(Static)
    return "\n".join(text_of(w) for w in texts if type(w) in (Static, StatusLine))


async def until(
    pilot: Pilot[None], check: Callable[[], Any], what: str, seconds: float = 10
) -> None:
    """Let the app run until `check()` is true (the UI updates from workers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # a widget not mounted yet, or a row not there yet
            pass
        if loop.time() > deadline:
            app = pilot.app
            raise AssertionError(f"timed out waiting for {what}; screen shows:\n{_dump(app)}")
        await pilot.pause(0.05)


async def authorize_link(pilot: Pilot[None]) -> Static:
    """Wait for the enable screen (after `e`) to show the authorization link; returns it."""
    await until(pilot, lambda: isinstance(pilot.app.screen, EnableScreen), "the enable screen")
    link = pilot.app.screen.query_one("#authorize-url", Static)
    await until(pilot, lambda: text_of(link).startswith("https://"), "the link")
    return link


def first_rows(table: DataTable[Any], count: int = 2) -> list[list[Any]]:
    return [table.get_row_at(i) for i in range(count)]


async def until_row(
    pilot: Pilot[None], table: DataTable[Any], row: list[Any], what: str, among: int = 2
) -> None:
    """Let the app run until `row` is among the table's first `among` rows."""
    await until(pilot, lambda: row in first_rows(table, among), what)


def _dump(app: Any) -> str:
    with contextlib.suppress(Exception):
        return screen_text(app)
    return "?"


def save_session(sf: Connected, api: Api | None = None) -> None:
    """A stored sign-in, as a previous run of the console leaves it."""
    config.save(config.Saved(server_url(sf), (api or sf.admin).token))


@contextlib.asynccontextmanager
async def console(sf: Connected | str) -> AsyncIterator[Console]:
    url = sf if isinstance(sf, str) else server_url(sf)
    app = AdminApp(server_url=url, open_browser=False)
    async with app.run_test(size=(80, 24)) as pilot:
        yield app, pilot


async def type_into(pilot: Pilot[None], widget: Input, text: str) -> None:
    widget.focus()
    await pilot.pause()
    widget.value = ""
    await pilot.press(*text)


async def sign_in(pilot: Pilot[None], email: str, password: str = PASSWORD) -> None:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, SignInScreen), "the sign-in screen")
    await type_into(pilot, app.screen.query_one("#email", Input), email)
    await type_into(pilot, app.screen.query_one("#password", Input), password)
    await pilot.press("enter")


async def on_main(pilot: Pilot[None]) -> None:
    """The main screen as a person first sees it: the Overview shown and focused (a key typed
    before that is typed ahead, while the console starts)."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
    await until(
        pilot, lambda: app.focused is app.screen.query_one(OverviewPane), "the overview focused"
    )
    await pilot.pause()
