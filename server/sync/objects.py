"""What is imported from Salesforce, declared once: which objects, which fields, where they go in
the tree and when they are archived (PRODUCT.md, "The Salesforce integration")."""

from __future__ import annotations

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
    archived: Callable[[Record], bool]
    parent_field: str | None = None


def _case_name(record: Record) -> str:
    subject = (record.get("Subject") or "").strip()
    return f"{record['CaseNumber']}: {subject}" if subject else str(record["CaseNumber"])


OPPORTUNITY = SyncedObject(
    sobject="Opportunity",
    folder="Opportunities",
    fields=("Id", "Name", "StageName", "IsDeleted", "SystemModstamp"),
    name=lambda r: (r.get("Name") or "").strip() or str(r["Id"]),
    archived=lambda r: bool(r["IsDeleted"]) or r.get("StageName") in ARCHIVING_STAGES,
)
CASE = SyncedObject(
    sobject="Case",
    folder="Cases",
    fields=("Id", "CaseNumber", "Subject", "IsClosed", "IsDeleted", "SystemModstamp"),
    name=_case_name,
    archived=lambda r: bool(r["IsDeleted"]) or bool(r.get("IsClosed")),
)
ACTIVITY = SyncedObject(
    sobject="Task",
    folder=None,
    fields=("Id", "Subject", "IsClosed", "WhatId", "IsDeleted", "SystemModstamp"),
    name=lambda r: (r.get("Subject") or "").strip() or "(no subject)",
    archived=lambda r: bool(r["IsDeleted"]) or bool(r.get("IsClosed")),
    parent_field="WhatId",
)

# Parents before the activities that hang below them.
RECORDS = (OPPORTUNITY, CASE)
ALL = (*RECORDS, ACTIVITY)
