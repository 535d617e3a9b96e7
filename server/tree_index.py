"""An in-memory index of each account's task tree: word prefixes, children, name order.

Searching by word prefix and listing large subtrees must not depend on engine indexes (the
embedded and mock engines scan; FACTS.md), so each process keeps, per account, compact copies
of the tasks (`slim`, `tree_record.IndexedTask`) in memory with:
- `vocabulary`: the distinct words of the names, sorted (a prefix is a bisect range), and
  `postings`: the tasks having each word;
- `children`: task ids by parent id.

It stays exact across processes through `tree_version` on the account document: every change to
an account's tasks bumps it (after writing), and a reader whose index carries another version
reloads. The process that made a change (a task edited, a page of an import written) applies
it to its own index when nothing else changed in between, so the common case costs no reload.

An index loads a batch of tasks at a time, handing the event loop back in between: every
account's at start-up in the background (the server answers meanwhile), or when a request
needs one that is not loaded (it waits, as does any other request needing the same one: one
load each). A change this process makes while a load runs is applied to what is loaded.

A subtree move rewrites every task below the moved one, one document at a time (no engine here
has multi-document transactions). It is recorded first, on the account document (`tree_move`,
with the version bump, in one write), and finished after; until it is, every reader sees the
tasks as the move leaves them (`settle`): the index applies it as it loads, and the tree applies
it to what it reads from the store. A move a crash interrupted is finished by the next tree
write of the account, or at start-up (`Tree.finish_moves`).
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, overload

from .memory import Remembered
from .rates import TaskBilling
from .store import Doc, Store, StoreError
from .text import counted
from .tree_record import Groups, IndexedTask, Shared

log = logging.getLogger(__name__)

# From this size on, a loaded index is kept out of the cyclic garbage collector's sight.
FREEZE_ABOVE = 10_000
# Accounts whose tree version is remembered between requests (see `TreeIndex.__init__`).
KNOWN_ACCOUNTS = 10_000
# Tasks read at a time when loading an index.
LOAD_BATCH = 1_000
# ...in this order: one range of the index `tasks_by_parent` each.
LOAD_ORDER = ("parent_id", "_id")
# Reads of the tree that a change overlapped are made again this many times at most.
READ_ATTEMPTS = 5


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


def slim(doc: Mapping[str, Any], shared: Shared | None = None) -> IndexedTask:
    """What the index keeps of a task: the fields views, search and permission checks read
    (`IndexedTask`), with the strings and tuples many tasks repeat shared through `shared`."""
    if isinstance(doc, IndexedTask):
        return doc
    return IndexedTask(doc, words_of_name(doc["name"]), shared or Shared())


# On the account document: the subtree move recorded and not yet finished (see the docstring).
TREE_MOVE = "tree_move"


@overload
def settle(doc: Doc, move: Mapping[str, Any] | None) -> Doc: ...
@overload
def settle(doc: Mapping[str, Any], move: Mapping[str, Any] | None) -> Mapping[str, Any]: ...
def settle(doc: Mapping[str, Any], move: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A task as it stands once `move` is done: the moved task takes its new place, and the
    tasks below it keep their ancestors from it down, under the new ones. The same whether the
    task was already rewritten or not (so finishing a move twice changes nothing), and a copy
    only when it differs; `slim` documents keep tuples."""
    if move is None:
        return doc
    moved = move["task_id"]
    ancestors, path = doc["ancestors"], doc["path"]
    seq = tuple if isinstance(ancestors, tuple) else list
    if doc["_id"] == moved:
        new_ancestors, new_path = seq(move["ancestors"]), seq(move["path"])
        parent_id = move["parent_id"]
        kind = "task" if parent_id is not None else "project"
        if (
            doc["parent_id"] == parent_id
            and list(ancestors) == list(new_ancestors)
            and list(path) == list(new_path)
            and doc["kind"] == kind
        ):
            return doc
        return {
            **doc,
            "parent_id": parent_id,
            "ancestors": new_ancestors,
            "path": new_path,
            "kind": kind,
        }
    if moved not in ancestors:
        return doc
    at = list(ancestors).index(moved)
    new_ancestors = seq((*move["ancestors"], *ancestors[at:]))
    new_path = seq((*move["path"], *path[at:]))
    if list(new_ancestors) == list(ancestors) and list(new_path) == list(path):
        return doc
    return {**doc, "ancestors": new_ancestors, "path": new_path}


