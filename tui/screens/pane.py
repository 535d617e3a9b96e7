"""A tab's content: focusable (so its key bindings show in the footer), reloads when shown."""

from __future__ import annotations

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

    @property
    def api(self) -> AdminApi:
        return admin_app(self).api

    def failed(self, error: ApiError) -> None:
        admin_app(self).handle_error(error)
