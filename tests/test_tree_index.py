"""The in-memory search index of an account's tree, on its own: what a search finds after tasks
are added, renamed, moved and removed in place, and that a large index stays out of the cyclic
garbage collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from server import tree_index
from server.store import open_mongomock
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
    assert index.vocabulary == sorted(index.postings)  # no word left without a task
    docs = [project, task("a", "Copy writing", project), task("c", "Deploy", project)]
    fresh = build([*docs, task("d", "Yak")])
    assert (fresh.vocabulary, fresh.postings) == (index.vocabulary, index.postings)
    assert index.children["p"] == {"a", "c"}


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