def words_of_name(name: str) -> list[str]:
    """The words of a name, in order (one definition of a word, shared with the scoring)."""
    from .tree import words_of

    return words_of(name)


class AccountIndex:
    """One account's index: its tasks (`IndexedTask`) by id, the distinct words of their names
    sorted (a prefix is a bisect range) with the tasks having each word (`postings`), the
    children of each task (`children`, the projects under None) and the archived tasks."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.tasks: dict[str, IndexedTask] = {}
        self.vocabulary: list[str] = []
        self.postings = Groups()
        self.children = Groups()
        self.archived: set[str] = set()
        # The effective rate and billable default of tasks worked out since the index last
        # changed (`rates.task_billing`; any change may change what a subtree inherits).
        self.billing: dict[str, TaskBilling] = {}
        self._shared = Shared()

    @classmethod
    def build(
        cls, version: int, docs: Iterable[Mapping[str, Any]], move: Mapping[str, Any] | None = None
    ) -> AccountIndex:
        """An index of these tasks, as `move` (pending) leaves them."""
        index = cls(version)
        index.add_all(docs, move)
        index.finish()
        return index

    def add_all(self, docs: Iterable[Mapping[str, Any]], move: Mapping[str, Any] | None) -> None:
        """Add tasks read in a first load (the vocabulary is sorted once, after the last)."""
        for doc in docs:
            self._add(settle(doc, move))

    def finish(self) -> None:
        """Sort the vocabulary after `add_all`."""
        self.vocabulary = sorted(self.postings.keys())

    def _add(self, doc: Mapping[str, Any]) -> list[str]:
        """Add a task; returns the words that are new to the vocabulary (not yet in it)."""
        task = slim(doc, self._shared)
        task_id = task.id
        self.billing.clear()
        self.tasks[task_id] = task
        self.children.add(task.parent_id, task_id)
        new_words = [w for w in set(task.words) if self.postings.add(w, task_id)]
        if task.archived:
            self.archived.add(task_id)
        return new_words

    def put(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Add or replace tasks. New words join the vocabulary in one merge (a page of an
        import brings thousands)."""
        new_words: list[str] = []
        for doc in docs:
            self.remove(doc["_id"])
            new_words += self._add(doc)
        # A word a later document of the same batch took away again is not kept.
        fresh = sorted({w for w in new_words if w in self.postings})
        if fresh:
            self.vocabulary = list(heapq.merge(self.vocabulary, fresh))

    def apply_move(self, move: Mapping[str, Any]) -> None:
        """Take in a recorded move: the moved task and everything below it."""
        moved = move["task_id"]
        if moved not in self.tasks:
            return
        changed = [
            settled
            for task_id in (moved, *self.descendants(moved))
            if (settled := settle(self.tasks[task_id], move)) is not self.tasks[task_id]
        ]
        self.put(changed)

    def remove(self, task_id: str) -> None:
        old = self.tasks.pop(task_id, None)
        if old is None:
            return
        self.billing.clear()
        self.children.discard(old.parent_id, task_id)
        self.archived.discard(task_id)
        for w in set(old.words):
            if self.postings.discard(w, task_id):
                i = bisect.bisect_left(self.vocabulary, w)
                if i < len(self.vocabulary) and self.vocabulary[i] == w:
                    del self.vocabulary[i]

    def with_prefix(self, prefix: str) -> set[str]:
        lo = bisect.bisect_left(self.vocabulary, prefix)
        hi = bisect.bisect_left(self.vocabulary, prefix + "\U0010ffff")
        found: set[str] = set()
        for word in self.vocabulary[lo:hi]:
            found.update(self.postings.get(word))
        return found

    def matching(self, query_words: list[str]) -> list[IndexedTask]:
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
            below = self.children.get(todo.pop())
            found.update(below)
            todo.extend(below)
        return found

    def archived_ids(self, tasks: Iterable[Mapping[str, Any]]) -> set[str]:
        """Which of these tasks' ancestors are archived."""
        return {a for t in tasks for a in t["ancestors"] if a in self.archived}


