"""What a sync run reads of each object, as GET subrequests, and how they are packed into
Composite calls.

An object's records are read with `queryAll` (which also returns deleted rows) in one query, or
in several when the selection names items: "only selected items" reads `WHERE Id IN (…)` and
activities on them `WHERE WhatId IN (…)`, in chunks that keep each query's URL, as it would be
sent alone, within Salesforce's 16,384-byte limit for a URI and its headers. Activities are read
only on the types imported (`What.Type IN (…)`), never on accounts or anything else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .client import COMPOSITE_MAX_QUERIES, COMPOSITE_MAX_SUBREQUESTS
from .objects import RECORDS, SyncedObject
from .selection import selected_ids

# A URI and its headers may take 16,384 bytes: a query's URL keeps 2 KB of that for the headers.
MAX_URL_BYTES = 16_384 - 2_048


def soql_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replication_time(value: dt.datetime) -> str:
    """A `…/deleted` bound as Salesforce documents it, with an offset (a `Z` suffix is not
    shown to be accepted), URL-encoded (a raw `+` would arrive as a space)."""
    return quote(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"), safe="")


def parse_soql_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


@dataclass(frozen=True)
class Read:
    """One GET subrequest of a run: a first page of an object's records or of its live ids
    (queries), or its deletions window."""

    obj: SyncedObject
    kind: str  # "records", "ids" or "deleted"
    url: str

    @property
    def is_query(self) -> bool:
        return self.kind != "deleted"


def _fits(reads: Sequence[Read]) -> bool:
    queries = sum(r.is_query for r in reads)
    return len(reads) <= COMPOSITE_MAX_SUBREQUESTS and queries <= COMPOSITE_MAX_QUERIES


def pack(units: Sequence[Sequence[Read]]) -> list[list[Read]]:
    """Reads into Composite calls, in order, each within Salesforce's limits (25 subrequests,
    5 of them queries). The reads of one unit (an object's) stay in one call when they fit in
    one; more than a call takes (many chunks) fill as many calls as they need."""
    calls: list[list[Read]] = []
    current: list[Read] = []
    for unit in units:
        if current and not _fits([*current, *unit]):
            calls.append(current)
            current = []
        for read in unit:
            if current and not _fits([*current, read]):
                calls.append(current)
                current = []
            current.append(read)
    if current:
        calls.append(current)
    return calls


def query_url(api_version: str, soql: str) -> str:
    """A `queryAll` as a Composite subrequest names it (`vNN.N/…`)."""
    return f"v{api_version}/queryAll?q={quote(soql)}"


def sent_alone_bytes(url: str) -> int:
    """The length of a subrequest's URL were it sent as a request of its own."""
    return len(f"/services/data/{url}".encode())


def _quoted(values: Iterable[str]) -> list[str]:
    return [f"'{v}'" for v in values]


def _in_chunks(
    field: str,
    ids: Sequence[str],
    soqls: Sequence[Callable[[str], str]],
    api_version: str,
    first: str = "",
) -> list[str]:
    """`field IN (…)` conditions over the ids, each as long as every query built with it by
    `soqls` stays within MAX_URL_BYTES; `first`, when given, is or-ed into the first one."""
    if not ids:
        return []
    # Percent-encoding works character by character: a URL's length is its parts' lengths.
    lead = f"{first} OR " if first else ""
    empty = f"{lead}{field} IN ()"
    base = max(sent_alone_bytes(query_url(api_version, soql(empty))) for soql in soqls)
    separator = len(quote(", "))
    chunks: list[list[str]] = []
    current: list[str] = []
    length = base
    for value in _quoted(ids):
        cost = len(quote(value)) + (separator if current else 0)
        if current and length + cost > MAX_URL_BYTES:
            chunks.append(current)
            current, length = [], base
            cost = len(quote(value))
        current.append(value)
        length += cost
    chunks.append(current)
    result = [f"{field} IN ({', '.join(chunk)})" for chunk in chunks]
    result[0] = lead + result[0]
    return result


@dataclass(frozen=True)
class Plan:
    """What one run reads of one object: its records, under each of `conditions` (none: the
    object has nothing to read; one empty condition: everything), since `cursor` unless full."""

    obj: SyncedObject
    conditions: tuple[str, ...]
    full: bool
    cursor: dt.datetime | None
    deleted_cursor: dt.datetime | None
    deleted_window: tuple[dt.datetime, dt.datetime] | None
    api_version: str

    def soql(self, condition: str, since: dt.datetime | None) -> str:
        # Names from the registry, quoted ids checked as Salesforce ids, a formatted datetime:
        # nothing from outside goes in.
        where = [f"({condition})"] if condition else []
        if since is not None:
            where.append(f"SystemModstamp >= {soql_time(since)}")
        soql = f"SELECT {', '.join(self.obj.fields)} FROM {self.obj.sobject}"  # noqa: S608
        if where:
            soql += f" WHERE {' AND '.join(where)}"
        return soql + " ORDER BY SystemModstamp ASC"

    def ids_soql(self, condition: str) -> str:
        """Every live id (archived activities too, hence `queryAll`)."""
        where = " AND ".join(["IsDeleted = false", *([f"({condition})"] if condition else [])])
        return f"SELECT Id FROM {self.obj.sobject} WHERE {where}"  # noqa: S608

    def reads(self) -> list[Read]:
        """The first page under each condition, then the deletions if due."""
        since = None if self.full else self.cursor
        reads = [
            Read(self.obj, "records", query_url(self.api_version, self.soql(c, since)))
            for c in self.conditions
        ]
        if self.deleted_window is not None:
            start, end = self.deleted_window
            reads.append(
                Read(
                    self.obj,
                    "deleted",
                    f"v{self.api_version}/sobjects/{self.obj.sobject}/deleted/"
                    f"?start={replication_time(start)}&end={replication_time(end)}",
                )
            )
        return reads

    def ids_reads(self) -> list[Read]:
        return [
            Read(self.obj, "ids", query_url(self.api_version, self.ids_soql(c)))
            for c in self.conditions
        ]


def conditions(obj: SyncedObject, selection: dict[str, Any], api_version: str) -> tuple[str, ...]:
    """The conditions an object's records are read under, as the selection has it."""
    stamp = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # every stamp is as long

    def shaped(condition: str) -> Plan:
        return Plan(obj, (condition,), False, stamp, None, None, api_version)

    soqls = (lambda c: shaped(c).soql(c, stamp), lambda c: shaped(c).ids_soql(c))
    if obj.parent_field is None:
        ids = selected_ids(selection, obj.sobject)
        if ids is None:
            return ("",)
        return tuple(_in_chunks("Id", sorted(ids), soqls, api_version))
    # Activities: on the types imported whole, and on the items checked of the others.
    types: list[str] = []
    checked: set[str] = set()
    for parent in RECORDS:
        entry = selection["objects"][parent.sobject]
        if not entry["enabled"]:
            continue
        ids = selected_ids(selection, parent.sobject)
        if ids is None:
            types.append(parent.sobject)
        else:
            checked |= ids
    on_types = f"What.Type IN ({', '.join(_quoted(types))})" if types else ""
    if not checked:
        return (on_types,) if on_types else ()
    # One query for both while it fits: a quiet sync stays one call.
    return tuple(_in_chunks("WhatId", sorted(checked), soqls, api_version, first=on_types))


__all__ = ["MAX_URL_BYTES", "Plan", "Read", "conditions", "pack", "parse_soql_time", "soql_time"]
