"""One contract for every store backend: what the domain relies on, checked through `Store`.

The same tests run on mongomock (tests), the embedded store (the default) and, when
TIMETRAIL_TEST_MONGODB_URI names a server, real MongoDB.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pymongo.errors
import pytest

from server.store import (
    DuplicateKeyError,
    Millis,
    Store,
    open_embedded,
    open_mongodb,
    open_mongomock,
)
from server.tree import source_key

MONGODB_URI = os.environ.get("TIMETRAIL_TEST_MONGODB_URI", "")

BACKENDS = [
    "mongomock",
    "embedded",
    pytest.param(
        "mongodb",
        marks=pytest.mark.skipif(
            not MONGODB_URI,
            reason="set TIMETRAIL_TEST_MONGODB_URI to a MongoDB server to run the contract on it",
        ),
    ),
]

UTC = dt.UTC
PARIS_WINTER = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: str = request.param
    if backend == "mongomock":
        opened = await open_mongomock()
        yield opened
        await opened.close()
    elif backend == "embedded":
        opened = await open_embedded(tmp_path / "data")
        yield opened
        await opened.close()
    else:
        from pymongo import AsyncMongoClient

        database = f"timetrail_test_{uuid.uuid4().hex}"
        opened = await open_mongodb(MONGODB_URI, database=database)
        try:
            yield opened
        finally:
            await opened.close()
            admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
            try:
                await admin.drop_database(database)
            finally:
                await admin.close()


def _entry(n: int, **fields: Any) -> dict[str, Any]:
    return {"_id": f"e{n:03d}", "account_id": "acc", "n": n, **fields}


# Reading --------------------------------------------------------------------------------------


async def test_inserted_documents_are_found_by_equality(store: Store) -> None:
    await store.entries.insert_many([_entry(1, user_id="u1"), _entry(2, user_id="u2")])
    await store.entries.insert_one(_entry(3, user_id="u1"))

    found = await store.entries.find({"user_id": "u1"}, sort=[("n", 1)])

    assert [d["_id"] for d in found] == ["e001", "e003"]
    assert await store.entries.find_one({"_id": "e002"}) == _entry(2, user_id="u2")
    assert await store.entries.find_one({"_id": "missing"}) is None


async def test_batches_see_exactly_what_find_sees_after_every_kind_of_write(store: Store) -> None:
    """As the search index reads an account's tasks: in batches by (parent_id, _id)."""
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=PARIS_WINTER)
    await store.tasks.insert_many([_entry(n, start=at, tags=["a", "b"]) for n in range(6)])
    await store.tasks.insert_one(_entry(6, account_id="other"))
    await store.tasks.update_one({"_id": "e001"}, {"$set": {"name": "renamed"}})
    await store.tasks.update_many({"n": {"$in": [2, 3]}}, {"$set": {"account_id": "other"}})
    await store.tasks.delete_one({"_id": "e004"})
    await store.tasks.find_one_and_update({"_id": "e007"}, {"$set": _entry(7)}, upsert=True)
    await store.tasks.update_one({"_id": "e005"}, {"$set": {"parent_id": "e000"}})

    async def read(account_id: str) -> list[dict[str, Any]]:
        batches = store.tasks.batches(
            {"account_id": account_id}, size=2, keyset=("parent_id", "_id")
        )
        return [doc async for batch in batches for doc in batch]

    read_back = await read("acc")
    assert sorted(read_back, key=lambda d: d["_id"]) == await store.tasks.find(
        {"account_id": "acc"}, sort=[("_id", 1)]
    )
    assert [d["_id"] for d in read_back] == ["e000", "e001", "e007", "e005"]
    first = read_back[0]
    assert first["start"] == at and first["start"].utcoffset() == dt.timedelta(0)
    assert read_back[1]["name"] == "renamed"
    assert await read("nobody") == []


async def test_rows_are_the_asked_fields_of_what_batches_read(store: Store) -> None:
    """As a report reads an account's entries: a few fields of each, by (start, _id)."""
    at = dt.datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=UTC)
    fields = {"_id": str, "account_id": str, "start": Millis, "end": Millis}
    fields |= {"task_id": str, "billable": int}
    await store.entries.insert_many(
        [
            _entry(1, start=at, end=at + dt.timedelta(hours=1), task_id="t1", billable=True),
            _entry(2, start=at, end=None, task_id=None, billable=False),  # running, no task
            _entry(3, start=at - dt.timedelta(days=1), end=at),  # no billable field
            _entry(4, start=at + dt.timedelta(days=9)),  # after the range
            _entry(5, account_id="other", start=at),
        ]
    )
    await store.entries.update_one({"_id": "e003"}, {"$set": {"task_id": "t3"}})
    since, until = at - dt.timedelta(days=2), at + dt.timedelta(days=1)
    query = {"account_id": "acc", "start": {"$gt": since, "$lte": until}}

    async def read(filter: dict[str, Any], names: dict[str, type]) -> list[tuple[Any, ...]]:
        batches = store.entries.rows(filter, names, size=2, keyset=("start", "_id"))
        return [row async for batch in batches for row in batch]

    read_back = await read(query, fields)
    ms = 1_772_442_000_250  # `at`, in milliseconds since 1970
    day, hour = 86_400_000, 3_600_000
    assert read_back == [
        ("e003", "acc", ms - day, ms, "t3", None),
        ("e001", "acc", ms, ms + hour, "t1", 1),
        ("e002", "acc", ms, None, None, 0),
    ]
    assert Millis.of(at) == ms
    # A filter on a field not asked for (or not indexed) reads the same through the documents.
    assert await read({**query, "n": {"$ne": 1}}, {"_id": str}) == [("e003",), ("e002",)]


async def test_find_sorts_then_skips_then_limits(store: Store) -> None:
    await store.entries.insert_many([_entry(n) for n in (4, 1, 9, 7, 3, 8, 2, 6, 5, 0)])

    page = await store.entries.find({}, sort=[("n", -1)], skip=2, limit=3)

    assert [d["n"] for d in page] == [7, 6, 5]


