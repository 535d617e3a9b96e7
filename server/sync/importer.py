"""Writes imported Salesforce records into an account's tree, page by page.

Every node is matched by its Salesforce id (`source_key`) forever: re-syncs, re-enabling and
selection changes update, archive or restore nodes, never duplicate them. The `Salesforce`
project and its `Opportunities` / `Cases` folders are matched by structural keys the same way.
Archiving never touches time entries.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from ..store import Doc, Store, find_in, in_chunks
from ..text import counted
from ..tree import REGULAR, Source, Tree, source_key
from .objects import EVENT, RECORDS, SyncedObject, parse_time

log = logging.getLogger(__name__)

SYSTEM = "salesforce"
PROJECT_NAME = "Salesforce"
PROJECT_KEY = "salesforce:structure:project"


def folder_key(sobject: str) -> str:
    return f"salesforce:structure:{sobject}"


def record_key(record_id: str) -> str:
    return f"{SYSTEM}:{record_id}"


# On an event's task: when the meeting ends (it is archived once that has passed).
ENDS_AT = "source_ends_at"


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    archived: int = 0
    restored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "archived": self.archived,
            "restored": self.restored,
        }


@dataclass(frozen=True)
class Imported:
    """One Salesforce record as the tree needs it (a pure mapping of the API's record)."""

    object: str
    id: str
    name: str
    archived: bool
    parent_id: str | None  # the Salesforce id of the record it belongs to (activities)
    url: str
    ends_at: dt.datetime | None = None  # events: when the meeting ends


def map_record(
    obj: SyncedObject, record: Mapping[str, Any], instance_url: str, now: dt.datetime
) -> Imported:
    """A record as the tree needs it, archived or not at Salesforce's time `now`."""
    parent = record.get(obj.parent_field) if obj.parent_field else None
    return Imported(
        object=obj.sobject,
        id=str(record["Id"]),
        name=obj.name(record)[:300],
        archived=obj.archived(record, now),
        parent_id=str(parent) if parent else None,
        url=f"{instance_url}/{record['Id']}",
        ends_at=parse_time(record.get(obj.ends_field)) if obj.ends_field else None,
    )


@dataclass
class Structure:
    project: Doc
    folders: dict[str, Doc] = field(default_factory=dict)


@dataclass
class PageWrites:
    """What one page changes in records already imported."""

    updates: list[tuple[Doc, dict[str, Any]]] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)  # as they are after the updates
    renamed: list[str] = field(default_factory=list)


