"""The embedded store decides in Python (`match.py`) what MongoDB's query would return."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from mongomock.filtering import filter_applies

from server.store import match

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
def test_the_verdict_is_mongodbs(filter: dict[str, Any]) -> None:
    utc = match.utc(filter)
    assert [match.matches(doc, utc) for doc in DOCS] == [
        filter_applies(_naive(filter), _naive(doc))  # type: ignore[no-untyped-call]
        for doc in DOCS
    ]


@pytest.mark.parametrize("filter", FILTERS)
def test_a_compiled_matcher_gives_the_same_verdicts(filter: dict[str, Any]) -> None:
    utc = match.utc(filter)
    check = match.matcher(utc)
    assert [check(doc) for doc in DOCS] == [match.matches(doc, utc) for doc in DOCS]


def test_a_report_filter_selects_the_entries_in_its_range() -> None:
    report = match.utc({"account_id": "a", "start": {"$gt": T0 - 2 * HOUR, "$lt": T0 + HOUR}})
    check = match.matcher(report)
    assert [i for i, doc in enumerate(DOCS) if check(doc)] == [0, 2, 4, 5, 6, 9, 10]


def _naive(value: Any) -> Any:
    """As mongomock compares datetimes: naive, in UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dict):
        return {k: _naive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_naive(v) for v in value]
    return value


NAIVE = T0.replace(tzinfo=None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"$set": {"at": {"list": [1, NAIVE]}}}, {"$set": {"at": {"list": [1, T0]}}}),
        ({"start": {"$in": (T0, NAIVE)}}, {"start": {"$in": [T0, T0]}}),  # tuples as lists
        ({"$set": {"end": T0}, "$unset": {"timer_of": ""}}, None),  # already so: itself
    ],
)
def test_utc_makes_every_datetime_aware_and_copies_only_to_do_so(given: Any, expected: Any) -> None:
    converted = match.utc(given)
    assert converted is given if expected is None else repr(converted) == repr(expected)
