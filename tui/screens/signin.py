"""Sign in with the server's URL, an email and a password."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from .. import config
from ..api import ApiError
from .base import admin_app

NOT_AN_ADMINISTRATOR = (
    "This console is for administrators. Your account is a regular user: ask an administrator "
    "of your account to make you one, or use the browser extension to track time."
)


class SignInScreen(Screen[None]):
    BINDINGS = [Binding("ctrl+s", "sign_in", "Sign in", priority=True)]

    def __init__(self, server_url: str, message: str | None = None) -> None:
        super().__init__()
        self.server_url = server_url
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="signin"):
            yield Static("[b]Timetrail admin console[/b] — sign in as an administrator")
            yield Label("Server URL")
            yield Input(self.server_url, id="server", compact=True)
            yield Label("Email")
            yield Input(id="email", compact=True, placeholder="admin@example.com")
            yield Label("Password")
            yield Input(id="password", password=True, compact=True)
            yield Button("Sign in", id="sign-in", variant="primary", compact=True)
            yield Static(self.message or "", id="signin-error", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#email", Input).focus()

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "password":
            self.action_sign_in()
        else:
            self.focus_next()

    @on(Button.Pressed, "#sign-in")
    def pressed(self) -> None:
        self.action_sign_in()

    def action_sign_in(self) -> None:
        server = self.query_one("#server", Input).value.strip()
        email = self.query_one("#email", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not server or not email or not password:
            self.show_error("Enter the server URL, your email and your password.")
            return
        self.show_error("Signing in…")
        self.sign_in(server, email, password)

    def show_error(self, message: str) -> None:
        self.query_one("#signin-error", Static).update(message)

    @work(exclusive=True, group="sign-in")
    async def sign_in(self, server: str, email: str, password: str) -> None:
        app = admin_app(self)
        api = await app.use_server(server)
        try:
            login = await api.login(email, password)
            if login["user"]["role"] != "administrator":
                await api.logout()  # the token is of no use here: revoke it at once
                self.show_error(NOT_AN_ADMINISTRATOR)
                return
            me = await api.me()
        except ApiError as error:
            api.token = None
            self.show_error(error.message)
            return
        config.save(config.Saved(api.server_url, api.token))
        app.signed_in(me)