class Importer:
    def __init__(self, store: Store, tree: Tree, account_id: str) -> None:
        self._store = store
        self._tree = tree
        self._account_id = account_id
        self.counts = Counts()

    def _key(self, key: str) -> str:
        return source_key(self._account_id, key)

    async def _structural(self, key: str, name: str, parent: Doc | None) -> tuple[Doc, bool]:
        existing = await self._store.tasks.find_one({"source_key": self._key(key)})
        if existing is not None:
            return existing, False
        doc = self._tree.imported_task_doc(self._account_id, name, parent, None, key)
        await self._store.tasks.update_one(
            {"source_key": self._key(key)}, {"$setOnInsert": doc}, upsert=True
        )
        stored = await self._store.tasks.find_one({"source_key": self._key(key)})
        assert stored is not None
        created = stored["_id"] == doc["_id"]
        if created:
            await self._tree.imports_written(self._account_id, docs=[stored])
        return stored, created

    async def ensure_structure(self) -> Structure:
        project, created = await self._structural(PROJECT_KEY, PROJECT_NAME, None)
        structure = Structure(project)
        for obj in RECORDS:
            assert obj.folder is not None
            folder, _ = await self._structural(folder_key(obj.sobject), obj.folder, project)
            structure.folders[obj.sobject] = folder
        if created:
            await self.assign_everyone(project)
        return structure

    async def assign_everyone(self, project: Doc) -> None:
        """At the first import every active user becomes `regular` on the project."""
        users = await self._store.users.find({"account_id": self._account_id, "active": True})
        for user in users:
            await self._tree.assign(self._account_id, project, user["_id"], REGULAR)

    async def apply(
        self,
        items: Sequence[Imported],
        parents: Mapping[str, Doc],
        selected: set[str] | None = None,
    ) -> set[str]:
        """Write one page of records. `parents` maps a record's parent Salesforce id (or, for
        top-level records, its object name) to the task it goes below; with `selected`, only
        those record ids are imported (others already imported are archived). Returns the keys
        seen and selected."""
        if selected is not None:
            unselected = [i for i in items if i.id not in selected]
            await self.archive_ids([i.id for i in unselected])
            items = [i for i in items if i.id in selected]
        keys = [self._key(record_key(i.id)) for i in items]
        existing = {d["source_key"]: d for d in await self._by_keys(keys)}
        inserts: list[Doc] = []
        page = PageWrites()
        for item in items:
            parent = parents.get(item.parent_id or item.object)
            doc = existing.get(self._key(record_key(item.id)))
            if doc is None:
                if parent is None:
                    continue  # an activity on a record that is not imported
                source = Source(SYSTEM, item.object, item.id, item.url)
                new = self._tree.imported_task_doc(self._account_id, item.name, parent, source)
                new["archived"] = item.archived
                if item.ends_at is not None:
                    new[ENDS_AT] = item.ends_at
                inserts.append(new)
                self.counts.created += 1
                if item.archived:
                    self.counts.archived += 1
                continue
            await self._update(doc, item, parent, page)
        if page.updates:
            await self._store.tasks.update_each(page.updates)
        if inserts:
            await self._store.tasks.insert_many(inserts)
        if inserts or page.docs:
            await self._tree.imports_written(
                self._account_id, docs=[*inserts, *page.docs], renamed=page.renamed
            )
        return set(keys)

    async def _update(
        self,
        doc: Doc,
        item: Imported,
        parent: Doc | None,
        page: PageWrites,
    ) -> None:
        """Work out what changed in a record already imported: its update joins the page's
        (written together); roles and descendants' paths follow at once."""
        changes: dict[str, Any] = {}
        # An activity whose record is no longer imported is archived where it is.
        archived = item.archived or parent is None
        if doc["archived"] != archived:
            changes["archived"] = archived
            if archived:
                self.counts.archived += 1
            else:
                self.counts.restored += 1
        if item.ends_at is not None and _aware(doc.get(ENDS_AT)) != item.ends_at:
            changes[ENDS_AT] = item.ends_at
        moved = parent is not None and doc["parent_id"] != parent["_id"]
        renamed = doc["name"] != item.name
        if renamed:
            changes.update(name=item.name, sort_name=item.name.casefold())
        if moved:
            assert parent is not None
            changes.update(
                parent_id=parent["_id"],
                ancestors=[*parent["ancestors"], parent["_id"]],
                path=[*parent["path"], parent["name"]],
            )
        if not changes:
            return
        if renamed or moved:
            self.counts.updated += 1
        changes["updated_at"] = clock.now()
        page.updates.append(({"_id": doc["_id"]}, {"$set": changes}))
        page.docs.append({**doc, **changes})
        ancestors: list[str] = changes["ancestors"] if moved else doc["ancestors"]
        if moved:
            await self._tree.memberships_moved(doc["_id"], ancestors)
        if renamed:
            # Below a renamed record (its activities) the path shows the new name.
            await self._tree.rename_in_paths(doc["_id"], len(ancestors), item.name)
            page.renamed.append(doc["_id"])

    def keys_of(self, record_ids: Iterable[str]) -> set[str]:
        """The keys `apply` reports as seen, for record ids read some other way."""
        return {self._key(record_key(i)) for i in record_ids}

    async def archive_missing(self, sobject: str, seen: set[str]) -> None:
        """After a full read of an object: its imported tasks Salesforce no longer returns
        (purged, or outside the selection) are archived."""
        docs = await self._store.tasks.find(
            {"account_id": self._account_id, "source.object": sobject, "archived": False},
            projection={"_id": 1, "source_key": 1},
        )
        gone = [d["_id"] for d in docs if d["source_key"] not in seen]
        if gone:
            await self._archive(gone)

    async def archive_ended(self, now: dt.datetime) -> None:
        """Meetings over by Salesforce's time `now`: their end passed, which changed no field
        (so no read brings them), since they were written."""
        docs = await self._store.tasks.find(
            {
                "account_id": self._account_id,
                "source.object": EVENT.sobject,
                "archived": False,
                ENDS_AT: {"$lte": now},
            },
            projection={"_id": 1},
        )
        if docs:
            await self._archive([d["_id"] for d in docs])

    async def archive_ids(self, record_ids: Sequence[str]) -> None:
        """Records Salesforce reports deleted (purged ones included)."""
        if not record_ids:
            return
        keys = [self._key(record_key(i)) for i in record_ids]
        docs = [d for d in await self._by_keys(keys) if not d["archived"]]
        if docs:
            await self._archive([d["_id"] for d in docs])

    async def _archive(self, task_ids: Sequence[str]) -> None:
        archived = {"$set": {"archived": True, "updated_at": clock.now()}}
        for chunk in in_chunks(task_ids):
            await self._store.tasks.update_many({"_id": {"$in": chunk}}, archived)
        await self._tree.imports_written(self._account_id, ids=task_ids)
        self.counts.archived += len(task_ids)

    async def parents_for_activities(self, what_ids: set[str]) -> dict[str, Doc]:
        if not what_ids:
            return {}
        docs = await self._by_keys([self._key(record_key(i)) for i in sorted(what_ids)])
        return {d["source"]["id"]: d for d in docs}

    async def _by_keys(self, keys: Sequence[str]) -> list[Doc]:
        return await find_in(self._store.tasks, "source_key", keys)


async def archive_imported_records(store: Store, tree: Tree, account_id: str) -> int:
    """The account was connected to another Salesforce org (or user): every record imported so
    far is archived (the `Salesforce` project and its folders stay; time entries are kept).
    Records the new connection sees again are restored by its first sync."""
    docs = await store.tasks.find(
        {"account_id": account_id, "source.system": SYSTEM, "archived": False},
        projection={"_id": 1},
    )
    importer = Importer(store, tree, account_id)
    if docs:
        await importer._archive([d["_id"] for d in docs])
    log.info("Archived %s imported from the previous Salesforce org", counted(len(docs), "record"))
    return len(docs)


def _aware(value: Any) -> Any:
    """A stored datetime in UTC (some stores give naive UTC back)."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
