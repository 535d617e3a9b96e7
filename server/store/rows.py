"""Writing one document into litemongo's `CollectionStore` without committing.

`CollectionStore.__setitem__` / `__delitem__` (litemongo 0.2.0, pinned) write the row of its
`TableDict` — one `(_id, doc)` SQLite table — committing at once, then update the engine's
in-memory hash indexes. These do the same two things, in the same order and with the same SQL and
encodings, but leave the row in the connection's open transaction for the `CommitGroup` to
commit. (The store's reader/writer lock is for threads; the embedded store has one.)
"""

from __future__ import annotations

from typing import Any

from .commits import CommitGroup


def put(store: Any, key: str, doc: dict[str, Any], commits: CommitGroup) -> None:
    documents = store._documents
    connection = documents._connection
    commits.before_write(connection)
    documents._cur.execute(
        f"INSERT INTO {documents._table_name} VALUES(?, ?) "
        f"ON CONFLICT({documents.ID}) DO UPDATE SET {documents.DOC}=excluded.{documents.DOC}",
        (documents.encode_key(key), documents._encode_doc(doc)),
    )
    commits.wrote(connection)
    if store._query_index is not None:
        store._query_index.add(store._index_key(key), doc)


def delete(store: Any, key: str, commits: CommitGroup) -> None:
    documents = store._documents
    connection = documents._connection
    commits.before_write(connection)
    documents._cur.execute(
        f"DELETE FROM {documents._table_name} WHERE {documents.ID}=?",  # noqa: S608
        (documents.encode_key(key),),
    )
    commits.wrote(connection)
    if store._query_index is not None:
        store._query_index.remove(store._index_key(key))


__all__ = ["delete", "put"]
