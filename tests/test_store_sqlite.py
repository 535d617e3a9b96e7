"""The embedded store on SQLite: queries read through the declared indexes, answers stay exact
whatever the documents hold, and a store an earlier version wrote on litemongo is migrated."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import shutil
import zoneinfo
from pathlib import Path
from typing import Any

import bson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from support import Api

from server import clock
from server.app import create_app
from server.settings import Settings
from server.store import EMBEDDED_FILE, Millis, Store, StoreError, open_embedded
from server.store.migrate import KEPT_FOLDER
from server.store.sqlite import SqliteCollection
from server.tracking import REPORT_FIELDS

FIXTURES = Path(__file__).parent / "fixtures"
# When the last release on litemongo wrote `fixtures/litemongo_store` (its running timer's
# start): the migration test runs an hour after it, not at today's date, by which the timer
# would be a forgotten one (stopped after 12 hours) and the tokens, in time, idle ones.
OLD_STORE_WRITTEN = dt.datetime(2026, 12, 6, 16, 10, 4, tzinfo=dt.UTC)
UTC = dt.UTC


def _sql(store: Store, name: str) -> SqliteCollection:
    """The collection's SQLite table behind the identity map, if any."""
    collection: Any = store.collection(name)
    inner = getattr(collection, "_inner", collection)
    assert isinstance(inner, SqliteCollection)
    return inner


def _searches_only(plan: list[str]) -> bool:
    """Whether every table SQLite reads is read through an index (no full scan)."""
    reads = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
    return bool(reads) and all(step.startswith("SEARCH") for step in reads)


async def _entries(store: Store) -> None:
    start = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    await store.entries.insert_many(
        [
            {
                "_id": f"{account}-{user}-{day}",
                "account_id": account,
                "user_id": user,
                "task_id": f"t{day % 3}",
                "start": start + dt.timedelta(days=day),
                "end": None if day == 1 else start + dt.timedelta(days=day, hours=2),
            }
            for account in ("a", "b")
            for user in ("u1", "u2")
            for day in range(10)
        ]
    )


async def test_entries_for_a_report_are_read_through_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_embedded(tmp_path)
    try:
        await _entries(store)
        since = dt.datetime(2026, 3, 4, tzinfo=UTC)
        until = dt.datetime(2026, 3, 8, tzinfo=UTC)
        # What `Tracking.report_batches` asks, for the account and for one user: each batch
        # after the first is one range of the index that ends with (start, _id).
        report: dict[str, Any] = {"account_id": "a", "start": {"$gt": since, "$lt": until}}
        keyset = ("start", "_id")
        entries = _sql(store, "entries")
        for query in (report, {**report, "user_id": "u2"}):
            plan = entries.batch_plan(query, keyset)
            assert _searches_only(plan), plan
            assert any("entries.entries_by_account_start" in step for step in plan), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan  # no sort of the range
            # ... that starts after the last row read (not again at the filter's lower bound)
            assert any("(@start,_id)>(?,?)" in step for step in plan), plan
        # The fields a report adds up come from that index alone, never from the documents.
        plan = entries.batch_plan(report, keyset, REPORT_FIELDS)
        assert any("COVERING INDEX entries.entries_by_account_start" in s for s in plan), plan
        assert any("(@start,_id)>(?,?)" in step for step in plan), plan
        read = [
            [d["_id"] for d in batch]
            async for batch in store.entries.batches(report, size=3, keyset=keyset)
        ]
        assert read == [
            ["a-u1-2", "a-u2-2", "a-u1-3"],
            ["a-u2-3", "a-u1-4", "a-u2-4"],
            ["a-u1-5", "a-u2-5"],
        ]

        # What a report adds up is read without decoding a single document.
        def decode(*args: Any) -> Any:
            raise AssertionError("a document was decoded")

        monkeypatch.setattr("server.store.sqlite.bson.decode", decode)
        rows = store.entries.rows(report, REPORT_FIELDS, size=3, keyset=keyset)
        read_rows = [row async for batch in rows for row in batch]
        day_two = Millis.of(dt.datetime(2026, 3, 4, 8, tzinfo=UTC))
        assert len(read_rows) == 8
        assert read_rows[0] == ("u1", "t2", day_two, day_two + 2 * 3_600_000, None)
    finally:
        await store.close()


async def test_the_lookups_the_domain_makes_are_read_through_an_index(tmp_path: Path) -> None:
    store = await open_embedded(tmp_path)
    try:
        asked: dict[str, list[dict[str, Any]]] = {
            "entries": [
                {"timer_of": "u1"},
                {"account_id": "a", "user_id": "u1", "start": {"$gte": dt.datetime(2026, 1, 1)}},
                {"account_id": "a", "task_id": {"$in": ["t1", "t2"]}},
            ],
            "tasks": [{"ancestors": "t1"}, {"account_id": "a", "parent_id": None}],
            "memberships": [{"user_id": "u1"}, {"path_ids": {"$in": ["t1", "t2"]}}],
            "tokens": [{"last_used_at": {"$lt": dt.datetime(2026, 1, 1, tzinfo=UTC)}}],
            "users": [{"email": "ada@acme.test"}],
        }
        for name, queries in asked.items():
            for query in queries:
                plan = _sql(store, name).plan(query)
                assert _searches_only(plan), (name, query, plan)
    finally:
        await store.close()


