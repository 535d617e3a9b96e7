"""Force a sync, follow the running one live, and the history of runs."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..api import ApiError, Run
from .base import took, when
from .pane import Pane, reports_failures
from .watch import progress, watch_run


class SyncPane(Pane):
    BINDINGS = [
        Binding("s", "force_sync", "Force sync"),
        Binding("r", "reload", "Refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="run-progress")
        table: DataTable[str] = DataTable(id="runs", cursor_type="row")
        table.add_columns(
            "Started", "Trigger", "Status", "Took", "New", "Upd", "Arch", "Rest", "Calls", "Error"
        )
        yield table

    def focus_first(self) -> None:
        self.query_one("#runs", DataTable).focus()

    def reload(self) -> None:
        self.load_runs()

    @work(exclusive=True, group="runs")
    @reports_failures
    async def load_runs(self) -> None:
        runs = await self.api.runs()
        self.show_runs(runs)
        if runs and runs[0]["status"] == "running":
            self.follow(runs[0])
        elif runs:
            self.query_one("#run-progress", Static).update("Last: " + progress(runs[0]))
        else:
            self.query_one("#run-progress", Static).update("No sync has run yet.")

    def show_runs(self, runs: list[Run]) -> None:
        table: DataTable[str] = self.query_one("#runs", DataTable)
        table.clear()
        for run in runs:
            c = run["counts"]
            table.add_row(
                when(run["started_at"]),
                run["trigger"],
                run["status"],
                took(run["started_at"], run["finished_at"]),
                str(c["created"]),
                str(c["updated"]),
                str(c["archived"]),
                str(c["restored"]),
                str(run["api_calls"]),
                run["error"] or "",
                key=run["id"],
            )

    def action_force_sync(self) -> None:
        self.force_sync()

    @work(exclusive=True, group="sync")
    async def force_sync(self) -> None:
        try:
            run = await self.api.force_sync()
        except ApiError as error:
            self.query_one("#run-progress", Static).update(f"[red]{escape(error.message)}[/red]")
            self.failed(error)
            return
        self.app.notify("Sync started.")
        await self.follow_run(run)

    def follow(self, run: Run) -> None:
        self.run_worker(self.follow_run(run), exclusive=True, group="sync")

    async def follow_run(self, run: Run) -> None:
        line = self.query_one("#run-progress", Static)
        try:
            await watch_run(self.api, run, line.update)
            self.show_runs(await self.api.runs())
        except ApiError as error:
            self.failed(error)
