"""The project tree: tasks with parent and ancestors, project roles, visibility and search.

Each task stores `ancestors` (ids, root first) and `path` (their names), so a subtree is one
indexed query (`ancestors: id`) and a permission check needs only the task and the caller's
assignments. A user's role on a node is the nearest assignment on the node or above it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import clock
from .accounts import Accounts, Caller
from .errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from .ids import new_id
from .memory import Remembered
from .paging import Page
from .rates import BILLABLE, RATE, TaskBilling, format_money, parse_rate, task_billing
from .salesforce_ids import to_18
from .store import Doc, DuplicateKeyError, Store, find_in
from .tree_index import TreeIndex, settle
from .tree_record import IndexedTask

log = logging.getLogger(__name__)

MANAGER = "manager"
REGULAR = "regular"
GUEST = "guest"
PROJECT_ROLES = (MANAGER, REGULAR, GUEST)
TRACKING_ROLES = (MANAGER, REGULAR)

MAX_DEPTH = 20
# Users whose roles are remembered between requests (see `Tree.__init__`).
KNOWN_ROLES = 10_000
# A move waits for the account's pending one (another request's) at most this many times.
MOVE_ATTEMPTS = 20
MAX_WORDS = 40
# An import that changed more tasks than this (and than a quarter of the tree) makes the
# search index reload rather than take each change.
RELOAD_ABOVE = 2_000
_WORD = re.compile(r"\w+", re.UNICODE)

SOURCE_OBJECTS = ("Opportunity", "Case", "Task", "Event")
# A task to read: a stored document, or as the search index keeps it (`IndexedTask`).
TaskFields = Mapping[str, Any]


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def match_score(name_words: Sequence[str], query_words: list[str]) -> float | None:
    """How well a name (its words, in order) matches: every query word must start one of them.

    Best first: exact words over prefixes, matches early in the name, then shorter names.
    """
    score = 0.0
    for q in query_words:
        best = None
        for position, word in enumerate(name_words):
            if word.startswith(q):
                value = (3.0 if word == q else 2.0) - position * 0.01
                if best is None or value > best:
                    best = value
        if best is None:
            return None
        score += best
    if name_words and query_words and name_words[0].startswith(query_words[0]):
        score += 1.0
    return score


def source_key(account_id: str, key: str) -> str:
    """The stored, server-wide unique key of an imported node: the account, then the source's
    own key (`salesforce:<18-char id>`). One field makes "unique per account" a single-field
    unique index, which every engine checks with one lookup."""
    return f"{account_id}/{key}"


@dataclass(frozen=True)
class Source:
    system: str
    object: str
    id: str
    url: str | None

    @property
    def key(self) -> str:
        return f"{self.system}:{self.id}"


class Assignments:
    """A user's direct role assignments in one account, keyed by task id."""

    def __init__(self, caller: Caller, roles: dict[str, str]) -> None:
        self.caller = caller
        self.roles = roles

    def nearest(self, task: TaskFields) -> tuple[str | None, str | None]:
        """(role, the task id it is assigned on) of the nearest assignment, or (None, None)."""
        for task_id in (task["_id"], *reversed(task["ancestors"])):
            role = self.roles.get(task_id)
            if role is not None:
                return role, task_id
        return None, None

    def role(self, task: TaskFields) -> str | None:
        return self.nearest(task)[0]

    def can_see(self, task: TaskFields) -> bool:
        return self.caller.is_admin or self.role(task) is not None

    def can_track(self, task: TaskFields) -> bool:
        return self.caller.is_admin or self.role(task) in TRACKING_ROLES

    def can_manage(self, task: TaskFields) -> bool:
        return self.caller.is_admin or self.role(task) == MANAGER


def is_archived(task: TaskFields, archived_above: Collection[str]) -> bool:
    """Archived itself, or below an archived task (archiving a project archives its tasks)."""
    if task["archived"]:
        return True
    return bool(archived_above) and any(a in archived_above for a in task["ancestors"])


def task_view(
    task: TaskFields, assignments: Assignments, archived_above: Collection[str] = frozenset()
) -> dict[str, Any]:
    source = task.get("source")
    return {
        "id": task["_id"],
        "name": task["name"],
        "parent_id": task["parent_id"],
        "path": list(task["path"]),
        "kind": task["kind"],
        "archived": is_archived(task, archived_above),
        "locked": task["locked"],
        "source": dict(source) if source else None,
        "my_role": assignments.role(task),
        # Set on this task (null: as the task above says); the rate only for its managers.
        BILLABLE: task.get(BILLABLE),
        **({RATE: format_money(task.get(RATE))} if assignments.can_manage(task) else {}),
    }


