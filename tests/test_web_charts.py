"""The Reports page's SVG charts: bars per day stacked by project, and each project's share."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from server.web import charts
from server.web.charts import Slice

SVG = "{http://www.w3.org/2000/svg}"
JUNE_1 = dt.date(2026, 6, 1)
WEB = Slice("w", "Website", 2 * 3600)
OPS = Slice("o", "Operations <ops>", 3600)


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # well-formed XML, names escaped


def test_one_bar_per_day_that_had_time_stacked_by_project() -> None:
    palette = charts.colours([WEB, OPS])
    per_day = {JUNE_1: [WEB, OPS], dt.date(2026, 6, 3): [Slice("w", "Website", 1800)]}
    svg = _svg(charts.day_bars(JUNE_1, 30, per_day, palette, "Hours per day"))
    bars = svg.findall(f"{SVG}g[@class='day']")
    assert [b.get("data-day") for b in bars] == ["2026-06-01", "2026-06-03"]
    first = bars[0].findall(f"{SVG}rect")
    assert [r.get("class") for r in first] == [palette["w"], palette["o"]]
    # stacked: Operations sits on top of Website, half its height
    web_rect, ops_rect = first
    assert float(ops_rect.get("y") or 0) + float(ops_rect.get("height") or 0) == float(
        web_rect.get("y") or 0
    )
    assert float(web_rect.get("height") or 0) == 2 * float(ops_rect.get("height") or 0)
    tooltips = [t.text for t in bars[0].iter(f"{SVG}title")]
    assert tooltips == [
        "Mon 1 Jun: 3:00",
        "Mon 1 Jun, Website: 2:00",
        "Mon 1 Jun, Operations <ops>: 1:00",
    ]


def test_the_chart_has_an_accessible_name() -> None:
    svg = _svg(charts.day_bars(JUNE_1, 7, {JUNE_1: [WEB]}, charts.colours([WEB]), "Hours per day"))
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == "Hours per day"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == "1 of 7 days had time; the highest 2:00 hours."  # type: ignore[union-attr]


def test_no_time_draws_no_bars() -> None:
    svg = _svg(charts.day_bars(JUNE_1, 30, {}, {}, "Hours per day"))
    assert svg.findall(f"{SVG}g[@class='day']") == []


def test_shares_split_the_whole_width() -> None:
    svg = _svg(charts.share_bar([WEB, OPS], charts.colours([WEB, OPS]), "Share per project"))
    rects = svg.findall(f"{SVG}rect")
    widths = [float(r.get("width") or 0) for r in rects]
    assert widths == [480.0, 240.0]
    assert [r.find(f"{SVG}title").text for r in rects] == [  # type: ignore[union-attr]
        "Website: 2:00 (67%)",
        "Operations <ops>: 1:00 (33%)",
    ]


def test_projects_past_the_palette_share_one_colour() -> None:
    projects = [Slice(str(i), f"P{i}", 100 - i) for i in range(charts.COLOURS + 2)]
    palette = charts.colours(projects)
    assert palette["0"] == "c0"
    assert palette[str(charts.COLOURS)] == palette[str(charts.COLOURS + 1)] == charts.OTHER


def test_shares_as_percentages() -> None:
    assert charts.share(1, 3) == "33%"
    assert charts.share(1, 1000) == "<1%"
    assert charts.share(0, 0) == "0%"
