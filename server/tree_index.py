"""An in-memory index of each account's task tree: word prefixes, children, name order.

Searching by word prefix and listing large subtrees must not depend on engine indexes (the
embedded and mock engines scan; FACTS.md), so each process keeps, per account, slim copies of
the tasks (`slim`) in memory with:
- `vocabulary`: the distinct words of the names, sorted (a prefix is a bisect range), and
  `postings`: the tasks having each word;
- `children`: task ids by parent id.

It stays exact across processes through `tree_version` on the account document: every change to
an account's tasks bumps it (after writing), and a reader whose index carries another version
reloads. The process that made a change (a task edited, a page of an import written) applies
it to its own index when nothing else changed in between, so the common case costs no reload.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from .store import Doc, Remembered, Store

log = logging.getLogger(__name__)

# From this size on, a loaded index is kept out of the cyclic garbage collector's sight.
FREEZE_ABOVE = 10_000
# Accounts whose tree version is remembered between requests (see `TreeIndex.__init__`).
KNOWN_ACCOUNTS = 10_000


def _keep_out_of_gc(tasks: int, collect_first: bool = False) -> None:
    """An index of 140,000 tasks is 1.5 million containers: every full collection would walk
    them all (~1 s, on the event loop, at moments nobody chooses). They live until replaced
    and hold no reference cycles, so reference counting frees them: move everything allocated
    so far to the collector's permanent generation (`gc.freeze`)."""
    if tasks < FREEZE_ABOVE:
        return
    if collect_first:
        gc.collect()
    gc.freeze()


def slim(doc: Doc) -> Doc:
    """What the index keeps of a task: the fields views, search and permission checks read,
    with the strings many tasks repeat (ancestor ids, path names, kinds) shared rather than
    copied — a third of the memory of the stored documents."""
    intern = sys.intern
    source = doc.get("source")
    return {
        "_id": intern(doc["_id"]),
        "name": intern(doc["name"]),
        "parent_id": intern(doc["parent_id"]) if doc["parent_id"] is not None else None,
        "ancestors": tuple(intern(a) for a in doc["ancestors"]),
        "path": tuple(intern(n) for n in doc["path"]),
        "kind": intern(doc["kind"]),
        "archived": doc["archived"],
        "locked": doc["locked"],
        "source": {
            "system": intern(source["system"]),
            "object": intern(source["object"]),
            "id": source["id"],
            "url": source["url"],
        }
        if source
        else None,
        "sort_name": doc["sort_name"],
    }


def words_of_name(name: str) -> list[str]:
    """The words of a name, in order (one definition of a word, shared with the scoring)."""
    from .tree import words_of

    return words_of(name)