async def test_timer_calls_read_no_entry_back_once_its_users_are_known(tmp_path: Path) -> None:
    """Every timer call reads its user's running entry by `timer_of` (unique): a key lookup
    in memory once known, whatever other entries were written since. Starting and stopping
    timers then writes rows and reads none back."""
    store = await open_embedded(tmp_path)
    statements: list[str] = []
    try:
        entries = store.entries
        users = ("u1", "u2")
        for user in users:
            assert await entries.find_one({"timer_of": user}) is None
        _sql(store, "entries")._db.set_trace_callback(statements.append)
        for n in range(3):
            for user in users:  # starts
                assert await entries.find_one({"timer_of": user}) is None
                await entries.insert_one({"_id": f"{user}-{n}", "user_id": user, "timer_of": user})
            for user in users:  # stops
                running = await entries.find_one({"timer_of": user})
                assert running is not None and running["_id"] == f"{user}-{n}"
                stopped = await entries.find_one_and_update(
                    {"_id": running["_id"], "timer_of": user},
                    {"$set": {"end": dt.datetime.now(UTC)}, "$unset": {"timer_of": ""}},
                )
                assert stopped is not None and "timer_of" not in stopped
        assert [s for s in statements if s.lstrip().startswith("INSERT")], statements
        assert not [s for s in statements if s.lstrip().startswith("SELECT")], statements
    finally:
        await store.close()


async def test_a_field_holding_arrays_where_a_value_was_declared_is_still_matched(
    tmp_path: Path,
) -> None:
    """SQL selects candidates on indexed columns; a document holding what SQL cannot order
    there (an array, a document) makes SQL leave that field to the exact check, for good."""
    store = await open_embedded(tmp_path)
    try:
        await store.entries.insert_many(
            [
                {"_id": "e1", "account_id": "a", "user_id": "u1"},
                {"_id": "e2", "account_id": "a", "user_id": ["u1", "u2"]},
                {"_id": "e3", "account_id": "a", "user_id": {"id": "u2"}},
            ]
        )
        assert [d["_id"] for d in await store.entries.find({"user_id": "u2"})] == ["e2"]
        assert [d["_id"] for d in await store.entries.find({"user_id": {"id": "u2"}})] == ["e3"]
    finally:
        await store.close()
    again = await open_embedded(tmp_path)
    try:
        found = await again.entries.find({"account_id": "a", "user_id": "u1"})
        assert [d["_id"] for d in found] == ["e1", "e2"]
    finally:
        await again.close()


def _value(rng: random.Random, depth: int, unusual: bool) -> Any:
    """A value of a random shape, made of what documents hold; `unusual`: also of values the
    store only reads back through BSON (bytes, a DBRef's shape, a decimal, a regex, a SON)."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    moment = dt.datetime(2026, 10, 25, 2, 30, 15, rng.choice([0, 999, 1000, 123456, 999999]))
    odd = dt.timezone(dt.timedelta(hours=-3, seconds=-21, microseconds=-500))
    atoms = [
        rng.choice(["", "ada", "é日本\x00", "$x"]),
        rng.choice([0, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, -(2**63)]),
        rng.choice([0.5, -0.0, float("inf"), 1e300]),
        rng.choice([True, False, None]),
        moment.replace(fold=rng.choice([0, 1])),  # naive: UTC
        moment.replace(tzinfo=UTC),
        moment.replace(tzinfo=odd),
        moment.replace(tzinfo=paris, fold=rng.choice([0, 1])),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        bson.ObjectId(),
    ]
    if unusual:
        atoms.append(rng.choice([b"a", bson.Regex("^a"), bson.Decimal128("1.5"), bson.SON(a=1)]))
    if depth == 0 or rng.random() < 0.4:
        return rng.choice(atoms)
    parts = [_value(rng, depth - 1, unusual) for _ in range(rng.randrange(4))]
    shape = rng.choice(["list", "tuple", "dict", "ref" if unusual else "dict"])
    if shape == "ref":
        return {"$ref": "tasks", "$id": parts[0] if parts else 1}
    if shape == "dict":
        return {rng.choice(["a", "_id", "b.c", "d"]) + str(i): v for i, v in enumerate(parts)}
    return parts if shape == "list" else tuple(parts)


def _exact(value: Any) -> Any:
    """`value` to compare exactly: types (an `Int64` is an `int` to `==`), key order, zones."""
    if isinstance(value, dict):
        return type(value).__name__, [(k, _exact(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return type(value).__name__, repr(value)


async def test_what_a_write_leaves_in_memory_is_exactly_what_the_store_reads_back(
    tmp_path: Path,
) -> None:
    """The identity map keeps what a write leaves without decoding it from the stored bytes:
    it must be the very document a restarted server reads (types, time zones, milliseconds,
    key order), for any shape of document."""
    rng = random.Random(13)
    store = await open_embedded(tmp_path)
    docs = [
        {"n": i, **{f"f{k}": _value(rng, 3, i % 4 == 0) for k in range(4)}, "_id": i}
        for i in range(300)
    ]
    try:
        for doc in docs:
            await store.tasks.insert_one(doc)
        for doc in docs[::2]:
            new = {"f1": _value(rng, 3, False), "g": _value(rng, 2, doc["_id"] % 8 == 0)}
            change = {"$set": new, "$unset": {"f2": ""}}
            await store.tasks.find_one_and_update({"_id": doc["_id"]}, change)
        in_memory = [await store.tasks.find_one({"_id": doc["_id"]}) for doc in docs]
    finally:
        await store.close()
    again = await open_embedded(tmp_path)
    try:
        from_disk = [await again.tasks.find_one({"_id": doc["_id"]}) for doc in docs]
    finally:
        await again.close()
    assert [_exact(d) for d in in_memory] == [_exact(d) for d in from_disk]
    assert None not in from_disk
    assert {type(d["f0"]) for d in from_disk if d} > {str, bson.Int64, dt.datetime, dict, list}


# Migration from litemongo ------------------------------------------------------------------------


def _old_store(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of a data directory the last release on litemongo wrote (`tests/fixtures`)."""
    data_dir = tmp_path / "data"
    shutil.copytree(FIXTURES / "litemongo_store", data_dir)
    return data_dir, json.loads((FIXTURES / "litemongo_store.json").read_text())