def task_ref(task: TaskFields | None) -> dict[str, Any] | None:
    if task is None:
        return None
    return {"id": task["_id"], "name": task["name"], "path": list(task["path"])}


class Tree:
    def __init__(self, store: Store, accounts: Accounts) -> None:
        self._store = store
        self._accounts = accounts
        self._index = TreeIndex(store)
        # A user's roles by task id, while `memberships` is unwritten.
        self._roles: Remembered[str, dict[str, str]] = Remembered(KNOWN_ROLES)

    # Reading -----------------------------------------------------------------------------

    async def assignments(self, caller: Caller) -> Assignments:
        versions = (self._store.memberships.version(),)
        roles = self._roles.get(caller.user_id, versions)
        if roles is None:
            # The caller's own id (from their token) scopes the query to their account already;
            # leaving `account_id` out spares the embedded engine an account-wide candidate set.
            docs = await self._store.memberships.find(
                {"user_id": caller.user_id}, projection={"task_id": 1, "role": 1}
            )
            roles = {d["task_id"]: d["role"] for d in docs}
            self._roles.put(caller.user_id, versions, roles)
        return Assignments(caller, dict(roles))

    async def _find(self, account_id: str, filter: dict[str, Any], one: bool = False) -> list[Doc]:
        """Tasks read from the store as a pending move leaves them (see `tree_index`):
        permissions are never decided on a half-moved subtree."""

        async def read() -> list[Doc]:
            if one:
                doc = await self._store.tasks.find_one(filter)
                return [doc] if doc is not None else []
            return await self._store.tasks.find(filter)

        return await self._index.settled(account_id, read)

    async def _load(self, account_id: str, task_id: str) -> Doc | None:
        docs = await self._find(account_id, {"_id": task_id, "account_id": account_id}, one=True)
        return docs[0] if docs else None

    async def tasks_by_id(self, account_id: str, task_ids: Iterable[str]) -> dict[str, Doc]:
        ids = sorted(set(task_ids))
        if not ids:
            return {}
        docs = await self._find(account_id, {"_id": {"$in": ids}, "account_id": account_id})
        return {d["_id"]: d for d in docs}

    async def archived_above(self, account_id: str, tasks: Iterable[Doc]) -> set[str]:
        """Which of these tasks' ancestors are archived."""
        tasks = list(tasks)
        if not any(t["ancestors"] for t in tasks):
            return set()
        return (await self._index.get(account_id)).archived_ids(tasks)

    async def visible_task(self, caller: Caller, task_id: str) -> tuple[Doc, Assignments]:
        """The task if the caller may see it; otherwise 404, as if it did not exist."""
        task = await self._load(caller.account_id, task_id)
        assignments = await self.assignments(caller)
        if task is None or not assignments.can_see(task):
            raise NotFoundError("No such task.")
        return task, assignments

    async def trackable_task(self, caller: Caller, task_id: str) -> TaskFields:
        """A task the caller may start a timer on now (403 / 404 / 409 `task_archived`), as
        the tree index keeps it (`slim`): read it, never change it."""
        index = await self._index.get(caller.account_id)
        task = index.tasks.get(task_id)
        if task is None:
            raise NotFoundError("No such task.")
        assignments = await self.assignments(caller)
        if not assignments.can_track(task):
            raise ForbiddenError("You cannot track time on this task.")
        if is_archived(task, index.archived_ids([task])):
            raise ConflictError(
                "This task is archived and takes no new timers.", code="task_archived"
            )
        return task

    async def indexed_tasks(
        self, account_id: str, task_ids: Iterable[str]
    ) -> dict[str, TaskFields]:
        """These tasks as the tree index keeps them (`slim`: names, paths, ancestors), by id,
        without reading the store: read them, never change them."""
        tasks = (await self._index.get(account_id)).tasks
        return {i: task for i in task_ids if (task := tasks.get(i)) is not None}

    async def billed_tasks(
        self, account_id: str, task_ids: Iterable[str]
    ) -> dict[str, tuple[TaskFields, TaskBilling]]:
        """These tasks as the index keeps them, each with its billing (`indexed_tasks` and
        `billing` in one read of the index), by id."""
        index = await self._index.get(account_id)
        tasks, known = index.tasks, index.billing
        return {
            i: (task, task_billing(task, tasks, known))
            for i in task_ids
            if (task := tasks.get(i)) is not None
        }

    async def get(self, caller: Caller, task_id: str) -> dict[str, Any]:
        task, assignments = await self.visible_task(caller, task_id)
        return task_view(task, assignments, await self.archived_above(caller.account_id, [task]))

    async def children(
        self, caller: Caller, task_id: str, include_archived: bool, page: Page
    ) -> tuple[list[dict[str, Any]], str | None]:
        task, assignments = await self.visible_task(caller, task_id)
        index = await self._index.get(caller.account_id)
        # The archived tasks among the children's ancestors: the task's and the task itself.
        above = index.archived_ids([task])
        if task["archived"]:
            above.add(task["_id"])
        if above and not include_archived:
            return [], None
        # Whoever sees a task sees everything below it: no visibility filter is needed.
        docs = [index.tasks[i] for i in index.children.get(task["_id"])]
        if not include_archived:
            docs = [d for d in docs if not d["archived"]]
        docs.sort(key=lambda d: (d["sort_name"], d["_id"]))
        chunk, cursor = page.slice(docs)
        return [task_view(d, assignments, above) for d in chunk], cursor

    async def search(
        self,
        caller: Caller,
        q: str | None,
        include_archived: bool,
        trackable: bool,
        page: Page,
        roots: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        assignments = await self.assignments(caller)
        index = await self._index.get(caller.account_id)
        query_words = words_of(q or "")[:MAX_WORDS]
        if roots:
            candidates = [index.tasks[i] for i in index.children.get(None)]
            if query_words:
                matched = {t["_id"] for t in index.matching(query_words)}
                candidates = [t for t in candidates if t["_id"] in matched]
        elif query_words:
            candidates = index.matching(query_words)
        elif caller.is_admin:
            candidates = list(index.tasks.values())
        else:
            assigned = set(assignments.roles)
            candidates = [
                t
                for t in index.tasks.values()
                if t["_id"] in assigned or not assigned.isdisjoint(t["ancestors"])
            ]
        # Every archived task of the account: `is_archived` looks a task's ancestors up in it.
        above = index.archived
        allowed = assignments.can_track if trackable else assignments.can_see
        everything = caller.is_admin  # administrators see and track every task
        ranked: list[tuple[float, int, str, str, IndexedTask]] = []
        for task in candidates:  # (read as attributes: the hot loop of a search)
            if not include_archived and (task.archived or not above.isdisjoint(task.ancestors)):
                continue
            if not everything and not allowed(task):
                continue
            score = match_score(task.words, query_words) if query_words else 0.0
            if score is None:
                continue
            length = len(task.name) if query_words else 0
            ranked.append((-score, length, task.sort_name, task.id, task))
        # Only the requested page is ordered in full.
        top = heapq.nsmallest(page.offset + page.limit, ranked, key=lambda r: r[:4])
        chunk = [r[4] for r in top[page.offset :]]
        cursor = page.next_cursor(len(chunk), page.offset + page.limit < len(ranked))
        return [task_view(task, assignments, above) for task in chunk], cursor

    async def trackable_views(
        self, caller: Caller, task_ids: Iterable[str], limit: int
    ) -> list[dict[str, Any]]:
        """The first `limit` of these tasks the caller may start a timer on now, in order."""
        assignments = await self.assignments(caller)
        index = await self._index.get(caller.account_id)
        above = index.archived
        views = []
        for task_id in task_ids:
            task = index.tasks.get(task_id)
            if task is None or is_archived(task, above):
                continue
            if not caller.is_admin and not assignments.can_track(task):
                continue
            views.append(task_view(task, assignments, above))
            if len(views) == limit:
                break
        return views

    async def by_source(self, caller: Caller, system: str, record_id: str) -> dict[str, Any]:
        full = to_18(record_id)
        if full is None:
            raise InvalidRequestError("id is not a 15- or 18-character Salesforce record id.")
        found = await self._find(
            caller.account_id,
            {"source_key": source_key(caller.account_id, f"{system}:{full}")},
            one=True,
        )
        task = found[0] if found else None
        assignments = await self.assignments(caller)
        if task is None or not assignments.can_see(task):
            raise NotFoundError("No task was imported for this record.")
        return task_view(task, assignments, await self.archived_above(caller.account_id, [task]))

    # Writing -----------------------------------------------------------------------------

    def _new_task(
        self,
        account_id: str,
        name: str,
        parent: Doc | None,
        *,
        locked: bool,
        source: Source | None = None,
    ) -> Doc:
        now = clock.now()
        ancestors = [*parent["ancestors"], parent["_id"]] if parent else []
        if len(ancestors) >= MAX_DEPTH:
            raise InvalidRequestError(f"parent_id: tasks nest at most {MAX_DEPTH} levels deep.")
        doc: Doc = {
            "_id": new_id(),
            "account_id": account_id,
            "name": name,
            "parent_id": parent["_id"] if parent else None,
            "ancestors": ancestors,
            "path": [*parent["path"], parent["name"]] if parent else [],
            "kind": "task" if parent else "project",
            "archived": False,
            "locked": locked,
            "source": None,
            "sort_name": name.casefold(),
            "created_at": now,
            "updated_at": now,
        }
        if source is not None:
            doc["source"] = {
                "system": source.system,
                "object": source.object,
                "id": source.id,
                "url": source.url,
            }
            doc["source_key"] = source_key(account_id, source.key)
        return doc

    async def create_task(self, caller: Caller, name: str, parent_id: str | None) -> dict[str, Any]:
        parent = None
        assignments = await self.assignments(caller)
        if parent_id is not None:
            parent = await self._load(caller.account_id, parent_id)
            if parent is None or not assignments.can_see(parent):
                raise NotFoundError("parent_id: no such task.")
            if not assignments.can_manage(parent):
                raise ForbiddenError("Only managers of the parent task can add tasks to it.")
            if parent["locked"]:
                raise ConflictError(
                    "Imported tasks come from Salesforce; their structure cannot be changed here.",
                    code="imported_structure_locked",
                )
            if is_archived(parent, await self.archived_above(caller.account_id, [parent])):
                raise ConflictError("The parent task is archived.", code="task_archived")
        task = self._new_task(caller.account_id, name, parent, locked=False)
        await self._store.tasks.insert_one(task)
        await self._index.changed(caller.account_id, put=[task])
        if parent is None:
            # Whoever creates a project manages it.
            await self._assign(caller.account_id, task, caller.user_id, MANAGER)
            assignments.roles[task["_id"]] = MANAGER
        return task_view(task, assignments)

    def imported_task_doc(
        self,
        account_id: str,
        name: str,
        parent: Doc | None,
        source: Source | None,
        structure_key: str | None = None,
    ) -> Doc:
        """A locked task document as the Salesforce import writes it (not yet stored). Records
        are matched by their source id; the project and folders by a `structure_key`."""
        doc = self._new_task(account_id, name, parent, locked=True, source=source)
        if structure_key is not None:
            doc["source_key"] = source_key(account_id, structure_key)
        return doc

    async def rename_in_paths(self, task_id: str, depth: int, name: str) -> None:
        """Descendants keep the names of their ancestors in `path`, at the same position
        (`depth`, the renamed task's own depth)."""
        await self._store.tasks.update_many(
            {"ancestors": task_id}, {"$set": {f"path.{depth}": name}}
        )

    async def memberships_moved(self, task_id: str, ancestors: list[str]) -> None:
        """Role assignments on a moved task follow it (they record the path they sit on)."""
        await self._store.memberships.update_many(
            {"task_id": task_id}, {"$set": {"path_ids": [*ancestors, task_id]}}
        )

    def load_indexes(self) -> asyncio.Task[None]:
        """Build the search indexes in the background from start-up, rather than in the first
        search (which waits for its account's if it comes first)."""
        return self._index.load_all()

    async def close(self) -> None:
        await self._index.close()

    async def imports_written(
        self,
        account_id: str,
        docs: Iterable[Doc] = (),
        ids: Collection[str] = (),
        renamed: Collection[str] = (),
    ) -> None:
        """The import wrote tasks directly: these documents as written, and these ids (read
        back), and renamed these (their descendants' paths changed). This process's index
        takes them in place, page by page, so no search has to reload a large tree; a change
        too large to read back (turning a type off) makes it reload. Other processes see the
        new version and reload."""
        index = self._index.cached(account_id)
        changed = set(ids)
        if index is not None:
            for task_id in renamed:
                changed |= index.descendants(task_id)
        if index is None or len(changed) > max(RELOAD_ABOVE, len(index.tasks) // 4):
            await self._index.changed(account_id)
            return
        written = [*docs, *await find_in(self._store.tasks, "_id", sorted(changed))]
        if written:
            await self._index.changed(account_id, put=written)

    async def assign(self, account_id: str, task: Doc, user_id: str, role: str) -> None:
        await self._assign(account_id, task, user_id, role)

    async def create_imported_task(
        self, account_id: str, parent_id: str | None, name: str, source: Source | None
    ) -> Doc:
        """A locked task, as the Salesforce import creates them (matched by source id)."""
        parent = await self._load(account_id, parent_id) if parent_id else None
        if parent_id and parent is None:
            raise NotFoundError("parent_id: no such task.")
        task = self.imported_task_doc(account_id, name, parent, source)
        try:
            await self._store.tasks.insert_one(task)
        except DuplicateKeyError:
            raise ConflictError(
                "A task was already imported for this record.", code="source_taken"
            ) from None
        await self._index.changed(account_id, put=[task])
        return task

    async def set_archived(self, account_id: str, task_id: str, archived: bool) -> None:
        doc = await self._store.tasks.find_one_and_update(
            {"_id": task_id, "account_id": account_id},
            {"$set": {"archived": archived, "updated_at": clock.now()}},
        )
        if doc is not None:
            await self._index.changed(account_id, put=[doc])

    async def _editable(self, caller: Caller, task_id: str) -> tuple[Doc, Assignments]:
        task, assignments = await self.visible_task(caller, task_id)
        if not assignments.can_manage(task):
            raise ForbiddenError("Only administrators and managers of this task can change it.")
        if task["locked"]:
            raise ConflictError(
                "Imported tasks come from Salesforce; rename, move and delete are not possible.",
                code="imported_structure_locked",
            )
        return task, assignments

    async def update_task(
        self, caller: Caller, task_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        await self.finish_pending_move(caller.account_id)
        billing = {k: changes[k] for k in (RATE, BILLABLE) if k in changes}
        if RATE in billing:
            billing[RATE] = parse_rate(billing[RATE])
        if billing and billing.keys() == changes.keys():
            # Rates and billable are local settings: imported tasks take them too.
            task, assignments = await self._managed(caller, task_id, "change its rate or billing")
        else:
            task, assignments = await self._editable(caller, task_id)
        if "parent_id" in changes and changes["parent_id"] != task["parent_id"]:
            task = await self._move(caller, task, changes["parent_id"])
        if "name" in changes and changes["name"] != task["name"]:
            task = await self._rename(task, changes["name"])
        if "archived" in changes and changes["archived"] != task["archived"]:
            await self.set_archived(caller.account_id, task["_id"], changes["archived"])
            task = {**task, "archived": changes["archived"]}
        if billing:  # (last: a move refused leaves the rate as it was)
            task = await self._set_billing(task, billing)
        return task_view(task, assignments)

    async def _set_billing(self, task: Doc, billing: dict[str, Any]) -> Doc:
        """Set (or, with None, clear) the task's own `rate` (minor units) and `billable`."""
        doc = await self._store.tasks.find_one_and_update(
            {"_id": task["_id"], "account_id": task["account_id"]},
            {"$set": {**billing, "updated_at": clock.now()}},
        )
        if doc is None:
            raise NotFoundError("No such task.")
        await self._index.changed(task["account_id"], put=[doc])
        return {**task, **billing}

    async def _rename(self, task: Doc, name: str) -> Doc:
        depth = len(task["ancestors"])
        await self._store.tasks.update_one(
            {"_id": task["_id"]},
            {
                "$set": {
                    "name": name,
                    "sort_name": name.casefold(),
                    "updated_at": clock.now(),
                }
            },
        )
        await self.rename_in_paths(task["_id"], depth, name)
        await self._index.changed(task["account_id"])
        return {**task, "name": name}

    async def _move(self, caller: Caller, task: Doc, parent_id: str | None) -> Doc:
        """Move a task and its subtree: validated, recorded on the account (one write), then
        every task rewritten (`_finish_move`). A crash in between leaves the record, and the
        next tree write of the account (this same request sent again, too) or the next
        start-up finishes the move; readers see it done from the moment it is recorded."""
        account_id = caller.account_id
        for _ in range(MOVE_ATTEMPTS):
            await self.finish_pending_move(account_id)
            task, assignments = await self._editable(caller, task["_id"])
            if task["parent_id"] == parent_id:
                return task  # (a move sent again after it was finished)
            move = await self._planned_move(caller, task, parent_id, assignments)
            if await self._index.record_move(account_id, move):
                await self._finish_move(account_id, move)
                return settle(task, move)
        raise ConflictError(
            "The project tree is being reorganised by someone else; try again.",
            code="tree_busy",
        )

    async def _planned_move(
        self, caller: Caller, task: Doc, parent_id: str | None, assignments: Assignments
    ) -> Doc:
        """The move's record, once the caller may make it and the tree can take it."""
        # Moving takes a task out of one place and into another: it needs the right to manage
        # both (a manager of a task alone may not pull it out of a project they only visit).
        if task["parent_id"] is not None:
            old_parent = await self._load(caller.account_id, task["parent_id"])
            if old_parent is None or not assignments.can_manage(old_parent):
                raise ForbiddenError("Only managers of the current parent can move this task.")
        parent = None
        if parent_id is not None:
            parent = await self._load(caller.account_id, parent_id)
            if parent is None or not assignments.can_see(parent):
                raise NotFoundError("parent_id: no such task.")
            if parent["_id"] == task["_id"] or task["_id"] in parent["ancestors"]:
                raise InvalidRequestError("parent_id: a task cannot move below itself.")
            if not assignments.can_manage(parent):
                raise ForbiddenError("Only managers of the new parent can move tasks into it.")
            if parent["locked"]:
                raise ConflictError(
                    "Imported tasks come from Salesforce; their structure cannot be changed here.",
                    code="imported_structure_locked",
                )
            if is_archived(parent, await self.archived_above(caller.account_id, [parent])):
                raise ConflictError("The new parent task is archived.", code="task_archived")
        new_ancestors = [*parent["ancestors"], parent["_id"]] if parent else []
        old_depth = len(task["ancestors"])
        deepest = max(
            (len(d["ancestors"]) for d in await self._subtree(caller.account_id, task["_id"])),
            default=old_depth,
        )
        if len(new_ancestors) + (deepest - old_depth) >= MAX_DEPTH:
            raise InvalidRequestError(f"parent_id: tasks nest at most {MAX_DEPTH} levels deep.")
        return {
            "id": new_id(),
            "task_id": task["_id"],
            "parent_id": parent["_id"] if parent else None,
            "ancestors": new_ancestors,
            "path": [*parent["path"], parent["name"]] if parent else [],
            "recorded_at": clock.now(),
        }

    async def _subtree(self, account_id: str, task_id: str) -> list[Doc]:
        return await self._find(account_id, {"ancestors": task_id})

    async def finish_pending_move(self, account_id: str) -> None:
        """Finish the account's recorded move, if one is pending (every tree write calls this
        first: a rename, a delete or another move must not act on a half-moved subtree)."""
        move = await self._index.pending_move(account_id)
        if move is not None:
            await self._finish_move(account_id, move)

    async def finish_moves(self) -> None:
        """Finish every move a stopped server left pending (at start-up)."""
        for account_id in await self._index.accounts_moving():
            log.info("Finishing a move of tasks interrupted in account %s", account_id)
            await self.finish_pending_move(account_id)

    async def _finish_move(self, account_id: str, move: Doc) -> None:
        """Rewrite the moved task, then each task below it, then the role assignments on
        them, as `settle` says; each write is idempotent and tasks already rewritten are
        skipped, so an interrupted finish is simply run again."""
        moved = move["task_id"]
        now = clock.now()
        root = await self._store.tasks.find_one({"_id": moved, "account_id": account_id})
        if root is not None:
            target = settle(root, move)
            if target is not root:
                await self._store.tasks.update_one(
                    {"_id": moved},
                    {
                        "$set": {k: target[k] for k in ("parent_id", "ancestors", "path", "kind")}
                        | {"updated_at": now}
                    },
                )
        below = await self._store.tasks.find({"ancestors": moved, "account_id": account_id})
        ancestors_of = {moved: list(move["ancestors"])}
        for doc in below:
            target = settle(doc, move)
            ancestors_of[doc["_id"]] = list(target["ancestors"])
            if target is not doc:
                await self._store.tasks.update_one(
                    {"_id": doc["_id"]},
                    {"$set": {"ancestors": target["ancestors"], "path": target["path"]}},
                )
        for membership in await self._store.memberships.find({"path_ids": moved}):
            ancestors = ancestors_of.get(membership["task_id"])
            if ancestors is None:
                continue  # (its task is gone)
            path_ids = [*ancestors, membership["task_id"]]
            if membership["path_ids"] != path_ids:
                await self._store.memberships.update_one(
                    {"_id": membership["_id"]}, {"$set": {"path_ids": path_ids}}
                )
        await self._index.move_finished(account_id, move["id"])

    async def delete_task(self, caller: Caller, task_id: str) -> None:
        await self.finish_pending_move(caller.account_id)
        task, _ = await self._editable(caller, task_id)
        subtree_ids = [task["_id"]] + [
            d["_id"]
            for d in await self._store.tasks.find({"ancestors": task["_id"]}, projection={"_id": 1})
        ]
        if await self._store.entries.find_one(
            {"account_id": caller.account_id, "task_id": {"$in": subtree_ids}}
        ):
            raise ConflictError(
                "Time was tracked on this task or below it; archive it instead of deleting "
                "(PATCH archived=true) so that the time stays in reports.",
                code="task_has_entries",
            )
        await self._store.memberships.delete_many({"path_ids": task["_id"]})
        await self._store.tasks.delete_many({"_id": {"$in": subtree_ids}})
        await self._index.changed(caller.account_id, removed=subtree_ids)

    # Roles -------------------------------------------------------------------------------

    async def _assign(self, account_id: str, task: Doc, user_id: str, role: str) -> None:
        await self._store.memberships.update_one(
            {"_id": f"{task['_id']}:{user_id}"},
            {
                "$set": {
                    "account_id": account_id,
                    "task_id": task["_id"],
                    "user_id": user_id,
                    "role": role,
                    "path_ids": [*task["ancestors"], task["_id"]],
                    "updated_at": clock.now(),
                }
            },
            upsert=True,
        )

    async def _managed(
        self, caller: Caller, task_id: str, what: str = "edit its members"
    ) -> tuple[Doc, Assignments]:
        task, assignments = await self.visible_task(caller, task_id)
        if not assignments.can_manage(task):
            raise ForbiddenError(f"Only administrators and managers of this task {what}.")
        return task, assignments

    async def members(self, caller: Caller, task_id: str) -> list[dict[str, Any]]:
        task, assignments = await self.visible_task(caller, task_id)
        if not assignments.can_manage(task):
            raise ForbiddenError("Only administrators and managers of this task see its members.")
        chain = [task["_id"], *reversed(task["ancestors"])]
        docs = await self._store.memberships.find(
            {"account_id": caller.account_id, "task_id": {"$in": chain}}
        )
        nearest: dict[str, Doc] = {}
        for doc in sorted(docs, key=lambda d: chain.index(d["task_id"])):
            nearest.setdefault(doc["user_id"], doc)
        users = await self._accounts.users_by_id(caller.account_id, sorted(nearest))
        items = []
        for user_id, doc in nearest.items():
            user = users.get(user_id)
            if user is None or not user["active"]:
                continue
            items.append(
                {
                    "user": {"id": user["_id"], "email": user["email"], "name": user["name"]},
                    "role": doc["role"],
                    "inherited_from": None if doc["task_id"] == task["_id"] else doc["task_id"],
                }
            )
        items.sort(key=lambda i: i["user"]["email"])
        return items

    async def set_member(self, caller: Caller, task_id: str, user_id: str, role: str) -> None:
        task, _ = await self._managed(caller, task_id)
        user = await self._accounts.get_user(caller, user_id)
        if not user["active"]:
            raise ConflictError("This user is deactivated.", code="user_inactive")
        await self._assign(caller.account_id, task, user_id, role)

    async def remove_member(
        self, caller: Caller, task_id: str, user_id: str, subtree: bool
    ) -> None:
        await self.finish_pending_move(caller.account_id)
        task, _ = await self._managed(caller, task_id)
        await self._accounts.get_user(caller, user_id)
        if subtree:
            await self._store.memberships.delete_many(
                {"account_id": caller.account_id, "user_id": user_id, "path_ids": task["_id"]}
            )
        else:
            await self._store.memberships.delete_one({"_id": f"{task['_id']}:{user_id}"})
