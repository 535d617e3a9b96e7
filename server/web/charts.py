"""The Reports page's charts, drawn on the server as SVG (no script, no library, no CDN).

Pure: given the numbers the page's tables show, they return the SVG markup. Colours are classes
(`c0`…`c7`, `other`) the stylesheet fills, so the page's policy of no inline style holds. Every
chart says what it shows in a `<title>`/`<desc>` (its accessible name), and every bar or slice
carries a `<title>` with its label and hours (a tooltip, and what a screen reader reads).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from markupsafe import Markup, escape

from ..timesheet import hours_or_zero

# Projects beyond the first this many (by time) share the colour "other".
COLOURS = 8
OTHER = "other"
# The bar chart's drawing, in SVG user units (it scales to the page's width).
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26
SHARE_HEIGHT = 28
# Hours on the bar chart's axis: a step that gives at most this many lines.
MAX_TICKS = 5
STEPS_HOURS = (1, 2, 4, 5, 10, 20, 25, 50, 100, 200, 500)


class Slice(NamedTuple):
    """Time on one project (`key`: its id; None for time on no task). (A named tuple: a year's
    chart has thousands of them, made faster than a frozen dataclass's.)"""

    key: str | None
    label: str
    seconds: int


def colours(projects: Sequence[Slice]) -> dict[str | None, str]:
    """Each project's colour class, the most time first; the rest share "other"."""
    ranked = sorted(projects, key=lambda s: -s.seconds)
    return {s.key: f"c{i}" if i < COLOURS else OTHER for i, s in enumerate(ranked)}


def _step(max_hours: float) -> int:
    for step in STEPS_HOURS:
        if max_hours / step <= MAX_TICKS:
            return step
    return math.ceil(max_hours / MAX_TICKS)


def _day_label(day: dt.date, days: int) -> str | None:
    """The x axis: every day's number on a month or less, else the months' first days."""
    if days <= 16:
        return str(day.day)
    if days <= 31:
        return str(day.day) if day.day % 2 == 1 else None
    return day.strftime("%b") if day.day == 1 else None


def day_bars(
    first: dt.date,
    days: int,
    per_day: Mapping[dt.date, Sequence[Slice]],
    palette: Mapping[str | None, str],
    title: str,
) -> Markup:
    """One bar per day of `first` and the `days` after it that had time, stacked by project
    (the order of `per_day`'s slices, bottom up); a day without time has no bar."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = {day: sum(s.seconds for s in slices) for day, slices in per_day.items()}
    top_seconds = max(totals.values(), default=0)
    step = _step(top_seconds / 3600 or 1)
    axis_hours = max(step, math.ceil(top_seconds / 3600 / step) * step)
    scale = plot_h / (axis_hours * 3600)
    slot = plot_w / max(days, 1)
    bar_w = max(slot * 0.7, 1)
    had_time = sum(1 for total in totals.values() if total > 0)
    out = [
        Markup(
            '<svg class="chart bars" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="bars-title bars-desc" xmlns="http://www.w3.org/2000/svg">'
            '<title id="bars-title">{}</title>'
            '<desc id="bars-desc">{} of {} days had time; the highest {} hours.</desc>'
            '<g class="axis">'
        ).format(WIDTH, HEIGHT, title, had_time, days, hours_or_zero(top_seconds))
    ]
    for tick in range(0, axis_hours + 1, step):
        line_y = TOP + plot_h - tick * 3600 * scale
        out.append(
            Markup('<line x1="{}" x2="{}" y1="{}" y2="{}"/>').format(
                LEFT, WIDTH - RIGHT, _n(line_y), _n(line_y)
            )
            + Markup('<text x="{}" y="{}" text-anchor="end">{}h</text>').format(
                LEFT - 6, _n(line_y + 4), tick
            )
        )
    for i in range(days):
        label = _day_label(first + dt.timedelta(days=i), days)
        if label is not None:
            out.append(
                Markup('<text x="{}" y="{}" text-anchor="middle">{}</text>').format(
                    _n(LEFT + slot * (i + 0.5)), HEIGHT - 8, label
                )
            )
    out.append(Markup("</g>"))
    width = _n(bar_w)
    # (a year has thousands of pieces: each text escaped on its own, faster than format(), a
    # project's colour and name once)
    pieces: dict[tuple[str | None, str], tuple[str, str]] = {}
    for i in range(days):
        day = first + dt.timedelta(days=i)
        slices = [s for s in per_day.get(day, ()) if s.seconds > 0]
        if not slices:
            continue
        x = _n(LEFT + slot * i + (slot - bar_w) / 2)
        y: float = TOP + plot_h
        day_text = escape(day.strftime("%a %-d %b"))
        bars = [
            f'<g class="day" data-day="{day.isoformat()}"><title>{day_text}: '
            f"{hours_or_zero(totals[day])}</title>"
        ]
        for s in slices:
            h = s.seconds * scale
            y -= h
            piece = pieces.get((s.key, s.label))
            if piece is None:
                piece = pieces[(s.key, s.label)] = (
                    escape(palette.get(s.key, OTHER)),
                    escape(s.label),
                )
            bars.append(  # (coordinates as `_n` writes them, without a call each)
                f'<rect class="{piece[0]}" x="{x}" y="{y:.1f}" '
                f'width="{width}" height="{h:.1f}"><title>{day_text}, {piece[1]}: '
                f"{hours_or_zero(s.seconds)}</title></rect>"
            )
        # (every text in it is escaped but the hours, digits and a colon)
        out.append(Markup("".join(bars) + "</g>"))  # noqa: S704
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def share_bar(projects: Sequence[Slice], palette: Mapping[str | None, str], title: str) -> Markup:
    """Each project's share of the time, as one horizontal bar (100%) split in order."""
    total = sum(s.seconds for s in projects)
    out = [
        Markup(
            '<svg class="chart share" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="share-title" xmlns="http://www.w3.org/2000/svg">'
            '<title id="share-title">{}</title>'
        ).format(WIDTH, SHARE_HEIGHT, title)
    ]
    x = 0.0
    for s in projects:
        if s.seconds <= 0 or total == 0:
            continue
        w = WIDTH * s.seconds / total
        out.append(
            Markup(
                '<rect class="{}" x="{}" y="0" width="{}" height="{}"><title>{}: {} ({})</title>'
                "</rect>"
            ).format(
                palette.get(s.key, OTHER),
                _n(x),
                _n(w),
                SHARE_HEIGHT,
                s.label,
                hours_or_zero(s.seconds),
                share(s.seconds, total),
            )
        )
        x += w
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def _n(value: float) -> str:
    """A coordinate, to a tenth of a unit."""
    return f"{value:.1f}"


def share(seconds: int, total: int) -> str:
    """A part of the total as a whole percentage ("62%"); below one, "<1%"."""
    if total <= 0:
        return "0%"
    percent = 100 * seconds / total
    return "<1%" if 0 < percent < 1 else f"{round(percent)}%"
