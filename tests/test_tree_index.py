"""The in-memory search index of an account's tree, on its own: what a search finds after tasks
are added, renamed, moved and removed in place, and that a large index stays out of the cyclic
garbage collector's walks."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from support import PASSWORD, AiohttpClient, Api

from server import tree_index
from server.app import create_app
from server.services import Services
from server.settings import Settings
from server.store import Store, open_mongomock
from server.tree_index import AccountIndex, TreeIndex, slim


def task(task_id: str, name: str, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "_id": task_id,
        "account_id": "acc",
        "name": name,
        "parent_id": parent["_id"] if parent else None,
        "ancestors": [*parent["ancestors"], parent["_id"]] if parent else [],
        "path": [*parent["path"], parent["name"]] if parent else [],
        "kind": "task" if parent else "project",
        "archived": False,
        "locked": False,
        "source": None,
        "sort_name": name.casefold(),
        "created_at": None,
    }


def build(docs: list[dict[str, Any]]) -> AccountIndex:
    return AccountIndex.build(1, [slim(d) for d in docs])


def found(index: AccountIndex, *words: str) -> set[str]:
    return {t["_id"] for t in index.matching(list(words))}


def test_changes_in_place_find_exactly_what_a_fresh_build_finds() -> None:
    project = task("p", "Website relaunch")
    docs = [project, task("a", "Design mockups", project), task("b", "Design review", project)]
    index = build(docs)
    assert found(index, "des") == {"a", "b"}

    index.put([task("a", "Copy writing", project)])  # renamed: "design" now only on b
    index.put([task("c", "Deploy", project), task("d", "Zebra", project), task("d", "Yak")])
    index.remove("b")

    assert found(index, "des") == set()
    assert found(index, "de") == {"c"}
    assert found(index, "z") == set() and found(index, "yak") == {"d"}
    assert found(index, "copy", "wri") == {"a"}
    assert index.vocabulary == sorted(index.postings.keys())  # no word left without a task
    docs = [project, task("a", "Copy writing", project), task("c", "Deploy", project)]
    fresh = build([*docs, task("d", "Yak")])
    assert fresh.vocabulary == index.vocabulary
    assert fresh.postings.as_sets() == index.postings.as_sets()
    assert set(index.children.get("p")) == {"a", "c"}


def test_the_index_keeps_what_views_need_and_not_the_rest() -> None:
    project = task("p", "Website relaunch")
    kept = slim(task("a", "Design", project))
    assert kept["path"] == ("Website relaunch",) and kept["ancestors"] == ("p",)
    assert "created_at" not in kept and "account_id" not in kept


def test_descendants_are_every_task_below() -> None:
    p = task("p", "P")
    a = task("a", "A", p)
    b = task("b", "B", a)
    index = build([p, a, b, task("c", "C")])
    assert index.descendants("p") == {"a", "b"}
    assert index.descendants("b") == set()


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_a_large_index_is_kept_out_of_the_collectors_walks(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tree_index, "FREEZE_ABOVE", 3)
    store = await open_mongomock()
    await store.accounts.insert_many([{"_id": "small"}, {"_id": "large"}])
    await store.tasks.insert_one({**task("s", "Small"), "account_id": "small"})
    await store.tasks.insert_many(
        [{**task(f"t{n}", f"Task {n}"), "account_id": "large"} for n in range(3)]
    )
    indexes = TreeIndex(store)

    await indexes.get("small")
    assert gc.get_freeze_count() == 0
    assert found(await indexes.get("large"), "task") == {"t0", "t1", "t2"}
    assert gc.get_freeze_count() > 0
    await store.close()


def reads_a_whole_tree(filter: dict[str, Any]) -> bool:
    """A read of every task of an account (as an index loads), in one go or in batches."""
    parts = filter.get("$and", [filter])
    return set(parts[0]) == {"account_id"}


class SlowStore:
    """A store with an account of six tasks whose reads of a whole tree wait for `loaded`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loaded = asyncio.Event()
        self.token = ""

    async def __call__(self) -> Store:
        store = await open_mongomock()
        account, _, self.token = await Services.build(self.settings, store).accounts.create_account(
            "Acme", "admin@acme.test", "Ada Admin", PASSWORD
        )
        docs = [task("p", "Website relaunch")]
        docs += [task(f"t{n}", f"Design draft {n}", docs[0]) for n in range(5)]
        await store.tasks.insert_many([{**d, "account_id": account["_id"]} for d in docs])
        real_find = store.tasks.find

        async def find(filter: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
            if reads_a_whole_tree(filter):
                await self.loaded.wait()
            return await real_find(filter, **options)

        store.tasks.find = find  # type: ignore[method-assign,assignment]
        return store


async def test_the_server_answers_while_the_search_index_loads_and_a_search_waits_for_it(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    slow = SlowStore(settings)
    client = await asyncio.wait_for(
        aiohttp_client(create_app(settings, store_factory=slow)), timeout=10
    )
    assert (await client.get("/healthz")).status == 200  # before any index is loaded
    admin = Api(client, slow.token)
    search = asyncio.create_task(admin.get("/api/v1/tasks", q="design dra"))
    await asyncio.sleep(0.05)
    assert not search.done()  # it waits for the index rather than answer from half of it
    slow.loaded.set()
    names = sorted(item["name"] for item in (await search).body["items"])
    assert names == [f"Design draft {n}" for n in range(5)]


async def test_a_server_stopped_while_its_index_loads_leaves_no_load_running(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings, store_factory=SlowStore(settings)))
    await asyncio.sleep(0.05)
    await client.close()
    loads = [t for t in asyncio.all_tasks() if "TreeIndex._load" in repr(t.get_coro())]
    assert all(t.done() for t in loads)


async def test_changes_made_while_an_index_loads_are_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tree_index, "LOAD_BATCH", 2)
    store = await open_mongomock()
    await store.accounts.insert_one({"_id": "acc"})
    project = task("p", "Website relaunch")
    docs = [project, *(task(f"t{n}", f"Draft {n}", project) for n in range(6))]
    await store.tasks.insert_many(docs)
    indexes = TreeIndex(store)
    real_add_all = AccountIndex.add_all
    batches = 0
    half_way = asyncio.Event()

    def add_all(index: AccountIndex, docs: Any, move: Any) -> None:
        nonlocal batches
        batches += 1
        real_add_all(index, docs, move)
        if batches == 2:
            half_way.set()

    monkeypatch.setattr(AccountIndex, "add_all", add_all)
    loading = asyncio.create_task(indexes.get("acc"))
    await half_way.wait()
    renamed = {**docs[1], "name": "Final copy"}  # read already: the load has it as a draft
    removed = docs[-1]["_id"]  # not read yet
    added = task("new", "Draft 9", project)
    await store.tasks.update_one({"_id": renamed["_id"]}, {"$set": {"name": "Final copy"}})
    await store.tasks.delete_one({"_id": removed})
    await store.tasks.insert_one(added)
    await indexes.changed("acc", put=[renamed, added], removed=[removed])

    index = await loading
    assert batches == 3  # [p, t0] [t1, t2] [t3, t4]: loaded once, not again
    assert found(index, "draft") == {"t1", "t2", "t3", "t4", "new"}
    assert found(index, "final") == {"t0"}
    assert index is await indexes.get("acc")
    await store.close()
