"""What the search index keeps of a task (`IndexedTask`), and groups of task ids by key.

An index of 140,000 tasks holds 140,000 of these, so each is as small as Python allows: one
object with slots rather than dicts, its strings shared where tasks repeat them (ids, ancestor
tuples, path tuples, kinds, words), and no `sort_name` where it is the name casefolded (always,
for what this version writes). A task still reads as the stored document's fields do
(`task["name"]`, `task.get("source")`), so views and permission checks take either.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from operator import attrgetter
from typing import Any

Doc = dict[str, Any]

# Groups of up to this many ids are tuples (a set of 2 takes four times the memory).
SMALL_GROUP = 8


class Shared:
    """One copy of each string and tuple that many tasks hold."""

    def __init__(self) -> None:
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}

    def tuple(self, values: Iterable[str]) -> tuple[str, ...]:
        key = tuple(values)
        found = self._tuples.get(key)
        if found is None:  # (kept under itself: the key's strings are the shared ones too)
            found = tuple(sys.intern(v) for v in key)
            self._tuples[found] = found
        return found


class IndexedTask(Mapping[str, Any]):
    """A task as the index keeps it: read it like a document, never change it."""

    __slots__ = (
        "_sort_name",
        "_source",
        "ancestors",
        "archived",
        "billable",
        "id",
        "kind",
        "locked",
        "name",
        "parent_id",
        "path",
        "rate",
        "words",
    )  # fmt: skip

    id: str
    name: str
    parent_id: str | None
    ancestors: tuple[str, ...]
    path: tuple[str, ...]
    kind: str
    archived: bool
    locked: bool
    _source: tuple[str, str, str, str | tuple[str, ...] | None] | None
    _sort_name: str | None
    words: tuple[str, ...]
    # Local billing settings (`rates.py`), imported tasks' too: None where the task sets none.
    rate: int | None
    billable: bool | None

    def __init__(self, doc: Mapping[str, Any], words: list[str], shared: Shared) -> None:
        intern = sys.intern
        self.id = intern(doc["_id"])
        self.name = doc["name"]
        parent_id = doc["parent_id"]
        self.parent_id = intern(parent_id) if parent_id is not None else None
        self.ancestors = shared.tuple(doc["ancestors"])
        self.path = shared.tuple(doc["path"])
        self.kind = intern(doc["kind"])
        self.archived = doc["archived"]
        self.locked = doc["locked"]
        source = doc.get("source")
        self._source = _compact_source(source, shared) if source else None
        sort_name = doc["sort_name"]
        self._sort_name = None if sort_name == self.name.casefold() else sort_name
        self.words = tuple(intern(w) for w in words)
        self.rate = doc.get("rate")
        self.billable = doc.get("billable")

    @property
    def sort_name(self) -> str:
        return self.name.casefold() if self._sort_name is None else self._sort_name

    @property
    def source(self) -> dict[str, Any] | None:
        if self._source is None:
            return None
        system, object_, record_id, url = self._source
        if isinstance(url, tuple):  # (the URL's start, shared): the record's id ends it
            url = url[0] + record_id
        return {"system": system, "object": object_, "id": record_id, "url": url}

    def __getitem__(self, key: str) -> Any:
        return _READ[key](self)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)

    def __repr__(self) -> str:
        return f"IndexedTask({dict(self)!r})"


def _compact_source(
    source: Mapping[str, Any], shared: Shared
) -> tuple[str, str, str, str | tuple[str, ...] | None]:
    """A task's source: the strings many tasks repeat shared, and a URL that ends with the
    record's id (as Salesforce's do) kept as its start alone, shared too."""
    record_id, url = source["id"], source["url"]
    if (
        isinstance(url, str)
        and isinstance(record_id, str)
        and record_id
        and url.endswith(record_id)
    ):
        url = shared.tuple((url[: -len(record_id)],))
    return sys.intern(source["system"]), sys.intern(source["object"]), record_id, url


# The document's fields, and how a task reads each.
_READ: dict[str, Callable[[IndexedTask], Any]] = {
    "_id": attrgetter("id"),
    **{
        name: attrgetter(name)
        for name in (
            "name", "parent_id", "ancestors", "path", "kind", "archived", "locked", "source",
            "sort_name", "rate", "billable",
        )
    },
}  # fmt: skip
_FIELDS = tuple(_READ)


class Groups:
    """Task ids by key (the tasks with a word, the children of a task), each group as small as
    its size allows: a key held by one task keeps its id alone, a few ids a tuple, more a set
    (most words are one task's, most tasks have few children)."""

    __slots__ = ("_groups",)

    def __init__(self) -> None:
        self._groups: dict[Any, str | tuple[str, ...] | set[str]] = {}

    def add(self, key: Any, task_id: str) -> bool:
        """Add; True when the key is new."""
        held = self._groups.get(key)
        if held is None:
            self._groups[key] = task_id
            return True
        if isinstance(held, set):
            held.add(task_id)
            return False
        ids = (held,) if isinstance(held, str) else held
        if task_id not in ids:
            self._groups[key] = (*ids, task_id) if len(ids) < SMALL_GROUP else {*ids, task_id}
        return False

    def discard(self, key: Any, task_id: str) -> bool:
        """Remove; True when the key is left without a task (and forgotten)."""
        held = self._groups.get(key)
        if held is None:
            return False
        if isinstance(held, set):
            held.discard(task_id)
            if held:
                return False
            del self._groups[key]
            return True
        ids = tuple(i for i in ((held,) if isinstance(held, str) else held) if i != task_id)
        if not ids:
            del self._groups[key]
            return True
        self._groups[key] = ids[0] if len(ids) == 1 else ids
        return False

    def get(self, key: Any) -> Collection[str]:
        held = self._groups.get(key, ())
        return (held,) if isinstance(held, str) else held

    def keys(self) -> Iterable[Any]:
        return self._groups.keys()

    def __contains__(self, key: object) -> bool:
        return key in self._groups

    def as_sets(self) -> dict[Any, set[str]]:
        """Every key with its ids (for comparing two indexes)."""
        return {key: set(self.get(key)) for key in self._groups}