async def test_find_sorts_on_two_keys(store: Store) -> None:
    await store.entries.insert_many(
        [_entry(1, day=2), _entry(2, day=1), _entry(3, day=2), _entry(4, day=1)]
    )

    found = await store.entries.find({}, sort=[("day", 1), ("n", -1)])

    assert [d["n"] for d in found] == [4, 2, 3, 1]


async def test_find_one_honours_sort(store: Store) -> None:
    await store.entries.insert_many([_entry(n) for n in (2, 5, 1)])

    newest = await store.entries.find_one({}, sort=[("n", -1)])

    assert newest is not None and newest["n"] == 5


async def test_projection_returns_only_the_asked_fields(store: Store) -> None:
    await store.entries.insert_one(_entry(1, user_id="u1", note="secret"))

    found = await store.entries.find({}, projection={"user_id": 1})

    assert found == [{"_id": "e001", "user_id": "u1"}]


async def test_in_matches_any_of_the_values(store: Store) -> None:
    await store.entries.insert_many([_entry(n) for n in range(6)])

    found = await store.entries.find({"_id": {"$in": ["e001", "e004", "nope"]}}, sort=[("n", 1)])

    assert [d["n"] for d in found] == [1, 4]


async def test_and_requires_every_condition(store: Store) -> None:
    await store.tasks.insert_many(
        [
            {"_id": "t1", "account_id": "a", "search_prefixes": ["w", "we", "web"]},
            {"_id": "t2", "account_id": "a", "search_prefixes": ["w", "we", "web", "s", "si"]},
            {"_id": "t3", "account_id": "b", "search_prefixes": ["w", "we", "web", "s", "si"]},
        ]
    )

    found = await store.tasks.find(
        {"$and": [{"account_id": "a"}, {"search_prefixes": "web"}, {"search_prefixes": "si"}]}
    )

    assert [d["_id"] for d in found] == ["t2"]


async def test_equality_on_an_array_field_matches_any_element(store: Store) -> None:
    await store.tasks.insert_many(
        [
            {"_id": "root", "ancestors": []},
            {"_id": "child", "ancestors": ["root"]},
            {"_id": "grandchild", "ancestors": ["root", "child"]},
            {"_id": "other", "ancestors": ["elsewhere"]},
        ]
    )

    below_root = await store.tasks.find({"ancestors": "root"}, sort=[("_id", 1)])
    below_child = await store.tasks.find({"ancestors": "child"})

    assert [d["_id"] for d in below_root] == ["child", "grandchild"]
    assert [d["_id"] for d in below_child] == ["grandchild"]


async def test_count_counts_matching_documents(store: Store) -> None:
    await store.entries.insert_many([_entry(n, even=n % 2 == 0) for n in range(7)])

    assert await store.entries.count({"even": True}) == 4
    assert await store.entries.count({}) == 7
    assert await store.entries.count({"even": "neither"}) == 0


# Writing --------------------------------------------------------------------------------------


async def test_insert_of_an_existing_id_is_refused(store: Store) -> None:
    await store.entries.insert_one(_entry(1))

    with pytest.raises(DuplicateKeyError):
        await store.entries.insert_one(_entry(1, note="again"))


async def test_upsert_with_set_on_insert_writes_only_on_insert(store: Store) -> None:
    first = await store.entries.update_one(
        {"_id": "e001"},
        {"$setOnInsert": {"note": "original"}, "$set": {"seen": 1}},
        upsert=True,
    )
    second = await store.entries.update_one(
        {"_id": "e001"},
        {"$setOnInsert": {"note": "replacement"}, "$set": {"seen": 2}},
        upsert=True,
    )

    assert (first.matched, first.upserted_id) == (0, "e001")
    assert (second.matched, second.modified, second.upserted_id) == (1, 1, None)
    assert await store.entries.find_one({"_id": "e001"}) == {
        "_id": "e001",
        "note": "original",
        "seen": 2,
    }


async def test_update_one_without_upsert_leaves_a_missing_document_missing(store: Store) -> None:
    outcome = await store.entries.update_one({"_id": "ghost"}, {"$set": {"note": "x"}})

    assert (outcome.matched, outcome.modified, outcome.upserted_id) == (0, 0, None)
    assert await store.entries.count({}) == 0


async def test_update_many_changes_every_match_and_reports_the_count(store: Store) -> None:
    await store.entries.insert_many([_entry(n, user_id="u1" if n < 3 else "u2") for n in range(5)])

    changed = await store.entries.update_many({"user_id": "u1"}, {"$set": {"note": "bulk"}})

    assert changed == 3
    assert await store.entries.count({"note": "bulk"}) == 3


async def test_update_each_applies_every_update_and_creates_nothing(store: Store) -> None:
    await store.tasks.insert_many([_entry(n) for n in range(4)])
    assert (await store.tasks.find_one({"_id": "e001"})) is not None  # cached, where cached

    await store.tasks.update_each(
        [
            ({"_id": "e001"}, {"$set": {"name": "one"}}),
            ({"_id": "e003"}, {"$set": {"name": "three", "n": 30}}),
            ({"_id": "missing"}, {"$set": {"name": "ghost"}}),
        ]
    )

    names = {d["_id"]: d.get("name") for d in await store.tasks.find({}, sort=[("_id", 1)])}
    assert names == {"e000": None, "e001": "one", "e002": None, "e003": "three"}
    assert (await store.tasks.find_one({"_id": "e001"}) or {}).get("name") == "one"
    assert (await store.tasks.find_one({"_id": "e003"}) or {}).get("n") == 30
    await store.tasks.update_each([])


async def test_find_one_and_update_returns_the_document_before(store: Store) -> None:
    await store.login_attempts.insert_one({"_id": "x@y.test", "failures": 1})

    before = await store.login_attempts.find_one_and_update(
        {"_id": "x@y.test"}, {"$inc": {"failures": 1}}, return_new=False
    )

    assert before == {"_id": "x@y.test", "failures": 1}
    assert await store.login_attempts.find_one({"_id": "x@y.test"}) == {
        "_id": "x@y.test",
        "failures": 2,
    }


