"""Enable or re-enable: where to log in (production, sandbox or a My Domain), the authorization
URL to open, then the outcome of the callback."""

from __future__ import annotations

import asyncio
import datetime as dt
import webbrowser

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from ..api import ApiError
from .base import admin_app

POLL_SECONDS = 1.0
PRODUCTION = "production"
SANDBOX = "sandbox"


def environment_label(environment: str) -> str:
    if environment == PRODUCTION:
        return "production (login.salesforce.com)"
    if environment == SANDBOX:
        return "sandbox (test.salesforce.com)"
    return f"My Domain {environment}"


def browser_available() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


HOW_TO_COPY = (
    "Select the link with the mouse to copy it (hold Shift while dragging in most terminals)."
)


class EnableScreen(ModalScreen[bool]):
    """Waits for the administrator to approve in a browser, polling the integration's status.
    The link logs in where the integration did before (production at first); p, s and d ask
    for a link to production, a sandbox or a My Domain instead."""

    BINDINGS = [
        Binding("c", "copy", "Copy link"),
        Binding("o", "open", "Open browser"),
        Binding("e", "restart", "New link"),
        Binding("p", "production", "Production"),
        Binding("s", "sandbox", "Sandbox"),
        Binding("d", "my_domain", "My Domain"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.url: str | None = None
        self.connected = False
        # None until the integration's own environment is known (the first link).
        self.environment: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="enable"):
            yield Static("[b]Enable Salesforce[/b]")
            yield Static("", id="environment", markup=False)
            yield Static(
                "Open this link in a browser and approve access in Salesforce "
                "(c copies it; you can also select it with the mouse):"
            )
            yield Static("Asking the server for a link…", id="authorize-url", markup=False)
            yield Static("", id="enable-state")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.start()

    def action_restart(self) -> None:
        self.start()

    def action_production(self) -> None:
        self.choose(PRODUCTION)

    def action_sandbox(self) -> None:
        self.choose(SANDBOX)

    def action_my_domain(self) -> None:
        """A field for the My Domain URL, there only while it is typed (the screen's keys are
        single letters)."""
        if self.query("#my-domain"):
            return
        field = Input(placeholder="https://<name>.my.salesforce.com, then Enter", id="my-domain")
        self.query_one("#enable", Vertical).mount(field, after="#environment")
        field.focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await event.input.remove()
        if event.value.strip():
            self.choose(event.value.strip())

    def choose(self, environment: str) -> None:
        self.environment = environment
        self.start()

    def state(self, text: str) -> None:
        self.query_one("#enable-state", Static).update(text)

    @work(exclusive=True, group="enable")
    async def start(self) -> None:
        app = admin_app(self)
        self.url = None  # a link for another environment must not be used by mistake
        self.query_one("#authorize-url", Static).update("Asking the server for a link…")
        try:
            # An active integration stays active while it is re-authorized: the outcome shows
            # as a new connection time (success) or a new message (failure).
            before = await app.api.integration()
            if self.environment is None:
                self.environment = before.get("environment") or PRODUCTION
            self.query_one("#environment", Static).update(
                f"Log in at: {environment_label(self.environment)} "
                "(p production, s sandbox, d My Domain)"
            )
            authorization = await app.api.connect(self.environment)
        except ApiError as error:
            self.state(f"[red]{escape(error.message)}[/red]")
            app.handle_error(error)
            return
        self.url = authorization["authorize_url"]
        self.query_one("#authorize-url", Static).update(self.url)
        if app.open_browser and await asyncio.to_thread(browser_available):
            await asyncio.to_thread(webbrowser.open, self.url)
        expires = dt.datetime.fromisoformat(authorization["expires_at"])
        self.state("Waiting for Salesforce… (the link works for ten minutes)")
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                status = await app.api.integration()
            except ApiError as error:
                self.state(f"[red]{escape(error.message)}[/red]")
                if error.code == "unauthorized":
                    app.handle_error(error)
                    return
                continue
            renewed = status.get("connected_at") != before.get("connected_at")
            if status["status"] == "active" and not renewed:
                if status["message"] and status["message"] != before["message"]:
                    self.state(f"[red]Not re-enabled: {escape(status['message'])}[/red]")
                    return
            elif status["status"] == "active":
                org = status["org"]
                who = f" as {org['username']}" if org else ""
                self.connected = True
                self.state(
                    f"[green]Connected{escape(who)}.[/green] A sync has started. "
                    "Press Esc to close."
                )
                return
            elif status["status"] != "authorizing":
                reason = status["message"] or status["reason"] or status["status"]
                self.state(f"[red]Not connected: {escape(reason)}[/red] Press e to try again.")
                return
            if dt.datetime.now(dt.UTC) > expires:
                self.state("[red]The link expired.[/red] Press e for a new one.")
                return

    def action_copy(self) -> None:
        if not self.url:
            self.app.notify("No link yet: wait for it, or press e for a new one.")
            return
        # Kept in the console's own clipboard; the terminal's is set with an escape sequence
        # (OSC 52) that no terminal acknowledges. So the message never claims a copy that may
        # not have happened, and says the way that always works.
        self.app.copy_to_clipboard(self.url)
        if self.app.is_headless:  # no terminal at all: nothing reached a clipboard
            self.app.notify(HOW_TO_COPY, severity="warning")
            return
        self.app.notify(
            "The link was sent to your terminal's clipboard. If pasting gives nothing, your "
            "terminal refused it: " + HOW_TO_COPY[0].lower() + HOW_TO_COPY[1:]
        )

    def action_open(self) -> None:
        if self.url:
            self.open_url(self.url)

    @work(group="browser")
    async def open_url(self, url: str) -> None:
        if await asyncio.to_thread(browser_available):
            await asyncio.to_thread(webbrowser.open, url)
        else:
            self.app.notify("No web browser here: copy the link (c) and open it elsewhere.")

    def action_close(self) -> None:
        self.dismiss(self.connected)
