"""The sObject types the emulator knows: their fields, field types and relationships, and the
picklist values whose choice decides IsClosed / IsWon."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any


class FieldType(Enum):
    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    PICKLIST = "picklist"
    TEXTAREA = "textarea"
    BOOLEAN = "boolean"
    INT = "int"
    DOUBLE = "double"
    DATE = "date"
    DATETIME = "datetime"


STRING_TYPES = frozenset({FieldType.STRING, FieldType.PICKLIST, FieldType.TEXTAREA})
ID_TYPES = frozenset({FieldType.ID, FieldType.REFERENCE})


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    # For references: the types it may point to and the relationship's name (AccountId → Account).
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1


@dataclass(frozen=True)
class SObjectType:
    name: str
    name_field: str
    fields: tuple[Field, ...]
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name.lower(): f for f in self.fields})
        relationships = {f.relationship_name.lower(): f for f in self.fields if f.relationship_name}
        object.__setattr__(self, "_by_relationship", relationships)

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        return self._by_relationship.get(name.lower())


def _f(name: str, type_: FieldType = FieldType.STRING) -> Field:
    return Field(name, type_)


def _ref(name: str, relationship: str, *to: str) -> Field:
    return Field(name, FieldType.REFERENCE, to, relationship)


_AUDIT = (
    _f("Id", FieldType.ID),
    _f("IsDeleted", FieldType.BOOLEAN),
    _f("CreatedDate", FieldType.DATETIME),
    _ref("CreatedById", "CreatedBy", "User"),
    _f("LastModifiedDate", FieldType.DATETIME),
    _ref("LastModifiedById", "LastModifiedBy", "User"),
    _f("SystemModstamp", FieldType.DATETIME),
)
_OWNED = (*_AUDIT, _ref("OwnerId", "Owner", "User"))

USER = SObjectType(
    "User",
    "Name",
    (
        *_AUDIT,
        _f("Username"),
        _f("Email"),
        _f("FirstName"),
        _f("LastName"),
        _f("Name"),
        _f("IsActive", FieldType.BOOLEAN),
    ),
)
ACCOUNT = SObjectType(
    "Account",
    "Name",
    (
        *_OWNED,
        _f("Name"),
        _f("Type", FieldType.PICKLIST),
        _f("Industry", FieldType.PICKLIST),
        _f("BillingCity"),
        _f("BillingCountry"),
        _f("Phone"),
        _f("Website"),
    ),
)
OPPORTUNITY = SObjectType(
    "Opportunity",
    "Name",
    (
        *_OWNED,
        _f("Name"),
        _ref("AccountId", "Account", "Account"),
        _f("StageName", FieldType.PICKLIST),
        _f("Amount", FieldType.DOUBLE),
        _f("Probability", FieldType.DOUBLE),
        _f("CloseDate", FieldType.DATE),
        _f("IsClosed", FieldType.BOOLEAN),
        _f("IsWon", FieldType.BOOLEAN),
        _f("ForecastCategoryName", FieldType.PICKLIST),
        _f("Type", FieldType.PICKLIST),
        _f("LeadSource", FieldType.PICKLIST),
        _f("Description", FieldType.TEXTAREA),
    ),
)
CASE = SObjectType(
    "Case",
    "CaseNumber",
    (
        *_OWNED,
        _f("CaseNumber"),
        _f("Subject"),
        _f("Status", FieldType.PICKLIST),
        _f("Priority", FieldType.PICKLIST),
        _f("Origin", FieldType.PICKLIST),
        _f("IsClosed", FieldType.BOOLEAN),
        _f("IsEscalated", FieldType.BOOLEAN),
        _f("ClosedDate", FieldType.DATETIME),
        _ref("AccountId", "Account", "Account"),
        _f("Description", FieldType.TEXTAREA),
    ),
)
TASK = SObjectType(
    "Task",
    "Subject",
    (
        *_OWNED,
        _f("Subject"),
        _f("Status", FieldType.PICKLIST),
        _f("Priority", FieldType.PICKLIST),
        _f("IsClosed", FieldType.BOOLEAN),
        _ref("WhatId", "What", "Account", "Opportunity", "Case"),
        _f("ActivityDate", FieldType.DATE),
        _f("CompletedDateTime", FieldType.DATETIME),
        _f("TaskSubtype", FieldType.PICKLIST),
        _f("Description", FieldType.TEXTAREA),
    ),
)

# A meeting: no Status and no IsClosed. It is over once EndDateTime has passed, which changes no
# field. ActivityDateTime and ActivityDate follow StartDateTime; EndDateTime and
# DurationInMinutes follow each other.
EVENT = SObjectType(
    "Event",
    "Subject",
    (
        *_OWNED,
        _f("Subject"),
        _ref("WhatId", "What", "Account", "Opportunity", "Case"),
        _ref("WhoId", "Who", "Contact", "Lead"),
        _f("StartDateTime", FieldType.DATETIME),
        _f("EndDateTime", FieldType.DATETIME),
        _f("ActivityDateTime", FieldType.DATETIME),
        _f("ActivityDate", FieldType.DATE),
        _f("DurationInMinutes", FieldType.INT),
        _f("IsAllDayEvent", FieldType.BOOLEAN),
        _f("IsArchived", FieldType.BOOLEAN),
        _f("Location"),
        _f("Description", FieldType.TEXTAREA),
    ),
)

SCHEMA: dict[str, SObjectType] = {
    t.name.lower(): t for t in (USER, ACCOUNT, OPPORTUNITY, CASE, TASK, EVENT)
}


def sobject_type(name: str) -> SObjectType | None:
    return SCHEMA.get(name.lower())


@dataclass(frozen=True)
class Stage:
    name: str
    closed: bool
    won: bool
    probability: float
    forecast_category: str


# The standard sales process, plus custom closed stages an admin might add (closed, not won).
OPPORTUNITY_STAGES: tuple[Stage, ...] = (
    Stage("Prospecting", False, False, 10, "Pipeline"),
    Stage("Qualification", False, False, 10, "Pipeline"),
    Stage("Needs Analysis", False, False, 20, "Pipeline"),
    Stage("Value Proposition", False, False, 50, "Pipeline"),
    Stage("Id. Decision Makers", False, False, 60, "Pipeline"),
    Stage("Perception Analysis", False, False, 70, "Pipeline"),
    Stage("Proposal/Price Quote", False, False, 75, "Pipeline"),
    Stage("Negotiation/Review", False, False, 90, "Commit"),
    Stage("Closed Won", True, True, 100, "Closed"),
    Stage("Closed Lost", True, False, 0, "Omitted"),
    Stage("Closed - Duplicate", True, False, 0, "Omitted"),
    Stage("Closed - No Decision", True, False, 0, "Omitted"),
)
STAGES_BY_NAME = {s.name: s for s in OPPORTUNITY_STAGES}
OPEN_STAGES = tuple(s.name for s in OPPORTUNITY_STAGES if not s.closed)

# Status picklists: value → IsClosed.
CASE_STATUSES = {"New": False, "Working": False, "Escalated": False, "Closed": True}
TASK_STATUSES = {
    "Not Started": False,
    "In Progress": False,
    "Waiting on someone else": False,
    "Deferred": False,
    "Completed": True,
}


def coerce(field_: Field, value: Any) -> Any:
    """A JSON value for a field as the record stores it (datetimes aware, dates as dates)."""
    if value is None:
        return None
    kind = field_.type
    if kind is FieldType.DATETIME:
        if isinstance(value, datetime):
            return value
        return parse_datetime(str(value))
    if kind is FieldType.DATE:
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value))
    if kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"{field_.name} takes true or false")
        return value
    if kind is FieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{field_.name} takes a whole number")
        return value
    if kind is FieldType.DOUBLE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{field_.name} takes a number")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{field_.name} takes a string")
    return value


def parse_datetime(text: str) -> datetime:
    """A Salesforce or ISO 8601 datetime (``Z``, ``+00:00`` or ``+0000``), which must carry an
    offset."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"datetime without an offset: {text}")
    return moment


def format_datetime(moment: datetime) -> str:
    """Salesforce's JSON datetime form: ``2026-01-01T09:30:00.000+0000``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
