"""What every pane shares: the typed app, and formatting of times, counts and runs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

from textual.widget import Widget

if TYPE_CHECKING:
    from ..api import Run
    from ..app import AdminApp


def admin_app(widget: Widget) -> AdminApp:
    return cast("AdminApp", widget.app)


def when(iso: str | None) -> str:
    """An API time as local date and time, to the second."""
    if not iso:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def counted(n: int, noun: str) -> str:
    """`1 user`, `2 users`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def run_counts(run: Run) -> str:
    c = run["counts"]
    return (
        f"{c['created']} created, {c['updated']} updated, {c['archived']} archived, "
        f"{c['restored']} restored; {counted(run['api_calls'], 'API call')}"
    )


def took(start: str | None, end: str | None) -> str:
    if not start or not end:
        return ""
    seconds = (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
    return f"{seconds:.2f} s"
