"""Follow one sync run until it ends, reporting its progress as a line of text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.markup import escape

from ..api import AdminApi, ApiError, Run
from .base import run_counts

POLL_SECONDS = 0.5


def progress(run: Run) -> str:
    counts = run_counts(run)
    if run["status"] == "running":
        return f"Sync ({run['trigger']}) running… {counts}"
    if run["status"] == "failed":
        return f"[red]Sync ({run['trigger']}) failed: {escape(run['error'] or '')}[/red] {counts}"
    return f"[green]Sync ({run['trigger']}) succeeded:[/green] {counts}"


async def watch_run(api: AdminApi, run: Run, show: Callable[[str], object]) -> Run:
    """Poll the run until it is no longer running; `show` gets each state."""
    while True:
        show(progress(run))
        if run["status"] != "running":
            return run
        await asyncio.sleep(POLL_SECONDS)
        try:
            run = await api.run(run["id"])
        except ApiError as error:
            show(f"[red]{escape(error.message)}[/red]")
            raise
