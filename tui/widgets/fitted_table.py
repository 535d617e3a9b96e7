"""A table whose columns always fit its width, sized from the rows it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.markup import escape
from rich.text import Text
from textual import events
from textual.widgets import DataTable

ELLIPSIS = "…"
FULL_BLOCK = "█"
# A bar's last cell, by eighths: "▏" is 1/8 of a cell, "▉" 7/8.
PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"
BAR_MIN_WIDTH = 10


@dataclass(frozen=True)
class Column:
    label: str
    # A flexible column gives up width (its cells cut with "…") so that every column shows;
    # the others are always as wide as their widest cell.
    flexible: bool = False


@dataclass(frozen=True)
class Bar:
    """A cell drawn as a horizontal bar: `share` (0 to 1) of its column's width."""

    share: float

    def draw(self, width: int) -> str:
        """The bar in `width` cells, to an eighth of a cell; any time shows (one eighth)."""
        eighths = round(max(0.0, min(self.share, 1.0)) * width * 8)
        if self.share > 0:
            eighths = max(eighths, 1)
        full, part = divmod(eighths, 8)
        return (FULL_BLOCK * full + PARTIAL_BLOCKS[part]).rstrip()


Cell = str | Bar
Row = tuple[str, Sequence[Cell]]  # a row's key and its cells: plain text, or a bar


def _natural(cell: Cell) -> int:
    return BAR_MIN_WIDTH if isinstance(cell, Bar) else cell_len(cell)


def _shown(cell: Cell, width: int) -> str:
    return cell.draw(width) if isinstance(cell, Bar) else escape(clip(cell, width))


def fit(natural: Sequence[int], flexible: Sequence[bool], room: int) -> list[int]:
    """Column widths within `room` cells: natural widths when they fit, else the flexible
    columns share what the others leave, the widest cut first (never below 1)."""
    if sum(natural) <= room:
        return list(natural)
    left = room - sum(w for w, flex in zip(natural, flexible, strict=True) if not flex)
    wanted = sorted(w for w, flex in zip(natural, flexible, strict=True) if flex)
    # The largest cap such that the flexible columns, each cut to the cap, fit in `left`.
    cap, used = 1, 0
    for i, width in enumerate(wanted):
        share = (left - used) // (len(wanted) - i)
        if width > share:
            cap = max(share, 1)
            break
        used += width
    else:
        cap = max(wanted, default=1)
    return [min(w, cap) if flex else w for w, flex in zip(natural, flexible, strict=True)]


def clip(text: str, width: int) -> str:
    """`text` in at most `width` cells, its end replaced by "…" when cut."""
    if cell_len(text) <= width:
        return text
    cut = Text(text)
    cut.truncate(width - 1)
    return cut.plain.rstrip() + ELLIPSIS


class FittedTable(DataTable[str]):
    """Column widths are worked out with the rows and set with them, never measured later:
    Textual measures automatic widths only when the table is next idle, and a paint before
    then (a tab's first visit) shows the cells cut to the width of their header. Cells are
    plain text (a name with brackets is not markup) or bars; a column of bars takes the width
    the others leave, so that its bars are drawn to one scale. The widths are worked out again
    when the terminal is resized."""

    def __init__(self, *columns: Column, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.spec = columns
        self.shown: list[Row] = []
        self.fill([])

    def fill(self, rows: Sequence[Row]) -> None:
        """Show `rows` (replacing those shown); the cursor stays on the same row number."""
        self.shown = list(rows)
        row = self.cursor_row
        natural = [
            max([cell_len(c.label)] + [_natural(cells[i]) for _, cells in rows])
            for i, c in enumerate(self.spec)
        ]
        widths = natural
        if self.size.width:  # laid out: fit its width (and its scrollbar when rows overflow)
            room = self.size.width - 2 * self.cell_padding * len(self.spec)
            if len(rows) + self.header_height > self.size.height:
                room -= self.styles.scrollbar_size_vertical
            widths = fit(natural, [c.flexible for c in self.spec], room)
            widths = widen_bars(widths, rows, room)
        self.clear(columns=True)
        for i, (column, width) in enumerate(zip(self.spec, widths, strict=True)):
            self.add_column(escape(clip(column.label, width)), width=width, key=str(i))
        for key, cells in rows:
            self.add_row(*(_shown(c, w) for c, w in zip(cells, widths, strict=True)), key=key)
        if rows:
            self.move_cursor(row=max(0, min(row, len(rows) - 1)), animate=False)

    def on_resize(self, _: events.Resize) -> None:
        self.fill(self.shown)


def widen_bars(widths: list[int], rows: Sequence[Row], room: int) -> list[int]:
    """The room the columns leave, given to the first column of bars."""
    bars = next((i for i in range(len(widths)) if rows and isinstance(rows[0][1][i], Bar)), None)
    if bars is None or sum(widths) >= room:
        return widths
    return [w + (room - sum(widths) if i == bars else 0) for i, w in enumerate(widths)]
