"""A tab's content: focusable (so its key bindings show in the footer), reloads when shown."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from textual.containers import Vertical

from ..api import AdminApi, ApiError
from .base import admin_app


class Pane(Vertical, can_focus=True):
    def activate(self) -> None:
        """The tab was shown: focus it and load fresh data."""
        self.focus_first()
        self.reload()

    def focus_first(self) -> None:
        self.focus()

    def reload(self) -> None:
        """Start loading this pane's data (in a worker)."""

    def action_reload(self) -> None:
        self.reload()

    @property
    def api(self) -> AdminApi:
        return admin_app(self).api

    def failed(self, error: ApiError) -> None:
        admin_app(self).handle_error(error)


P = ParamSpec("P")
PaneT = TypeVar("PaneT", bound=Pane)


def reports_failures(
    method: Callable[Concatenate[PaneT, P], Awaitable[None]],
) -> Callable[Concatenate[PaneT, P], Awaitable[None]]:
    """For a pane's requests: an API error (a refusal, a session expired, the server gone)
    ends the method and is shown to the administrator (`Pane.failed`)."""

    @functools.wraps(method)
    async def run(pane: PaneT, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await method(pane, *args, **kwargs)
        except ApiError as error:
            pane.failed(error)

    return run