async def test_find_one_and_update_returns_the_document_after(store: Store) -> None:
    await store.login_attempts.insert_one({"_id": "x@y.test", "failures": 1})

    after = await store.login_attempts.find_one_and_update(
        {"_id": "x@y.test"}, {"$inc": {"failures": 1}}
    )

    assert after == {"_id": "x@y.test", "failures": 2}


async def test_find_one_and_update_without_a_match_returns_none(store: Store) -> None:
    result = await store.login_attempts.find_one_and_update(
        {"_id": "nobody"}, {"$set": {"failures": 1}}
    )

    assert result is None
    assert await store.login_attempts.count({}) == 0


async def test_find_one_and_update_upsert_returns_none_before_and_the_new_doc_after(
    store: Store,
) -> None:
    before = await store.timers.find_one_and_update(
        {"_id": "u1"}, {"$set": {"entry": {"_id": "a"}}}, upsert=True, return_new=False
    )
    after = await store.timers.find_one_and_update(
        {"_id": "u2"}, {"$set": {"entry": {"_id": "b"}}}, upsert=True
    )

    assert before is None
    assert after == {"_id": "u2", "entry": {"_id": "b"}}


async def test_find_one_and_update_with_sort_changes_the_first_in_that_order(
    store: Store,
) -> None:
    await store.entries.insert_many([_entry(n) for n in (3, 1, 2)])

    changed = await store.entries.find_one_and_update(
        {}, {"$set": {"picked": True}}, sort=[("n", 1)]
    )

    assert changed is not None and changed["n"] == 1
    assert [d["n"] for d in await store.entries.find({"picked": True})] == [1]


async def test_find_one_and_delete_returns_the_removed_document(store: Store) -> None:
    await store.entries.insert_many([_entry(1), _entry(2)])

    removed = await store.entries.find_one_and_delete({"_id": "e001"})

    assert removed == _entry(1)
    assert await store.entries.find_one({"_id": "e001"}) is None
    assert await store.entries.find_one_and_delete({"_id": "e001"}) is None
    assert await store.entries.count({}) == 1


async def test_delete_one_removes_one_and_reports_it(store: Store) -> None:
    await store.entries.insert_many([_entry(1, user_id="u1"), _entry(2, user_id="u1")])

    assert await store.entries.delete_one({"user_id": "u1"}) == 1
    assert await store.entries.delete_one({"user_id": "nobody"}) == 0
    assert await store.entries.count({"user_id": "u1"}) == 1


async def test_delete_many_removes_every_match_and_reports_the_count(store: Store) -> None:
    await store.tokens.insert_many(
        [{"_id": f"h{n}", "user_id": "u1" if n < 4 else "u2"} for n in range(6)]
    )

    deleted = await store.tokens.delete_many({"user_id": "u1"})

    assert deleted == 4
    assert [d["_id"] for d in await store.tokens.find({}, sort=[("_id", 1)])] == ["h4", "h5"]


async def test_set_of_an_array_element_by_position(store: Store) -> None:
    await store.tasks.insert_many(
        [
            {"_id": "t1", "ancestors": ["p", "q"], "path": ["Clients", "Acme", "Website"]},
            {"_id": "t2", "ancestors": ["p", "q", "r"], "path": ["Clients", "Acme", "Web", "UX"]},
            {"_id": "t3", "ancestors": ["z"], "path": ["Internal"]},
        ]
    )

    changed = await store.tasks.update_many({"ancestors": "q"}, {"$set": {"path.1": "Acme Corp"}})

    assert changed == 2
    docs = {d["_id"]: d["path"] for d in await store.tasks.find({})}
    assert docs == {
        "t1": ["Clients", "Acme Corp", "Website"],
        "t2": ["Clients", "Acme Corp", "Web", "UX"],
        "t3": ["Internal"],
    }


# Time -----------------------------------------------------------------------------------------


async def test_an_aware_datetime_comes_back_aware_and_in_utc(store: Store) -> None:
    start = dt.datetime(2026, 1, 5, 10, 30, tzinfo=PARIS_WINTER)
    await store.entries.insert_one(_entry(1, start=start, nested={"at": [start]}))

    doc = await store.entries.find_one({"_id": "e001"})

    assert doc is not None
    for value in (doc["start"], doc["nested"]["at"][0]):
        assert value == dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
        assert value.utcoffset() == dt.timedelta(0)


