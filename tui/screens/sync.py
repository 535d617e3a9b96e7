"""Force a sync, follow the running one live, and the history of runs with the warnings of the
selected one (objects the sync could not read)."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..api import ApiError, Run, RunWarning
from ..widgets.status import StatusLine
from .base import took, when
from .pane import Pane, reports_failures
from .watch import progress, watch_run


class SyncPane(Pane):
    BINDINGS = [
        Binding("s", "force_sync", "Force sync"),
        Binding("r", "reload", "Refresh"),
    ]

    def compose(self) -> ComposeResult:
        self._runs: dict[str, Run] = {}  # the runs listed, by id
        yield Static("", id="run-progress")
        table: DataTable[str] = DataTable(id="runs", cursor_type="row")
        # Fits 78 columns with its scrollbar: the time to the minute, short headers; the selected
        # run's length and full error show under the table.
        table.add_columns(
            "Started",
            "Trigger",
            "Status",
            "New",
            "Upd",
            "Arc",
            "Res",
            "Calls",
            "Warn",
            "Error",
        )
        yield table
        yield StatusLine("", id="run-warnings")

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
        self._runs = {run["id"]: run for run in runs}
        table: DataTable[str] = self.query_one("#runs", DataTable)
        table.clear()
        for run in runs:
            c = run["counts"]
            table.add_row(
                when(run["started_at"])[5:16],
                run["trigger"],
                run["status"],
                str(c["created"]),
                str(c["updated"]),
                str(c["archived"]),
                str(c["restored"]),
                str(run["api_calls"]),
                str(len(run["warnings"])) if run["warnings"] else "",
                ERROR_BELOW if run["error"] else "",
                key=run["id"],
            )
        self.show_warnings(runs[0] if runs else None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key in self._runs:
            self.show_warnings(self._runs[key])

    def show_warnings(self, run: Run | None) -> None:
        """The warnings of a run (the latest until another row is selected), one line each."""
        line = self.query_one("#run-warnings", Static)
        if run is None:
            line.update("")
            return
        length = took(run["started_at"], run["finished_at"])
        lines = [
            f"Run started {when(run['started_at'])}"
            + (f", took {length}" if length else "")
            + (":" if run["warnings"] else ".")
        ]
        if run["error"]:
            lines.append(f"[red]Error:[/red] {escape(_clip(run['error'], _LINE * 2 - 7))}")
        if run["warnings"]:
            lines[0] = f"[yellow]Warnings of the r{lines[0][1:]}[/yellow]"
        lines += [_warning_line(w) for w in run["warnings"]]
        line.update("\n".join(lines))

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


def _warning_line(warning: RunWarning) -> str:
    """`Case: INVALID_TYPE sObject type 'Case' is not supported.`: Salesforce's message to its
    first sentence, cut to fit an 80-column line."""
    message = " ".join(warning["message"].split())
    first = message.split(". ", 1)[0].rstrip(".") + "."
    text = f"{warning['object']}: {warning['code']} {first}"
    if len(text) > _LINE:
        text = text[: _LINE - 1] + "…"
    return escape(text)


_LINE = 76
# The Error column only says there is one: the selected run's error shows in full below.
ERROR_BELOW = "yes ↓"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
