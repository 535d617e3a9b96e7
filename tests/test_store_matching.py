"""The embedded store's batched reads decide in Python what its engine's query would return."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from server.store.matching import engine_matches, matcher

T0 = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)

DOCS: list[dict[str, Any]] = [
    {"account_id": "a", "user_id": "u", "start": T0},
    {"account_id": "a", "user_id": "u", "start": T0 + HOUR},
    {"account_id": "a", "user_id": "v", "start": T0 - HOUR},
    {"account_id": "b", "user_id": "u", "start": T0},
    {"account_id": "a", "start": T0},  # no user_id
    {"account_id": "a", "user_id": None, "start": T0},
    {"account_id": "a", "user_id": ["u", "w"], "start": T0},  # an array matches element-wise
    {"account_id": "a", "user_id": "u", "start": None},
    {"account_id": "a", "user_id": "u", "start": "2026-06-01"},  # another type: no match
    {"account_id": "a", "user_id": "u", "start": [T0 - HOUR, T0 + HOUR]},
    {"account_id": "a", "user_id": 7, "start": T0},
]

FILTERS: list[dict[str, Any]] = [
    {"account_id": "a", "start": {"$gt": T0 - 2 * HOUR, "$lt": T0 + HOUR}},
    {"account_id": "a", "user_id": "u", "start": {"$gte": T0, "$lte": T0 + HOUR}},
    {"account_id": "a", "user_id": None},
    {"account_id": "a", "start": {"$lt": T0.replace(tzinfo=None)}},  # naive means UTC
    {"account_id": "a", "$or": [{"user_id": "v"}, {"start": {"$gt": T0}}]},  # the engine's way
    {"start": {"$in": [T0]}},
]


@pytest.mark.parametrize("filter", FILTERS)
def test_the_verdict_is_the_engines(filter: dict[str, Any]) -> None:
    matches = matcher(filter)
    assert [matches(doc) for doc in DOCS] == [engine_matches(filter, doc) for doc in DOCS]


def test_a_report_filter_selects_the_entries_in_its_range() -> None:
    matches = matcher({"account_id": "a", "start": {"$gt": T0 - 2 * HOUR, "$lt": T0 + HOUR}})
    assert [i for i, doc in enumerate(DOCS) if matches(doc)] == [0, 2, 4, 5, 6, 9, 10]