async def test_range_queries_compare_instants_whatever_the_offset(store: Store) -> None:
    base = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    await store.entries.insert_many(
        [_entry(n, start=base + dt.timedelta(hours=n)) for n in range(-3, 4)]
    )
    # 13:00+01:00 is 12:00Z; 16:00+02:00 is 14:00Z.
    low = dt.datetime(2026, 3, 1, 13, 0, tzinfo=PARIS_WINTER)
    high = dt.datetime(2026, 3, 1, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    found = await store.entries.find({"start": {"$gte": low, "$lt": high}}, sort=[("start", 1)])

    assert [d["n"] for d in found] == [0, 1]


async def test_sorting_by_time_orders_instants(store: Store) -> None:
    # Written with different offsets: sorted by the instant, not by the wall-clock text.
    await store.entries.insert_many(
        [
            _entry(1, start=dt.datetime(2026, 1, 1, 10, 0, tzinfo=PARIS_WINTER)),  # 09:00Z
            _entry(2, start=dt.datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),  # 09:30Z
            _entry(
                3, start=dt.datetime(2026, 1, 1, 5, 0, tzinfo=dt.timezone(-dt.timedelta(hours=5)))
            ),
        ]
    )

    found = await store.entries.find({}, sort=[("start", 1)])

    assert [d["n"] for d in found] == [1, 2, 3]


async def test_updates_and_filters_with_datetimes_use_utc(store: Store) -> None:
    start = dt.datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    await store.entries.insert_one(_entry(1, start=start, end=None))

    end = dt.datetime(2026, 2, 1, 12, 0, tzinfo=PARIS_WINTER)  # 11:00Z
    done = await store.entries.find_one_and_update(
        {"_id": "e001", "end": None, "start": {"$lte": end}}, {"$set": {"end": end}}
    )

    assert done is not None
    assert done["end"] == dt.datetime(2026, 2, 1, 11, 0, tzinfo=UTC)
    assert done["end"] - done["start"] == dt.timedelta(hours=2)


# Indexes ----------------------------------------------------------------------------------------


async def test_unique_email_index_refuses_a_second_user_with_the_same_email(store: Store) -> None:
    await store.users.insert_one({"_id": "u1", "account_id": "a", "email": "ada@acme.test"})

    with pytest.raises(DuplicateKeyError):
        await store.users.insert_one({"_id": "u2", "account_id": "b", "email": "ada@acme.test"})
    assert await store.users.count({"email": "ada@acme.test"}) == 1


async def test_unique_email_index_refuses_an_update_onto_a_taken_email(store: Store) -> None:
    await store.users.insert_many(
        [
            {"_id": "u1", "account_id": "a", "email": "ada@acme.test"},
            {"_id": "u2", "account_id": "a", "email": "bob@acme.test"},
        ]
    )

    with pytest.raises(DuplicateKeyError):
        await store.users.update_one({"_id": "u2"}, {"$set": {"email": "ada@acme.test"}})
    bob = await store.users.find_one({"_id": "u2"})
    assert bob is not None and bob["email"] == "bob@acme.test"


async def test_source_key_is_unique_within_an_account(store: Store) -> None:
    key = source_key("a", "salesforce:X1")
    await store.tasks.insert_one({"_id": "t1", "account_id": "a", "source_key": key})

    with pytest.raises(DuplicateKeyError):
        await store.tasks.insert_one({"_id": "t2", "account_id": "a", "source_key": key})
    assert await store.tasks.count({"source_key": key}) == 1


async def test_many_tasks_without_source_key_are_allowed(store: Store) -> None:
    await store.tasks.insert_many(
        [{"_id": f"t{n}", "account_id": "a", "name": f"Manual {n}"} for n in range(5)]
    )
    await store.tasks.insert_one({"_id": "t5", "account_id": "a", "name": "Manual 5"})

    assert await store.tasks.count({"account_id": "a"}) == 6


async def test_the_same_record_may_be_imported_in_two_accounts(store: Store) -> None:
    for account in ("a", "b"):
        await store.tasks.insert_one(
            {
                "_id": f"t-{account}",
                "account_id": account,
                "source_key": source_key(account, "salesforce:X1"),
            }
        )

    assert await store.tasks.count({"account_id": {"$in": ["a", "b"]}}) == 2


async def test_ensure_indexes_can_run_again_on_an_open_store(store: Store) -> None:
    await store.users.insert_one({"_id": "u1", "account_id": "a", "email": "ada@acme.test"})

    await store.ensure_indexes()

    with pytest.raises(DuplicateKeyError):
        await store.users.insert_one({"_id": "u2", "account_id": "a", "email": "ada@acme.test"})


# Atomicity --------------------------------------------------------------------------------------


async def test_concurrent_swaps_each_see_a_distinct_predecessor(store: Store) -> None:
    async def swap(n: int) -> str | None:
        previous = await store.timers.find_one_and_update(
            {"_id": "u1"},
            {"$set": {"account_id": "a", "entry": {"_id": f"entry-{n}"}}},
            upsert=True,
            return_new=False,
        )
        return None if previous is None else str(previous["entry"]["_id"])

    seen = await asyncio.gather(*[swap(n) for n in range(50)])

    predecessors = [p for p in seen if p is not None]
    assert seen.count(None) == 1
    assert len(set(predecessors)) == len(predecessors) == 49
    final = await store.timers.find_one({"_id": "u1"})
    assert final is not None
    # The chain of swaps is complete: every entry but the last was replaced exactly once.
    assert set(predecessors) | {final["entry"]["_id"]} == {f"entry-{n}" for n in range(50)}
    assert await store.timers.count({}) == 1


async def test_a_document_read_by_id_reflects_every_later_write(store: Store) -> None:
    """Reads by `_id` may be served from memory (the embedded store's cache); no write may
    leave them stale, whatever its filter."""
    await store.entries.insert_many([_entry(n, user_id="u1") for n in range(3)])
    first = (await store.entries.find({"user_id": "u1"}, sort=[("_id", 1)]))[0]["_id"]
    cached = await store.entries.find_one({"_id": first})
    assert cached is not None and "note" not in cached

    await store.entries.update_many({"user_id": "u1"}, {"$set": {"note": "bulk"}})
    assert (await store.entries.find_one({"_id": first}))["note"] == "bulk"  # type: ignore[index]
    assert [d["note"] for d in await store.entries.find({"_id": {"$in": [first]}})] == ["bulk"]

    await store.entries.update_one({"user_id": "u1", "_id": first}, {"$set": {"note": "one"}})
    assert await store.entries.find_one({"_id": first, "note": "bulk"}) is None
    assert await store.entries.find_one({"_id": first, "note": "one"}) is not None

    await store.entries.delete_many({"user_id": "u1"})
    assert await store.entries.find_one({"_id": first}) is None

    await store.entries.insert_one({**_entry(9, user_id="u2"), "_id": first})
    again = await store.entries.find_one({"_id": first})
    assert again is not None and again["user_id"] == "u2"


async def test_a_query_on_role_assignments_reflects_every_later_write(store: Store) -> None:
    """Role assignments are queried on every request; the embedded store keeps the answers
    until the next write. No write may leave them stale."""

    async def roles(user_id: str) -> dict[str, str]:
        docs = await store.memberships.find(
            {"user_id": user_id}, projection={"task_id": 1, "role": 1}
        )
        return {d["task_id"]: d["role"] for d in docs}

    def member(task_id: str, user_id: str, role: str) -> dict[str, Any]:
        return {"_id": f"{task_id}:{user_id}", "task_id": task_id, "user_id": user_id, "role": role}

    await store.memberships.insert_one(member("t1", "u1", "regular"))
    assert await roles("u1") == {"t1": "regular"}
    answer = await roles("u1")
    answer["t9"] = "manager"  # what a caller does with an answer changes nothing stored
    assert await roles("u1") == {"t1": "regular"}

    await store.memberships.insert_many([member("t2", "u1", "guest"), member("t2", "u2", "guest")])
    assert await roles("u1") == {"t1": "regular", "t2": "guest"}
    await store.memberships.update_one({"_id": "t1:u1"}, {"$set": {"role": "manager"}})
    assert await roles("u1") == {"t1": "manager", "t2": "guest"}
    await store.memberships.update_many({"task_id": "t2"}, {"$set": {"role": "regular"}})
    assert await roles("u1") == {"t1": "manager", "t2": "regular"}
    assert await roles("u2") == {"t2": "regular"}
    await store.memberships.find_one_and_update(
        {"_id": "t3:u1"}, {"$set": member("t3", "u1", "guest")}, upsert=True
    )
    assert await roles("u1") == {"t1": "manager", "t2": "regular", "t3": "guest"}
    await store.memberships.delete_one({"_id": "t1:u1"})
    await store.memberships.delete_many({"task_id": "t3"})
    assert await roles("u1") == {"t2": "regular"}


# Single documents by `_id` (the embedded store's fast path, and every way out of it) ----------


def _timer(user: str, entry: str, **fields: Any) -> dict[str, Any]:
    return {"_id": user, "account_id": "acc", "entry": {"_id": entry, "note": ""}, **fields}


async def test_find_one_by_id_with_equality_conditions(store: Store) -> None:
    await store.timers.insert_one(_timer("u1", "e1", end=None, n=2, flag=True))

    async def found(**conditions: Any) -> bool:
        return await store.timers.find_one({"_id": "u1", **conditions}) is not None

    assert await found(account_id="acc")
    assert not await found(account_id="other")
    assert await found(end=None)
    assert await found(missing=None)  # None matches a missing field too
    assert not await found(missing="x")
    assert await found(**{"entry._id": "e1"})
    assert not await found(**{"entry._id": "e2"})
    assert not await found(**{"entry._id": None, "n": 2})
    assert await found(**{"entry.missing": None})
    assert await found(n=2.0)  # numbers compare by value
    assert not await found(n="2")
    assert await found(flag=True)
    assert not await found(entry="e1")  # a document never equals a scalar
    assert await store.timers.find_one({"_id": "u2"}) is None
    assert await store.timers.find_one({"_id": "u2", "end": None}) is None


async def test_find_one_by_id_with_conditions_the_engine_decides(store: Store) -> None:
    await store.timers.insert_one(
        _timer("u1", "e1", n=3, tags=["a", "b"], runs=[{"id": "r1"}, {"id": "r2"}])
    )

    assert await store.timers.find_one({"_id": "u1", "tags": "b"}) is not None
    assert await store.timers.find_one({"_id": "u1", "tags": "c"}) is None
    assert await store.timers.find_one({"_id": "u1", "runs.id": "r2"}) is not None
    assert await store.timers.find_one({"_id": "u1", "runs.id": "r3"}) is None
    assert await store.timers.find_one({"_id": "u1", "n": {"$gt": 2}}) is not None
    assert await store.timers.find_one({"_id": "u1", "n": {"$gt": 3}}) is None
    assert await store.timers.find_one({"_id": {"$in": ["u1", "u9"]}}) is not None


async def test_find_one_and_update_by_id_with_each_simple_operator(store: Store) -> None:
    await store.entries.insert_one(_entry(1, note="a", count=1, gone="x"))

    before = await store.entries.find_one_and_update(
        {"_id": "e001"},
        {
            "$set": {"note": "b", "extra": {"k": [1, 2]}},
            "$unset": {"gone": "", "never_there": 1},
            "$inc": {"count": 2, "fresh": 1.5},
            "$setOnInsert": {"created": "only on insert"},
        },
        return_new=False,
    )

    assert before == _entry(1, note="a", count=1, gone="x")
    expected = _entry(1, note="b", count=3, extra={"k": [1, 2]}, fresh=1.5)
    assert await store.entries.find_one({"_id": "e001"}) == expected
    after = await store.entries.find_one_and_update({"_id": "e001"}, {"$inc": {"count": -3}})
    assert after == {**expected, "count": 0}
    assert await store.entries.find_one({"_id": "e001"}) == after


async def test_update_by_id_whose_condition_does_not_match_changes_nothing(store: Store) -> None:
    ended = dt.datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    await store.entries.insert_one(_entry(1, end=ended))

    done = await store.entries.find_one_and_update(
        {"_id": "e001", "end": None}, {"$set": {"end": ended + dt.timedelta(hours=1)}}
    )
    outcome = await store.entries.update_one(
        {"_id": "e001", "account_id": "other"}, {"$set": {"note": "x"}}
    )

    assert done is None
    assert (outcome.matched, outcome.modified, outcome.upserted_id) == (0, 0, None)
    assert await store.entries.find_one({"_id": "e001"}) == _entry(1, end=ended)


async def test_update_by_id_that_changes_nothing_reports_a_match_only(store: Store) -> None:
    await store.entries.insert_one(_entry(1, note="same"))

    outcome = await store.entries.update_one({"_id": "e001"}, {"$set": {"note": "same"}})

    assert (outcome.matched, outcome.modified, outcome.upserted_id) == (1, 0, None)
    assert await store.entries.find_one({"_id": "e001"}) == _entry(1, note="same")


async def test_upsert_by_id_creates_the_document_from_the_update(store: Store) -> None:
    at = dt.datetime(2026, 2, 1, 10, 0, tzinfo=PARIS_WINTER)
    created = await store.entries.update_one(
        {"_id": "e001"},
        {"$setOnInsert": {"start": at, "n": 1}, "$set": {"note": "new"}, "$inc": {"seen": 1}},
        upsert=True,
    )
    after = await store.timers.find_one_and_update(
        {"_id": "u1"}, {"$set": {"entry": {"_id": "e1"}}, "$unset": {"x": ""}}, upsert=True
    )
    before = await store.timers.find_one_and_update(
        {"_id": "u2"}, {"$setOnInsert": _timer("u2", "e2")}, upsert=True, return_new=False
    )

    assert (created.matched, created.modified, created.upserted_id) == (0, 0, "e001")
    assert await store.entries.find_one({"_id": "e001"}) == {
        "_id": "e001",
        "start": at,
        "n": 1,
        "note": "new",
        "seen": 1,
    }
    assert after == {"_id": "u1", "entry": {"_id": "e1"}}
    assert before is None
    assert await store.timers.find_one({"_id": "u2"}) == _timer("u2", "e2")
    assert await store.timers.count({}) == 2


async def test_upsert_by_id_with_a_condition_writes_the_condition(store: Store) -> None:
    outcome = await store.entries.update_one(
        {"_id": "e001", "account_id": "acc"}, {"$set": {"note": "x"}}, upsert=True
    )

    assert outcome.upserted_id == "e001"
    assert await store.entries.find_one({"_id": "e001"}) == {
        "_id": "e001",
        "account_id": "acc",
        "note": "x",
    }


async def test_updates_the_engine_applies_by_id(store: Store) -> None:
    await store.entries.insert_one(_entry(1, tags=["a"], entry={"note": "x"}, low=5, old="o"))

    await store.entries.update_one({"_id": "e001"}, {"$push": {"tags": "b"}})
    await store.entries.update_one({"_id": "e001"}, {"$set": {"entry.note": "y"}})
    await store.entries.update_one({"_id": "e001"}, {"$min": {"low": 2}})
    await store.entries.update_one({"_id": "e001"}, {"$rename": {"old": "new"}})
    replaced = await store.entries.find_one_and_update(
        {"_id": "e001", "tags": "b"}, {"$set": {"found": True}}
    )

    assert replaced == _entry(1, tags=["a", "b"], entry={"note": "y"}, low=2, new="o", found=True)
    assert await store.entries.find_one({"_id": "e001"}) == replaced


async def test_an_inc_on_a_non_number_is_refused_and_changes_nothing(store: Store) -> None:
    await store.entries.insert_one(_entry(1, note="text"))

    with pytest.raises((TypeError, pymongo.errors.PyMongoError)):
        await store.entries.update_one({"_id": "e001"}, {"$inc": {"note": 1, "n": 1}})

    assert await store.entries.find_one({"_id": "e001"}) == _entry(1, note="text")


async def test_unique_indexes_hold_for_writes_by_id(store: Store) -> None:
    await store.users.insert_many(
        [
            {"_id": "u1", "account_id": "a", "email": "ada@acme.test"},
            {"_id": "u2", "account_id": "a", "email": "bob@acme.test"},
        ]
    )
    key = source_key("a", "salesforce:X1")
    await store.tasks.insert_many(
        [{"_id": "t1", "account_id": "a", "source_key": key}, {"_id": "t2", "account_id": "a"}]
    )

    with pytest.raises(DuplicateKeyError):
        await store.users.find_one_and_update({"_id": "u2"}, {"$set": {"email": "ada@acme.test"}})
    with pytest.raises(DuplicateKeyError):
        await store.users.update_one(
            {"_id": "u3"}, {"$set": {"email": "ada@acme.test"}}, upsert=True
        )
    with pytest.raises(DuplicateKeyError):
        await store.tasks.update_one({"_id": "t2"}, {"$set": {"source_key": key}})
    renamed = await store.users.find_one_and_update(
        {"_id": "u2"}, {"$set": {"email": "bob@example.test"}}
    )

    assert renamed is not None and renamed["email"] == "bob@example.test"
    assert await store.users.find_one({"_id": "u3"}) is None
    assert await store.tasks.find_one({"_id": "t2"}) == {"_id": "t2", "account_id": "a"}
    assert await store.users.count({"email": "ada@acme.test"}) == 1


async def test_delete_by_id_with_conditions(store: Store) -> None:
    await store.timers.insert_many([_timer("u1", "e1"), _timer("u2", "e2")])

    assert await store.timers.delete_one({"_id": "u1", "entry._id": "e9"}) == 0
    assert await store.timers.find_one_and_delete({"_id": "u1", "account_id": "x"}) is None
    assert await store.timers.delete_one({"_id": "u1", "entry._id": "e1"}) == 1
    assert await store.timers.delete_one({"_id": "u1"}) == 0
    assert await store.timers.find_one_and_delete({"_id": "u2", "account_id": "acc"}) == _timer(
        "u2", "e2"
    )

    assert await store.timers.find_one({"_id": "u1"}) is None
    assert await store.timers.count({}) == 0


async def test_datetimes_written_by_id_come_back_in_utc_to_the_millisecond(store: Store) -> None:
    start = dt.datetime(2026, 1, 5, 10, 30, 15, 123456, tzinfo=PARIS_WINTER)
    stored_start = dt.datetime(2026, 1, 5, 9, 30, 15, 123000, tzinfo=UTC)
    end = dt.datetime(2026, 1, 5, 12, 0, 0, 999999, tzinfo=UTC)
    stored_end = dt.datetime(2026, 1, 5, 12, 0, 0, 999000, tzinfo=UTC)
    await store.entries.insert_one(_entry(1, start=start, end=None, at={"list": [start]}))

    inserted = await store.entries.find_one({"_id": "e001"})
    done = await store.entries.find_one_and_update(
        {"_id": "e001", "end": None}, {"$set": {"end": end}}
    )
    upserted = await store.timers.find_one_and_update(
        {"_id": "u1"}, {"$set": {"entry": {"start": start}}}, upsert=True
    )

    assert inserted == _entry(1, start=stored_start, end=None, at={"list": [stored_start]})
    assert done == _entry(1, start=stored_start, end=stored_end, at={"list": [stored_start]})
    assert await store.entries.find_one({"_id": "e001"}) == done
    assert upserted == {"_id": "u1", "entry": {"start": stored_start}}
    assert await store.timers.find_one({"_id": "u1"}) == upserted
    for doc in (inserted, done, upserted, await store.entries.find_one({"_id": "e001"})):
        assert doc is not None
        for value in (doc.get("start"), doc.get("end"), doc.get("entry", {}).get("start")):
            assert value is None or value.utcoffset() == dt.timedelta(0)
    found = await store.entries.find({"end": {"$gte": stored_end}})
    assert [d["_id"] for d in found] == ["e001"]


async def test_documents_returned_by_writes_are_the_callers_own(store: Store) -> None:
    doc = _entry(1, tags=["a"], nested={"k": "v"})
    await store.entries.insert_one(doc)
    doc["tags"].append("mutated")
    after = await store.entries.find_one_and_update({"_id": "e001"}, {"$set": {"note": "x"}})
    assert after is not None
    after["nested"]["k"] = "mutated"
    after["tags"].append("mutated")
    before = await store.entries.find_one_and_update(
        {"_id": "e001"}, {"$set": {"note": "y"}}, return_new=False
    )
    assert before is not None
    before["tags"].append("mutated")
    projected = await store.entries.find_one({"_id": "e001"}, projection={"tags": 1})
    assert projected is not None
    projected["tags"].append("mutated")

    assert await store.entries.find_one({"_id": "e001"}) == _entry(
        1, tags=["a"], nested={"k": "v"}, note="y"
    )


async def test_queries_on_other_fields_see_writes_by_id(store: Store) -> None:
    """Writes by `_id` must keep the engine's own indexes exact (`user_id`, `end` are
    indexed fields of `entries`), including indexes built before the writes."""
    await store.entries.insert_one(_entry(0, user_id="u0", end=0))
    assert [d["_id"] for d in await store.entries.find({"user_id": "u0"})] == ["e000"]
    await store.entries.insert_one(_entry(1, user_id="u1", end=None))
    await store.entries.update_one({"_id": "e001"}, {"$set": {"user_id": "u2"}})
    await store.entries.insert_one(_entry(2, user_id="u1", end=None))
    await store.entries.find_one_and_update({"_id": "e002", "end": None}, {"$set": {"end": 5}})
    await store.entries.update_one({"_id": "e003"}, {"$set": {"user_id": "u1"}}, upsert=True)
    await store.entries.delete_one({"_id": "e003"})
    await store.entries.find_one_and_delete({"_id": "e000"})
    await store.entries.insert_one(_entry(4, user_id="u4", end=4))

    assert [d["_id"] for d in await store.entries.find({"user_id": "u4"})] == ["e004"]
    assert await store.entries.find({"user_id": "u0"}) == []
    assert await store.entries.find({"end": 0}) == []
    assert [d["_id"] for d in await store.entries.find({"user_id": "u1"})] == ["e002"]
    assert [d["_id"] for d in await store.entries.find({"user_id": "u2"})] == ["e001"]
    assert [d["_id"] for d in await store.entries.find({"end": 5})] == ["e002"]
    assert [d["_id"] for d in await store.entries.find({"end": None})] == ["e001"]
    assert await store.entries.count({"user_id": {"$in": ["u1", "u2", "u4"]}}) == 3


async def test_find_by_equality_conditions(store: Store) -> None:
    await store.entries.insert_many(
        [
            _entry(1, user_id="u1", end=None, meta={"kind": "a"}, flag=True, count=1),
            _entry(2, user_id="u1", end=5, meta={"kind": "b"}, count=2.0),
            _entry(3, user_id="u2", meta={"kind": "a"}, tags=["x", "y"]),
        ]
    )

    async def found(filter: dict[str, Any], **options: Any) -> list[Any]:
        return sorted(d["_id"] for d in await store.entries.find(filter, **options))

    assert await found({"user_id": "u1"}) == ["e001", "e002"]
    assert await found({"user_id": "u1", "end": None}) == ["e001"]
    assert await found({"end": None}) == ["e001", "e003"]  # None matches a missing field too
    assert await found({"meta.kind": "a"}) == ["e001", "e003"]
    assert await found({"count": 2}) == ["e002"]
    assert await found({"flag": True, "account_id": "acc"}) == ["e001"]
    assert await found({"user_id": "nobody"}) == []
    assert await found({"tags": "y"}) == ["e003"]
    assert await found({"_id": "e002", "user_id": "u1"}) == ["e002"]
    assert await found({"count": {"$gte": 1}}) == ["e001", "e002"]
    projected = await store.entries.find(
        {"user_id": "u1", "end": None}, projection={"user_id": 1, "meta": True, "missing": 1}
    )
    assert projected == [{"_id": "e001", "user_id": "u1", "meta": {"kind": "a"}}]
    excluded = await store.entries.find({"_id": "e003"}, projection={"meta": 0, "tags": 0})
    assert excluded == [{"_id": "e003", "account_id": "acc", "n": 3, "user_id": "u2"}]


async def test_writes_by_id_survive_reopening_the_embedded_store(tmp_path: Path) -> None:
    at = dt.datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC)
    first = await open_embedded(tmp_path)
    await first.entries.insert_one(_entry(1, user_id="u1", start=at, end=None))
    await first.entries.insert_one(_entry(2, user_id="u1", start=at, end=None))
    await first.entries.find_one_and_update(
        {"_id": "e001", "end": None}, {"$set": {"end": at}, "$inc": {"n": 10}}
    )
    await first.entries.delete_one({"_id": "e002"})
    await first.timers.find_one_and_update(
        {"_id": "u1"}, {"$set": _timer("u1", "e3", start=at)}, upsert=True, return_new=False
    )
    await first.close()

    again = await open_embedded(tmp_path)
    try:
        expected = {**_entry(1, user_id="u1", start=at, end=at), "n": 11}
        assert await again.entries.find({"user_id": "u1"}) == [expected]
        assert await again.entries.find_one({"_id": "e001"}) == expected
        assert await again.entries.find_one({"_id": "e002"}) is None
        assert await again.timers.find({"account_id": "acc"}) == [_timer("u1", "e3", start=at)]
        with pytest.raises(DuplicateKeyError):
            await again.entries.insert_one(_entry(1))
    finally:
        await again.close()


