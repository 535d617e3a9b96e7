"""The signed-in console: one tab per area, each a pane with its own key bindings."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from ..widgets.status import StatusLine
from .base import admin_app
from .items import ItemsPane
from .overview import OverviewPane
from .pane import Pane
from .reports import ReportsPane
from .roles import RolesPane
from .sync import SyncPane
from .users import UsersPane

TABS = ("overview", "items", "roles", "sync", "users", "reports")
# Textual's container of toasts, docked at the bottom of every screen.
TOAST_RACK = "#textual-toastrack"


class MainScreen(Screen[None]):
    BINDINGS = [
        *[
            Binding(str(n), f"show_tab('{tab}')", tab.title(), show=False)
            for n, tab in enumerate(TABS, start=1)
        ],
        Binding("ctrl+o", "sign_out", "Sign out"),
    ]

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("1 Overview", id="tab-overview"):
                yield OverviewPane(id="overview-pane")
            with TabPane("2 Items", id="tab-items"):
                yield ItemsPane(id="items-pane")
            with TabPane("3 Roles", id="tab-roles"):
                yield RolesPane(id="roles-pane")
            with TabPane("4 Sync", id="tab-sync"):
                yield SyncPane(id="sync-pane")
            with TabPane("5 Users", id="tab-users"):
                yield UsersPane(id="users-pane")
            with TabPane("6 Reports", id="tab-reports"):
                yield ReportsPane(id="reports-pane")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.active_pane().activate()

    def active_pane(self) -> Pane:
        """The pane of the tab shown (a key may have switched tabs before the screen mounted)."""
        shown = self.query_one(TabbedContent).active_pane
        return self.query_one(OverviewPane) if shown is None else shown.query_one(Pane)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane is not event.tabbed_content.active_pane:
            return  # a late one (the first tab's, at start-up): another tab is shown by now
        event.pane.query_one(Pane).activate()
        self.call_after_refresh(self.keep_toasts_clear)

    @on(StatusLine.Resized)
    def status_resized(self) -> None:
        self.keep_toasts_clear()

    def on_resize(self, _: events.Resize) -> None:
        self.call_after_refresh(self.keep_toasts_clear)

    def keep_toasts_clear(self) -> None:
        """Toasts stand above the footer and above the shown tab's status lines (the page
        shown, the selected run), so that those stay readable while a toast shows."""
        try:
            rack = self.query_one(TOAST_RACK)
            footer = self.query_one(Footer)
            pane = self.query_one(TabbedContent).active_pane
        except NoMatches:  # not composed yet, or a Textual without a toast rack
            return
        top = footer.region.y
        if pane is not None:
            for line in pane.query(StatusLine):
                if line.display and line.region.height:
                    top = min(top, line.region.y)
        rack.styles.margin = (0, 0, self.region.bottom - top, 0)

    def action_sign_out(self) -> None:
        app = admin_app(self)
        app.run_worker(app.sign_out(), exclusive=True, group="session")
