"""The integration at a glance, with what to do about it; enable, re-enable and unlink."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from ..api import Integration, Run
from .base import admin_app, run_counts, when
from .dialogs import ConfirmDialog
from .enable import EnableScreen
from .pane import Pane, reports_failures

REFRESH_SECONDS = 10

UNLINK_QUESTION = (
    "Syncing stops and the Salesforce sign-in is revoked and forgotten. Imported tasks and all "
    "time entries stay. You can enable the integration again later."
)

RE_ENABLE_QUESTION = (
    "The integration is active. Authorizing again replaces the stored Salesforce sign-in and "
    "makes you its owner; syncing resumes once Salesforce approves."
)


def warnings(status: Integration) -> list[str]:
    """What needs the administrator, each with the action to take."""
    state, reason = status["status"], status["reason"]
    owner = status["owner"]
    if reason == "not_configured":
        # Nothing the console can do: the server's settings must change.
        return [status["message"] or "Salesforce is not configured on this server."]
    if state == "needs_reauth" and reason == "owner_left":
        who = owner["name"] if owner else "The administrator who enabled it"
        return [
            f"Owner left: {who} is no longer an active administrator, so syncing is paused. "
            "Press e to re-enable the integration as yourself."
        ]
    if state == "needs_reauth":
        return [
            "Salesforce no longer accepts the stored sign-in, so syncing is paused "
            f"({status['message'] or reason}). Press e to re-enable."
        ]
    if reason == "api_disabled":
        return [
            "Salesforce refuses API access: either the org's edition has no API access, or "
            "this Salesforce user's profile lacks “API Enabled” (Setup → Profiles). Fix it, "
            "then press e to enable."
        ]
    if state == "error":
        return [f"{status['message'] or reason}. Press e to try again."]
    if state in ("not_connected", "unlinked"):
        return ["Salesforce is not connected. Press e to enable the integration."]
    if state == "authorizing":
        return ["An authorization is waiting for the browser. Press e for a new link."]
    return []


def run_line(run: Run | None) -> str:
    if run is None:
        return "no sync yet"
    text = f"{run['status']} ({run['trigger']}) at {when(run['started_at'])} — {run_counts(run)}"
    if run["error"]:
        text += f"\n  Error: {run['error']}"
    return text


def describe(status: Integration) -> str:
    owner, org, usage = status["owner"], status["org"], status["api_usage"]
    lines = [
        f"[b]Salesforce integration:[/b] {escape(status['status'].replace('_', ' '))}"
        + (f" ({escape(status['reason'])})" if status["reason"] else ""),
        f"Owner: {escape(owner['name'] + ' <' + owner['email'] + '>') if owner else '—'}",
    ]
    if org:
        lines.append(f"Salesforce user: {escape(org['username'])} ({escape(org['user_id'])})")
        lines.append(f"Salesforce org: {escape(org['org_id'])} at {escape(org['instance_url'])}")
    else:
        lines.append("Salesforce org and user: —")
    lines.append(f"Last sync: {escape(run_line(status['last_run']))}")
    lines.append(f"Next sync: {when(status['next_run_at'])}")
    used = f"{usage['used']} of {usage['limit']} calls in 24 hours" if usage else "—"
    lines.append(f"API usage: {used}")
    return "\n".join(lines)


class OverviewPane(Pane):
    BINDINGS = [
        Binding("e", "enable", "Enable / re-enable"),
        Binding("x", "unlink", "Unlink"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status: Integration | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="whoami")
        yield Static("Loading…", id="status")
        yield Static("", id="warnings", classes="warning")

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self.reload)

    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="overview")
    @reports_failures
    async def load(self) -> None:
        status = await self.api.integration()
        self.show(status)

    def show(self, status: Integration) -> None:
        self.status = status
        app = admin_app(self)
        me = app.me
        if me is not None:
            self.query_one("#whoami", Static).update(
                f"Signed in as {escape(me['name'])} <{escape(me['email'])}>, account "
                f"{escape(me['account']['name'])}, on {escape(app.api.server_url)}"
            )
        self.query_one("#status", Static).update(describe(status))
        notes = warnings(status)
        self.query_one("#warnings", Static).update("\n".join(f"⚠ {escape(n)}" for n in notes))

    def action_enable(self) -> None:
        if self.status is None or self.status["status"] != "active":
            self.app.push_screen(EnableScreen(), lambda _: self.reload())
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(EnableScreen(), lambda _: self.reload())

        self.app.push_screen(
            ConfirmDialog("Re-enable Salesforce?", RE_ENABLE_QUESTION, "Re-enable"), answered
        )

    def action_unlink(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.unlink()

        self.app.push_screen(
            ConfirmDialog("Unlink Salesforce?", UNLINK_QUESTION, "Unlink"), answered
        )

    @work(exclusive=True, group="unlink")
    @reports_failures
    async def unlink(self) -> None:
        status = await self.api.unlink()
        self.app.notify("Salesforce is unlinked. Imported tasks and time entries stay.")
        self.show(status)