async def test_an_equality_query_reflects_every_later_write(store: Store) -> None:
    """No write leaves an equality query's answer stale, whatever its kind (the domain keeps
    what it read while a collection's `version()` holds: `Remembered`)."""
    await store.memberships.insert_many(
        [{"_id": f"m{n}", "user_id": "u1", "task_id": f"t{n}", "role": "regular"} for n in (1, 2)]
    )

    async def tasks(user: Any = "u1", **filter: Any) -> list[str]:
        found = await store.memberships.find(
            {"user_id": user, **filter}, projection={"task_id": 1, "role": 1}
        )
        return sorted(d["task_id"] for d in found)

    assert await tasks() == ["t1", "t2"]
    for _ in range(2):
        found = await store.memberships.find({"user_id": "u1"}, projection={"task_id": 1})
        found[0]["task_id"] = "changed by the caller"
        found.pop()
    assert await tasks() == ["t1", "t2"]
    found = await store.memberships.find({"user_id": "u1"}, projection={"task_id": 1})
    assert sorted(d["task_id"] for d in found) == ["t1", "t2"]
    await store.memberships.insert_one({"_id": "m3", "user_id": "u1", "task_id": "t3"})
    assert await tasks() == ["t1", "t2", "t3"]
    await store.memberships.update_one({"_id": "m1"}, {"$set": {"user_id": "u2"}})
    assert await tasks() == ["t2", "t3"]
    assert await tasks("u2") == ["t1"]
    await store.memberships.update_many({"user_id": "u1"}, {"$set": {"role": "manager"}})
    assert await tasks(role="manager") == ["t2", "t3"]
    assert await tasks(role="regular") == []
    await store.memberships.find_one_and_update({"_id": "m2"}, {"$set": {"task_id": "t9"}})
    assert await tasks() == ["t3", "t9"]
    await store.memberships.delete_one({"_id": "m3"})
    assert await tasks() == ["t9"]
    await store.memberships.delete_many({"user_id": "u1"})
    assert await tasks() == []
    assert await tasks(1) == []
    await store.memberships.insert_one({"_id": "m4", "user_id": 1, "task_id": "t4"})
    assert await tasks(1) == ["t4"]
    assert await tasks("1") == []