async def test_a_store_written_on_litemongo_is_migrated_once_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: OLD_STORE_WRITTEN + dt.timedelta(hours=1))
    data_dir, known = _old_store(tmp_path)
    caplog.set_level(logging.WARNING, logger="server.store.migrate")

    for _ in range(2):  # the second start-up finds the migrated store
        # (with a connected app: without one an integration says it is not configured)
        settings = Settings(
            data_dir=data_dir, salesforce_client_id="id", salesforce_client_secret="secret"
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            admin = Api(client, known["admin_token"])
            me = await admin.get("/api/v1/me")
            assert (me.status, me.body["email"]) == (200, known["admin_email"])
            bob = await Api(client, known["bob_token"]).get("/api/v1/me")
            assert (bob.status, bob.body["email"]) == (200, known["bob_email"])
            tasks = await admin.get("/api/v1/tasks")
            assert sorted(t["name"] for t in tasks.body["items"]) == known["task_names"]
            design = await admin.get(f"/api/v1/tasks/{known['design']}")
            assert (design.body["name"], design.body["path"]) == ("Design", ["Website"])
            entries = await admin.get(
                "/api/v1/entries", **{"from": "2026-01-05", "to": "2026-01-06"}
            )
            assert [(e["id"], e["duration"]) for e in entries.body["items"]] == [
                (known["entry"], 5400)
            ]
            timer = await admin.get("/api/v1/timer")
            assert (timer.body["running"], timer.body["entry"]["id"]) == (
                True,
                known["timer_entry"],
            )
            integration = await admin.get("/api/v1/integrations/salesforce")
            assert integration.body["status"] == "active", integration.body
            assert integration.body["org"]["username"] == known["integration_username"]
            assert integration.body["project_id"] == known["project_id"]

    migrated = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Migrated")]
    assert len(migrated) == 1 and str(data_dir / KEPT_FOLDER) in migrated[0]
    assert (data_dir / EMBEDDED_FILE).is_file()
    assert (data_dir / KEPT_FOLDER / "timetrail" / "tasks").is_file()
    assert not (data_dir / "store").exists()


async def test_a_migration_that_fails_keeps_the_old_files_and_writes_no_store(
    tmp_path: Path,
) -> None:
    data_dir, _ = _old_store(tmp_path)
    tasks = data_dir / "store" / "timetrail" / "tasks"
    tasks.write_bytes(b"not a database" * 100)

    with pytest.raises(StoreError, match="cannot be migrated"):
        await open_embedded(data_dir)

    assert not (data_dir / EMBEDDED_FILE).exists()
    assert sorted(p.name for p in (data_dir / "store" / "timetrail").iterdir())[:2] == [
        "accounts",
        "entries",
    ]
    shutil.copy(FIXTURES / "litemongo_store" / "store" / "timetrail" / "tasks", tasks)
    store = await open_embedded(data_dir)  # the next start-up migrates it after all
    try:
        assert await store.tasks.count({}) == 8
    finally:
        await store.close()
