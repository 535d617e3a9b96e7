"""How the console fits text into 80 columns: table widths, cut cells, tree labels told apart."""

from __future__ import annotations

import datetime as dt

from tui.api import Source, Task
from tui.screens.reports import shift, this_month
from tui.screens.roles import label, tags
from tui.widgets.fitted_table import Bar, Row, clip, fit, widen_bars


def test_columns_that_fit_keep_their_natural_widths() -> None:
    assert fit([10, 20, 13], [True, True, False], room=60) == [10, 20, 13]


def test_flexible_columns_give_up_width_the_widest_first_and_fixed_ones_none() -> None:
    # 13 + 6 fixed leave 31: the 12-wide name fits whole, the email gets the remaining 19.
    assert fit([12, 39, 13, 6], [True, True, False, False], room=50) == [12, 19, 13, 6]
    # Both too wide: they share what is left, evenly.
    assert fit([27, 39, 13], [True, True, False], room=43) == [15, 15, 13]
    # Nothing left: a flexible column keeps one cell.
    assert fit([27, 20], [True, False], room=10) == [1, 20]


def test_a_cut_cell_ends_with_an_ellipsis_within_its_width() -> None:
    assert clip("Ada Admin", 9) == "Ada Admin"
    assert clip("Bartholomew Longname", 12) == "Bartholomew…"  # no space before the "…"
    assert clip("漢字の名前です", 7) == "漢字の…"  # wide characters count two cells


def test_a_bar_is_drawn_to_an_eighth_of_a_cell_and_any_time_shows() -> None:
    assert Bar(1.0).draw(10) == "█" * 10
    assert Bar(0.5).draw(5) == "██▌"
    assert Bar(0.001).draw(10) == "▏"  # a minute in a long day still shows
    assert Bar(0.0).draw(10) == ""


def test_a_column_of_bars_takes_the_width_the_others_leave() -> None:
    rows: list[Row] = [
        ("1", ["Mon 2026-11-02", "2:30", Bar(1.0)]),
        ("2", ["Tue 2026-11-03", "1:00", Bar(0.4)]),
    ]
    assert widen_bars([14, 5, 10], rows, room=70) == [14, 5, 51]
    assert widen_bars([14, 5, 10], rows, room=20) == [14, 5, 10]  # no room: the least
    assert widen_bars([14, 5], [("1", ["x", "y"])], room=70) == [14, 5]  # no bars


def test_months_move_back_and_forward_across_years() -> None:
    assert shift(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert shift(dt.date(2026, 12, 1), 1) == dt.date(2027, 1, 1)
    assert shift(dt.date(2026, 6, 1), -18) == dt.date(2024, 12, 1)


def test_this_month_is_the_accounts_not_utcs() -> None:
    now = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC)  # April in UTC
    assert this_month(now, "UTC") == dt.date(2026, 4, 1)
    assert this_month(now, "America/New_York") == dt.date(2026, 3, 1)  # 23:00 on 31 March
    assert this_month(now, "Nowhere/Atlantis") == dt.date(2026, 4, 1)  # unknown here: UTC's


def task(name: str, record: str, path: list[str]) -> Task:
    source: Source = {"system": "salesforce", "object": "Opportunity", "id": record, "url": ""}
    return {
        "id": "task-" + record,
        "name": name,
        "parent_id": None,
        "path": path,
        "kind": "task",
        "archived": False,
        "locked": True,
        "source": source,
        "my_role": None,
    }


def test_a_search_result_reads_its_name_before_its_path() -> None:
    found = task("Acme - plant rollout phase 2", "0068d000G8003D8AII", ["Salesforce", "Opps"])
    assert label(found, with_path=True).plain == (
        "🔒 Acme - plant rollout phase 2 in Salesforce > Opps"
    )


def test_results_alike_in_what_the_tree_shows_of_them_are_tagged() -> None:
    path = ["Salesforce", "Opportunities"]
    one = task("Acme - plant rollout, phase 2", "0068d000G8003D8AII", path)
    two = task("Acme - plant rollout, phase 3", "0068d000G8003D9AII", path)
    other = task("Globex - training days", "0068d000G8003DAAII", path)
    results = [one, two, other]
    # Whole, they differ; in 25 cells they read the same, and each gets the tail of its
    # record id (of the 15-character form).
    assert tags(results, with_path=True) == {}
    assert tags(results, with_path=True, room=25) == {one["id"]: "8003D8", two["id"]: "8003D9"}