class TreeIndex:
    """The per-account indexes of one process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._accounts: dict[str, AccountIndex] = {}
        # Each account's tree_version and pending move, while `accounts` is unwritten.
        self._versions: Remembered[str, tuple[int, Doc | None]] = Remembered(KNOWN_ACCOUNTS)
        # Indexes being loaded (one load per account, shared by whoever waits), what each has
        # read so far, and the background load of every account at start-up.
        self._loading: dict[str, asyncio.Task[AccountIndex]] = {}
        self._partial: dict[str, tuple[AccountIndex, set[str]]] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def _state(self, account_id: str) -> tuple[int, Doc | None]:
        versions = (self._store.accounts.version(),)
        state = self._versions.get(account_id, versions)
        if state is None:
            account = await self._store.accounts.find_one({"_id": account_id})
            version = int(account.get("tree_version", 0)) if account else 0
            state = (version, account.get(TREE_MOVE) if account else None)
            self._versions.put(account_id, versions, state)
        return state

    async def pending_move(self, account_id: str) -> Doc | None:
        """The account's recorded, unfinished subtree move, if any."""
        return (await self._state(account_id))[1]

    async def record_move(self, account_id: str, move: Doc) -> bool:
        """Record a move before any task is rewritten; False when another one is pending."""
        account = await self._store.accounts.find_one_and_update(
            {"_id": account_id, TREE_MOVE: {"$exists": False}},
            {"$set": {TREE_MOVE: move}, "$inc": {"tree_version": 1}},
        )
        if account is None:
            return False
        index = self._accounts.get(account_id)
        new_version = int(account.get("tree_version", 0))
        if index is not None and index.version == new_version - 1:
            index.apply_move(move)
            index.version = new_version
        else:
            self._accounts.pop(account_id, None)
        return True

    async def move_finished(self, account_id: str, move_id: str) -> None:
        """Every task is rewritten as the move leaves it: forget the record. (The index has
        shown the move since it was recorded.)"""
        account = await self._store.accounts.find_one_and_update(
            {"_id": account_id, f"{TREE_MOVE}.id": move_id},
            {"$unset": {TREE_MOVE: ""}, "$inc": {"tree_version": 1}},
        )
        if account is None:
            return  # another process or request finished it first
        index = self._accounts.get(account_id)
        if index is not None and index.version == int(account.get("tree_version", 0)) - 1:
            index.version += 1
        else:
            self._accounts.pop(account_id, None)

    async def accounts_moving(self) -> list[str]:
        """The accounts with a pending move (start-up finishes them)."""
        docs = await self._store.accounts.find(
            {TREE_MOVE: {"$exists": True}}, projection={"_id": 1}
        )
        return [d["_id"] for d in docs]

    def load_all(self) -> asyncio.Task[None]:
        """Load every account's index in the background, a batch of tasks at a time, so that
        the server answers at once and no search pays for it later; a request that needs an
        index meanwhile waits for that one."""
        task = asyncio.create_task(self._load_all())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _load_all(self) -> None:
        started = time.perf_counter()
        accounts = await self._store.accounts.find({}, projection={"_id": 1})
        for account in accounts:
            try:
                await self.get(account["_id"])
            except StoreError:  # (the request that needs it next loads it again)
                log.exception("Could not load the tree index of account %s", account["_id"])
        tasks = sum(len(index.tasks) for index in self._accounts.values())
        _keep_out_of_gc(tasks, collect_first=True)
        log.info(
            "Loaded the tree indexes of %s (%s) in %.1f s",
            counted(len(accounts), "account"), counted(tasks, "task"),
            time.perf_counter() - started,
        )  # fmt: skip

    async def close(self) -> None:
        """Stop loading (before the store closes)."""
        loads = [*self._background, *self._loading.values()]
        for task in loads:
            task.cancel()
        await asyncio.gather(*loads, return_exceptions=True)

    def cached(self, account_id: str) -> AccountIndex | None:
        """This process's index of the account as it stands (maybe stale), or None."""
        return self._accounts.get(account_id)

    async def settled(self, account_id: str, read: Callable[[], Awaitable[list[Doc]]]) -> list[Doc]:
        """Tasks `read` from the store, as the pending move (if any) leaves them. A read that
        a change of the tree overlapped (a move recorded or finished meanwhile) is made again,
        so that no task is shown half-moved."""
        for _ in range(READ_ATTEMPTS):
            version, move = await self._state(account_id)
            docs = await read()
            if (await self._state(account_id))[0] == version:
                break
        return [settle(doc, move) for doc in docs]

    async def get(self, account_id: str) -> AccountIndex:
        version, _ = await self._state(account_id)
        index = self._accounts.get(account_id)
        if index is not None and index.version == version:
            return index
        loading = self._loading.get(account_id)
        if loading is None:
            loading = self._loading[account_id] = asyncio.create_task(self._load(account_id))
            loading.add_done_callback(lambda done: self._loaded(account_id, done))
        # (one load serves every request waiting for it, whichever of them goes away)
        return await asyncio.shield(loading)

    def _loaded(self, account_id: str, load: asyncio.Task[AccountIndex]) -> None:
        if self._loading.get(account_id) is load:
            del self._loading[account_id]

    async def _load(self, account_id: str) -> AccountIndex:
        """Read the account's tasks a batch at a time (the event loop serves other requests in
        between). Changes made meanwhile are applied to what is loaded as they come (see
        `changed`); any other change (a move) makes it load again."""
        for _ in range(READ_ATTEMPTS):
            version, move = await self._state(account_id)
            index = AccountIndex(version)
            # The tasks changes applied while loading: newer than what a batch may bring.
            changed = self._partial[account_id] = (index, set())
            try:
                batches = self._store.tasks.batches(
                    {"account_id": account_id}, size=LOAD_BATCH, keyset=LOAD_ORDER
                )
                async for batch in batches:
                    index.add_all((d for d in batch if d["_id"] not in changed[1]), move)
                    await asyncio.sleep(0)
            finally:
                del self._partial[account_id]
            index.finish()
            if (await self._state(account_id))[0] == index.version:
                break
            # The tree changed in a way not applied while loading: load again (at the last
            # attempt, keep it under the older version: the next reader loads again).
            index.version = version
        log.debug("Loaded the tree index of %s: %d tasks", account_id, len(index.tasks))
        _keep_out_of_gc(len(index.tasks))
        # A change may have landed while loading; the next reader sees a newer version.
        current = self._accounts.get(account_id)
        if current is None or current.version <= index.version:
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
        if index is not None and not _applied(index, new_version, put, removed):
            del self._accounts[account_id]
        partial = self._partial.get(account_id)
        if partial is not None:
            index, changed = partial
            if _applied(index, new_version, put, removed):
                changed.update(removed, (doc["_id"] for doc in put))
            else:
                index.version = -1  # the load starts again


def _applied(index: AccountIndex, new_version: int, put: list[Doc], removed: list[str]) -> bool:
    """Apply a change to an index in place when it is the one change since the index's version."""
    if not (put or removed) or index.version != new_version - 1:
        return False
    for task_id in removed:
        index.remove(task_id)
    index.put(put)
    index.version = new_version
    return True