async def test_one_running_timer_per_user_is_a_unique_key(store: Store) -> None:
    """`timer_of` (a running entry's user) is unique where present, absent on any number."""
    entries = store.entries
    await entries.insert_one(_entry(1, end=None, timer_of="u1"))
    await entries.insert_one(_entry(2, end=None, timer_of="u2"))
    with pytest.raises(DuplicateKeyError):
        await entries.insert_one(_entry(3, end=None, timer_of="u1"))
    with pytest.raises(DuplicateKeyError):
        await entries.update_one({"_id": "e002"}, {"$set": {"timer_of": "u1"}})
    with pytest.raises(DuplicateKeyError):
        await entries.update_one(
            {"_id": "e003"}, {"$setOnInsert": _entry(3, end=None, timer_of="u1")}, upsert=True
        )
    # Entries without it (every ended one) are not in the index.
    await entries.insert_one(_entry(4))
    await entries.insert_one(_entry(5))
    # A document keeps its own key through an update; once it lets go, another may take it.
    await entries.update_one({"_id": "e001"}, {"$set": {"note": "still running"}})
    ended = await entries.find_one_and_update(
        {"_id": "e001", "timer_of": "u1"}, {"$set": {"note": "ended"}, "$unset": {"timer_of": ""}}
    )
    assert ended is not None and "timer_of" not in ended
    await entries.insert_one(_entry(3, end=None, timer_of="u1"))
    found = await entries.find_one({"timer_of": "u1"})
    assert found is not None and found["_id"] == "e003"
    assert await entries.find_one({"timer_of": "u3"}) is None
    assert {e["_id"] for e in await entries.find({"account_id": "acc"})} == {
        "e001", "e002", "e003", "e004", "e005",
    }  # fmt: skip


