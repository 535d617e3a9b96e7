"""An in-memory index of each account's task tree: word prefixes, children, name order.

Searching by word prefix and listing large subtrees must not depend on engine indexes (the
embedded and mock engines scan; FACTS.md), so each process keeps, per account, the tasks
(without their stored prefix arrays) in memory with:
- `words`: the sorted (word, task id) pairs: a prefix is a bisect range;
- `children`: task ids by parent id.

It stays exact across processes through `tree_version` on the account document: every change to
an account's tasks bumps it (after writing), and a reader whose index carries another version
reloads. The process that made a single-task change applies it to its own index when nothing
else changed in between, so the common case costs no reload.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from .store import Doc, Store

log = logging.getLogger(__name__)


def words_of_name(name: str) -> list[str]:
    """The words of a name, in order (one definition of a word, shared with the scoring)."""
    from .tree import words_of

    return words_of(name)


@dataclass
class AccountIndex:
    version: int
    tasks: dict[str, Doc] = field(default_factory=dict)
    words: list[tuple[str, str]] = field(default_factory=list)
    children: dict[str | None, set[str]] = field(default_factory=dict)
    name_words: dict[str, list[str]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, version: int, docs: Iterable[Doc]) -> AccountIndex:
        index = cls(version)
        pairs: list[tuple[str, str]] = []
        for doc in docs:
            index.tasks[doc["_id"]] = doc
            index.children.setdefault(doc["parent_id"], set()).add(doc["_id"])
            words = index.name_words[doc["_id"]] = words_of_name(doc["name"])
            pairs.extend((w, doc["_id"]) for w in set(words))
            if doc["archived"]:
                index.archived.add(doc["_id"])
        pairs.sort()
        index.words = pairs
        return index

    def put(self, doc: Doc) -> None:
        self.remove(doc["_id"])
        self.tasks[doc["_id"]] = doc
        self.children.setdefault(doc["parent_id"], set()).add(doc["_id"])
        words = self.name_words[doc["_id"]] = words_of_name(doc["name"])
        for w in set(words):
            bisect.insort(self.words, (w, doc["_id"]))
        if doc["archived"]:
            self.archived.add(doc["_id"])

    def remove(self, task_id: str) -> None:
        old = self.tasks.pop(task_id, None)
        if old is None:
            return
        self.children.get(old["parent_id"], set()).discard(task_id)
        self.archived.discard(task_id)
        for w in set(self.name_words.pop(task_id, ())):
            i = bisect.bisect_left(self.words, (w, task_id))
            if i < len(self.words) and self.words[i] == (w, task_id):
                del self.words[i]

    def with_prefix(self, prefix: str) -> set[str]:
        lo = bisect.bisect_left(self.words, (prefix, ""))
        hi = bisect.bisect_left(self.words, (prefix + "\U0010ffff", ""))
        return {task_id for _, task_id in self.words[lo:hi]}

    def matching(self, query_words: list[str]) -> list[Doc]:
        """Tasks whose name has, for every query word, a word starting with it."""
        ids: set[str] | None = None
        for q in sorted(set(query_words), key=len, reverse=True):
            found = self.with_prefix(q)
            ids = found if ids is None else ids & found
            if not ids:
                return []
        return [self.tasks[i] for i in ids or ()]

    def archived_ids(self, tasks: Iterable[Doc]) -> set[str]:
        """Which of these tasks' ancestors are archived."""
        return {a for t in tasks for a in t["ancestors"] if a in self.archived}


class TreeIndex:
    """The per-account indexes of one process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._accounts: dict[str, AccountIndex] = {}

    async def _version(self, account_id: str) -> int:
        account = await self._store.accounts.find_one({"_id": account_id})
        return int(account.get("tree_version", 0)) if account else 0

    async def get(self, account_id: str) -> AccountIndex:
        version = await self._version(account_id)
        index = self._accounts.get(account_id)
        if index is not None and index.version == version:
            return index
        docs = await self._store.tasks.find({"account_id": account_id})
        index = AccountIndex.build(version, docs)
        log.debug("Loaded the tree index of %s: %d tasks", account_id, len(docs))
        # A change may have landed while loading; the next reader sees a newer version.
        current = self._accounts.get(account_id)
        if current is None or current.version <= version:
            self._accounts[account_id] = index
        return index

    async def changed(
        self, account_id: str, put: Iterable[Doc] = (), removed: Iterable[str] = ()
    ) -> None:
        """Record a change already written to the store. Pass the changed documents to apply
        them to this process's index; with none, the index reloads when next used."""
        put, removed = list(put), list(removed)
        account = await self._store.accounts.find_one_and_update(
            {"_id": account_id}, {"$inc": {"tree_version": 1}}
        )
        new_version = int(account.get("tree_version", 0)) if account else 0
        index = self._accounts.get(account_id)
        if index is None:
            return
        if (put or removed) and index.version == new_version - 1:
            for task_id in removed:
                index.remove(task_id)
            for doc in put:
                index.put(doc)
            index.version = new_version
        else:
            del self._accounts[account_id]
