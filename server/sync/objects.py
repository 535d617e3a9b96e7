"""What is imported from Salesforce, declared once: which objects, which fields, where they go in
the tree and when they are archived (PRODUCT.md, "The Salesforce integration")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Record = Mapping[str, Any]

# Only these Opportunity stages archive; other closed stages (custom ones) stay active.
ARCHIVING_STAGES = frozenset({"Closed Won", "Closed Lost"})


@dataclass(frozen=True)
class SyncedObject:
    sobject: str
    # The task under the Salesforce project that holds these records; None for activities,
    # which become subtasks of the record they belong to.
    folder: str | None
    fields: tuple[str, ...]
    name: Callable[[Record], str]
    # Whether a record is archived, at Salesforce's time `now` (a meeting is over once its end
    # has passed, which changes no field).
    archived: Callable[[Record, dt.datetime], bool]
    parent_field: str | None = None
    # The field whose time, once passed, archives the record (kept on its task).
    ends_field: str | None = None


def _case_name(record: Record) -> str:
    subject = (record.get("Subject") or "").strip()
    return f"{record['CaseNumber']}: {subject}" if subject else str(record["CaseNumber"])


def _subject(record: Record) -> str:
    return (record.get("Subject") or "").strip() or "(no subject)"


def parse_time(value: Any) -> dt.datetime | None:
    """A DateTime as Salesforce writes it (`2026-03-01T14:05:09.000+0000`), or None."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 → +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def event_over(record: Record, now: dt.datetime) -> bool:
    end = parse_time(record.get("EndDateTime"))
    return end is not None and end <= now


OPPORTUNITY = SyncedObject(
    sobject="Opportunity",
    folder="Opportunities",
    fields=("Id", "Name", "StageName", "IsDeleted", "SystemModstamp"),
    name=lambda r: (r.get("Name") or "").strip() or str(r["Id"]),
    archived=lambda r, _: bool(r["IsDeleted"]) or r.get("StageName") in ARCHIVING_STAGES,
)
CASE = SyncedObject(
    sobject="Case",
    folder="Cases",
    fields=("Id", "CaseNumber", "Subject", "IsClosed", "IsDeleted", "SystemModstamp"),
    name=_case_name,
    archived=lambda r, _: bool(r["IsDeleted"]) or bool(r.get("IsClosed")),
)
TASK = SyncedObject(
    sobject="Task",
    folder=None,
    fields=("Id", "Subject", "IsClosed", "WhatId", "IsDeleted", "SystemModstamp"),
    name=_subject,
    archived=lambda r, _: bool(r["IsDeleted"]) or bool(r.get("IsClosed")),
    parent_field="WhatId",
)
# Meetings: no Status, no IsClosed; over (archived) once EndDateTime has passed.
EVENT = SyncedObject(
    sobject="Event",
    folder=None,
    fields=("Id", "Subject", "EndDateTime", "WhatId", "IsDeleted", "SystemModstamp"),
    name=_subject,
    archived=lambda r, now: bool(r["IsDeleted"]) or event_over(r, now),
    parent_field="WhatId",
    ends_field="EndDateTime",
)

# Parents before the activities that hang below them.
RECORDS = (OPPORTUNITY, CASE)
ACTIVITIES = (TASK, EVENT)
ALL = (*RECORDS, *ACTIVITIES)