async def test_reads_by_key_see_writes_made_by_query(store: Store) -> None:
    """Documents read or written by key are remembered (on the embedded store, as stored);
    a write by query, which the engine makes, must not leave an old copy behind."""
    entries = store.entries
    await entries.insert_one(_entry(1, user_id="u1"))
    await entries.insert_one(_entry(2, user_id="u1"))
    assert (await entries.find_one({"_id": "e001"}) or {})["n"] == 1
    assert len(await entries.find({"user_id": "u1"})) == 2
    await entries.update_many({"user_id": "u1"}, {"$set": {"n": 7}})
    assert (await entries.find_one({"_id": "e001"}) or {})["n"] == 7
    assert [d["n"] for d in await entries.find({"user_id": "u1"})] == [7, 7]
    assert await entries.find_one_and_update({"_id": "e002", "n": 7}, {"$inc": {"n": 1}})
    await entries.delete_many({"n": 7})
    assert await entries.find_one({"_id": "e001"}) is None
    assert [d["_id"] for d in await entries.find({"user_id": "u1"})] == ["e002"]


async def test_the_first_match_of_an_equality_query_reflects_every_later_write(
    store: Store,
) -> None:
    """A running timer is read by its user on every timer call (the embedded store keeps the
    answer until the collection's next write); no write may leave it stale."""
    entries = store.entries

    async def running(user: str) -> str | None:
        found = await entries.find_one({"timer_of": user})
        return None if found is None else found["_id"]

    assert await running("u1") is None
    await entries.insert_one({"_id": "e1", "user_id": "u1", "timer_of": "u1"})
    assert await running("u1") == "e1"
    await entries.update_one({"_id": "e1"}, {"$unset": {"timer_of": ""}})
    assert await running("u1") is None
    await entries.update_many({"user_id": "u1"}, {"$set": {"timer_of": "u1"}})
    assert await running("u1") == "e1"
    copy = await entries.find_one({"timer_of": "u1"})
    assert copy is not None
    copy["timer_of"] = "changed by the caller"
    assert await running("u1") == "e1"
    await entries.delete_many({"user_id": "u1"})
    assert await running("u1") is None
