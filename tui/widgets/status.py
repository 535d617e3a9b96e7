"""A pane's last lines, saying where it stands (the page shown, the selected run): toasts are
kept above them, never on them."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Static


class StatusLine(Static):
    """Sits at the bottom of its pane; says so to the screen whenever its height changes (it
    grows upwards, so the toasts above it have to move)."""

    class Resized(Message):
        """A status line took more or fewer lines."""

    def on_resize(self, _: events.Resize) -> None:
        self.post_message(self.Resized())
