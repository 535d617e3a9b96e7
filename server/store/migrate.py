"""Moving a store written by earlier versions (on litemongo) into the embedded store, once.

Those versions kept each collection in its own SQLite file, `store/timetrail/<collection>` in
the data directory, a table `documents(_id, doc)` of BSON documents (datetimes naive UTC). The
migration reads them with SQLite and `bson` alone, writes every document into a new database
beside the final one, and only once that is complete renames it into place; the old folder is
then renamed `store.litemongo` and kept. Stopped half-way, nothing changed: the next start-up
migrates again from the start.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bson

from . import collections as names
from .errors import StoreError
from .sqlite import CODEC

log = logging.getLogger(__name__)

OLD_FOLDER = "store"
KEPT_FOLDER = "store.litemongo"
_BATCH = 2000


def _old_files(data_dir: Path) -> dict[str, Path]:
    folder = data_dir / OLD_FOLDER / "timetrail"
    return {name: folder / name for name in names.ALL if (folder / name).is_file()}


def needed(data_dir: Path, file_name: str) -> bool:
    return not (data_dir / file_name).exists() and bool(_old_files(data_dir))


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


async def from_litemongo(
    data_dir: Path, file_name: str, open_store: Callable[[Path], Awaitable[Any]]
) -> None:
    old = _old_files(data_dir)
    target = data_dir / file_name
    partial = data_dir / f"{file_name}.migrating"
    _remove(partial)  # what an interrupted migration left
    log.warning(
        "Migrating the store an earlier version wrote in %s into %s (once; the old files are "
        "kept until it is done)...",
        data_dir / OLD_FOLDER,
        target,
    )
    store = await open_store(partial)
    moved = 0
    try:
        for name, path in old.items():
            collection = store.collection(name)
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as source:
                rows = source.execute("SELECT doc FROM documents ORDER BY rowid")
                while batch := rows.fetchmany(_BATCH):
                    await collection.insert_many([bson.decode(doc, CODEC) for (doc,) in batch])
                    moved += len(batch)
    except (sqlite3.Error, bson.errors.BSONError) as exc:
        raise StoreError(f"The store in {data_dir / OLD_FOLDER} cannot be migrated: {exc}") from exc
    finally:
        await store.close()
    os.replace(partial, target)
    os.replace(data_dir / OLD_FOLDER, data_dir / KEPT_FOLDER)
    log.warning(
        "Migrated %d documents into %s. The old files are kept in %s: remove that folder once "
        "this version serves your data well.",
        moved,
        target,
        data_dir / KEPT_FOLDER,
    )