@dataclass
class AccountIndex:
    version: int
    tasks: dict[str, Doc] = field(default_factory=dict)
    # The distinct words, sorted (a prefix is a bisect range), and the tasks with each word.
    vocabulary: list[str] = field(default_factory=list)
    postings: dict[str, set[str]] = field(default_factory=dict)
    children: dict[str | None, set[str]] = field(default_factory=dict)
    name_words: dict[str, list[str]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, version: int, docs: Iterable[Doc]) -> AccountIndex:
        """An index of these tasks, as `slim` keeps them."""
        index = cls(version)
        for doc in docs:
            index._add(doc)
        index.vocabulary = sorted(index.postings)
        return index

    def _add(self, doc: Doc) -> list[str]:
        """Add a task (as `slim` keeps it); returns the words that are new to the vocabulary
        (not yet in it)."""
        self.tasks[doc["_id"]] = doc
        self.children.setdefault(doc["parent_id"], set()).add(doc["_id"])
        words = self.name_words[doc["_id"]] = words_of_name(doc["name"])
        new_words = []
        for w in set(words):
            holders = self.postings.get(w)
            if holders is None:
                holders = self.postings[w] = set()
                new_words.append(w)
            holders.add(doc["_id"])
        if doc["archived"]:
            self.archived.add(doc["_id"])
        return new_words

    def put(self, docs: Iterable[Doc]) -> None:
        """Add or replace tasks. New words join the vocabulary in one merge (a page of an
        import brings thousands)."""
        new_words: list[str] = []
        for doc in docs:
            self.remove(doc["_id"])
            new_words += self._add(slim(doc))
        # A word a later document of the same batch took away again is not kept.
        fresh = sorted({w for w in new_words if w in self.postings})
        if fresh:
            self.vocabulary = list(heapq.merge(self.vocabulary, fresh))

    def remove(self, task_id: str) -> None:
        old = self.tasks.pop(task_id, None)
        if old is None:
            return
        self.children.get(old["parent_id"], set()).discard(task_id)
        self.archived.discard(task_id)
        for w in set(self.name_words.pop(task_id, ())):
            holders = self.postings.get(w)
            if holders is None:
                continue
            holders.discard(task_id)
            if not holders:
                del self.postings[w]
                i = bisect.bisect_left(self.vocabulary, w)
                if i < len(self.vocabulary) and self.vocabulary[i] == w:
                    del self.vocabulary[i]

    def with_prefix(self, prefix: str) -> set[str]:
        lo = bisect.bisect_left(self.vocabulary, prefix)
        hi = bisect.bisect_left(self.vocabulary, prefix + "\U0010ffff")
        found: set[str] = set()
        for word in self.vocabulary[lo:hi]:
            found |= self.postings[word]
        return found

    def matching(self, query_words: list[str]) -> list[Doc]:
        """Tasks whose name has, for every query word, a word starting with it."""
        ids: set[str] | None = None
        for q in sorted(set(query_words), key=len, reverse=True):
            found = self.with_prefix(q)
            ids = found if ids is None else ids & found
            if not ids:
                return []
        return [self.tasks[i] for i in ids or ()]

    def descendants(self, task_id: str) -> set[str]:
        """The ids of every task below this one."""
        found: set[str] = set()
        todo = [task_id]
        while todo:
            below = self.children.get(todo.pop(), ())
            found.update(below)
            todo.extend(below)
        return found

    def archived_ids(self, tasks: Iterable[Doc]) -> set[str]:
        """Which of these tasks' ancestors are archived."""
        return {a for t in tasks for a in t["ancestors"] if a in self.archived}


class TreeIndex:
    """The per-account indexes of one process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._accounts: dict[str, AccountIndex] = {}
        # Each account's tree_version, while `accounts` is unwritten.
        self._versions: Remembered[str, int] = Remembered(KNOWN_ACCOUNTS)

    async def _version(self, account_id: str) -> int:
        versions = (self._store.accounts.version(),)
        version = self._versions.get(account_id, versions)
        if version is None:
            account = await self._store.accounts.find_one({"_id": account_id})
            version = int(account.get("tree_version", 0)) if account else 0
            self._versions.put(account_id, versions, version)
        return version

    async def load_all(self) -> None:
        """Load every account's index, so that no request pays for it."""
        started = time.perf_counter()
        accounts = await self._store.accounts.find({}, projection={"_id": 1})
        for account in accounts:
            await self.get(account["_id"])
        tasks = sum(len(index.tasks) for index in self._accounts.values())
        _keep_out_of_gc(tasks, collect_first=True)
        log.info(
            "Loaded the tree indexes of %d accounts (%d tasks) in %.1f s",
            len(accounts), tasks, time.perf_counter() - started,
        )  # fmt: skip

    def cached(self, account_id: str) -> AccountIndex | None:
        """This process's index of the account as it stands (maybe stale), or None."""
        return self._accounts.get(account_id)

    async def get(self, account_id: str) -> AccountIndex:
        version = await self._version(account_id)
        index = self._accounts.get(account_id)
        if index is not None and index.version == version:
            return index
        docs = await self._store.tasks.scan({"account_id": account_id}, shape=slim)
        log.debug("Loading the tree index of %s: %d tasks", account_id, len(docs))
        index = AccountIndex.build(version, docs)
        _keep_out_of_gc(len(index.tasks))
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
            index.put(put)
            index.version = new_version
        else:
            del self._accounts[account_id]
