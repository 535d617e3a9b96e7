"""The admin console: an administrator's view of the account, over the HTTP API only."""

from __future__ import annotations

import logging

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from . import config
from .api import AdminApi, ApiError, Me
from .screens.main import MainScreen
from .screens.signin import NOT_AN_ADMINISTRATOR, SignInScreen

log = logging.getLogger(__name__)


class AdminApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Timetrail admin"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, server_url: str | None = None, open_browser: bool = True) -> None:
        super().__init__()
        self.server_url = config.server_url(server_url)
        saved = config.load()
        token = saved.token if saved.server_url == self.server_url else None
        self.api = AdminApi(self.server_url, token)
        self.open_browser = open_browser
        self.me: Me | None = None

    def compose(self) -> ComposeResult:
        yield Static("Connecting…", id="splash")

    async def on_mount(self) -> None:
        if self.api.token is None:
            self.show_sign_in()
            return
        self.run_worker(self._resume(), exclusive=True, group="session")

    async def _resume(self) -> None:
        try:
            me = await self.api.me()
        except ApiError as error:
            message = None if error.code == "unauthorized" else error.message
            if error.code == "unauthorized":
                config.forget_token()
                self.api.token = None
            self.show_sign_in(message)
            return
        if me["role"] != "administrator":  # no longer one: the saved token is of no use
            config.forget_token()
            self.api.token = None
            self.show_sign_in(NOT_AN_ADMINISTRATOR)
            return
        self.signed_in(me)

    def show_sign_in(self, message: str | None = None) -> None:
        self._clear_screens()
        self.push_screen(SignInScreen(self.server_url, message))

    def signed_in(self, me: Me) -> None:
        self.me = me
        self._clear_screens()
        self.push_screen(MainScreen())

    def _clear_screens(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    async def use_server(self, url: str) -> AdminApi:
        """A client for the server the admin typed in (the old one is closed)."""
        url = url.strip().rstrip("/")
        if url != self.api.server_url:
            await self.api.close()
            self.api = AdminApi(url)
        self.server_url = url
        return self.api

    async def sign_out(self) -> None:
        try:
            await self.api.logout()
        except ApiError as error:
            log.info("sign-out: %s", error.message)
        self.api.token = None
        config.forget_token()
        self.me = None
        self.show_sign_in("Signed out.")

    def handle_error(self, error: ApiError) -> None:
        """Every failed call ends here: the API's own sentence, or back to sign-in."""
        if error.code == "unauthorized":
            config.forget_token()
            self.api.token = None
            self.show_sign_in(error.message)
            return
        self.notify(error.message, title="Error", severity="error", timeout=10)

    async def on_unmount(self) -> None:
        await self.api.close()
