"""Writing one document into litemongo's `CollectionStore` without committing, and remembering
the documents last written or read by key.

`CollectionStore.__setitem__` / `__delitem__` (litemongo 0.2.0, pinned) write the row of its
`TableDict` — one `(_id, doc)` SQLite table — committing at once, then update the engine's
in-memory hash indexes. These do the same two things, in the same order and with the same SQL and
encodings, but leave the row in the connection's open transaction for the `CommitGroup` to
commit. (The store's reader/writer lock is for threads; the embedded store has one.)
"""

from __future__ import annotations

import importlib
from typing import Any

from .commits import CommitGroup
from .memory import LRU

# (imported by name: mypy would otherwise read the engine's vendored, partly typed sources)
_doc_keys = importlib.import_module("litemongo._vendor.mongomock.indexing")._doc_keys
_UNSEEN = object()

Doc = dict[str, Any]


# The documents last written or read by key through the fast path, as stored (naive datetimes),
# by the engine's encoded key: what reading the row would decode, without the SELECT. Exact as
# long as every write of the collection goes through its `EmbeddedCollection` (one process,
# under the store's lock), which forgets them all before the engine's own writes. Nothing
# changes a document in place: updates build new ones, callers get copies.
Recent = LRU[str, Doc]
RECENT = 1024


def _reindex(index: Any, encoded: str, new: Doc) -> None:
    """`CollectionIndexes.add` for a document replacing another under the same key: the same
    end state, but only the hash indexes whose keys changed are touched (a timer's stop changes
    two fields of an entry; the engine would redo every indexed path)."""
    for field_index in index._fields.values():
        keys = _doc_keys(new, field_index.path)
        if keys != field_index._doc_keys.get(encoded, _UNSEEN):
            field_index.remove(encoded)
            field_index.add(encoded, new)


def put(store: Any, key: str, doc: Doc, commits: CommitGroup, recent: Recent) -> None:
    documents = store._documents
    connection = documents._connection
    encoded = documents.encode_key(key)
    commits.before_write(connection)
    documents._cur.execute(
        # (table and column names are litemongo's own)
        f"INSERT INTO {documents._table_name} VALUES(?, ?) "
        f"ON CONFLICT({documents.ID}) DO UPDATE SET {documents.DOC}=excluded.{documents.DOC}",
        (encoded, documents._encode_doc(doc)),
    )
    commits.wrote(connection)
    index = store._query_index
    if index is not None:
        if encoded in index._docs:
            _reindex(index, encoded, doc)
        else:
            index.add(encoded, doc)
    recent.put(encoded, doc)


def delete(store: Any, key: str, commits: CommitGroup, recent: Recent) -> None:
    documents = store._documents
    connection = documents._connection
    encoded = documents.encode_key(key)
    commits.before_write(connection)
    recent.drop(encoded)
    documents._cur.execute(
        f"DELETE FROM {documents._table_name} WHERE {documents.ID}=?",  # noqa: S608
        (encoded,),
    )
    commits.wrote(connection)
    if store._query_index is not None:
        store._query_index.remove(encoded)


__all__ = ["RECENT", "Recent", "delete", "put"]
