"""A selection list whose boxes say checked or not by their mark, not by their colour alone."""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

CHECKED = "✓"
UNCHECKED = " "


class CheckList(SelectionList[str]):
    """Textual draws the same `X` in every box and tells them apart by colour; here a checked
    box shows a tick and an unchecked one is empty, readable without colour."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        if len(segments) < 2 or segments[1].text != Checkbox.BUTTON_INNER:
            return strip
        mark = CHECKED if option.value in self.selected else UNCHECKED
        segments[1] = Segment(mark, segments[1].style)
        return Strip(segments, strip.cell_length)
