"""One Salesforce org in memory: users and records, and the changes Salesforce users make to them
(edit, close, reopen, delete to the recycle bin, undelete, purge), with the audit fields and the
delete log that the replication endpoints read.

Records are plain dicts keyed by canonical field names, with native values (aware datetimes,
dates). A change never edits a record in place: it stores a new dict, so a query cursor that holds
the old dicts keeps reading the snapshot it was opened on.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .access import AccessRules
from .clock import Clock
from .ids import KEY_PREFIXES, IdFactory, to_18
from .schema import (
    CASE_STATUSES,
    OPEN_STAGES,
    SCHEMA,
    STAGES_BY_NAME,
    TASK_STATUSES,
    coerce,
    sobject_type,
)

Record = dict[str, Any]

REPLICATION_UPDATED_DAYS = 30
REPLICATION_DELETED_DAYS = 15
ACTIVITY_TYPES = ("Task", "Event")

_TYPE_BY_PREFIX = {prefix: name for name, prefix in KEY_PREFIXES.items()}
_SYSTEM_FIELDS = frozenset(
    {
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "IsClosed",
        "IsWon",
        "CaseNumber",
        "IsArchived",
    }
)


class RecordError(Exception):
    """A change the org refuses: unknown record (404) or an invalid change (400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Org:
    def __init__(self, ids: IdFactory, clock: Clock, *, name: str = "Emulated Org") -> None:
        self._ids = ids
        self._clock = clock
        self.id = ids.new("Organization")
        self.name = name
        self.created_at = clock.now() - timedelta(days=400)
        self.api_enabled = True
        self.api_disabled_users: set[str] = set()
        self.daily_api_limit = 100_000
        self.api_calls = 0
        self.session_timeout = timedelta(hours=2)
        self.default_user_id = ""
        self.access = AccessRules()
        self._tables: dict[str, dict[str, Record]] = {t.name: {} for t in SCHEMA.values()}
        self._delete_log: dict[str, dict[str, datetime]] = {t.name: {} for t in SCHEMA.values()}
        # The delete log knows nothing before this (purged with the recycle bin).
        self.delete_log_since = self.created_at
        self._cascaded: dict[str, list[str]] = {}
        self._case_numbers = itertools.count(1001)

    # --- reading -------------------------------------------------------------------------

    def rows(self, type_name: str) -> Iterable[Record]:
        """Every stored record of a type, soft-deleted ones included, oldest first."""
        return self._tables[type_name].values()

    def count(self, type_name: str, *, include_deleted: bool = False) -> int:
        table = self._tables[type_name]
        if include_deleted:
            return len(table)
        return sum(1 for r in table.values() if not r["IsDeleted"])

    def get(self, record_id: str) -> Record | None:
        """The stored record (soft-deleted too), by a 15- or 18-character id."""
        full = to_18(record_id)
        if full is None:
            return None
        type_name = _TYPE_BY_PREFIX.get(full[:3])
        if type_name is None or type_name not in self._tables:
            return None
        return self._tables[type_name].get(full)

    def require(self, record_id: str) -> Record:
        record = self.get(record_id)
        if record is None:
            raise RecordError(f"no record {record_id}", 404)
        return record

    def type_of(self, record: Record) -> str:
        return _TYPE_BY_PREFIX[record["Id"][:3]]

    def users(self) -> list[Record]:
        return list(self._tables["User"].values())

    def user_by_username(self, username: str) -> Record | None:
        wanted = username.lower()
        for user in self._tables["User"].values():
            if user["Username"].lower() == wanted:
                return user
        return None

    def user_api_enabled(self, user_id: str) -> bool:
        return user_id not in self.api_disabled_users

    # --- creating ------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        first_name: str,
        last_name: str,
        *,
        email: str | None = None,
        api_enabled: bool = True,
    ) -> Record:
        user = self.load(
            "User",
            {
                "Username": username,
                "Email": email or username,
                "FirstName": first_name,
                "LastName": last_name,
                "Name": f"{first_name} {last_name}",
                "IsActive": True,
            },
            at=self.created_at,
        )
        if not self.default_user_id:
            self.default_user_id = user["Id"]
        if not api_enabled:
            self.api_disabled_users.add(user["Id"])
        return user

    def insert(
        self, type_name: str, values: Mapping[str, Any], *, at: datetime | None = None
    ) -> Record:
        """A new record from JSON-ish values (field names in any case), validated."""
        sobject = sobject_type(type_name)
        if sobject is None or sobject.name == "User":
            raise RecordError(f"cannot create records of type {type_name}")
        fields = self._coerce(sobject.name, values, creating=True)
        return self.load(sobject.name, fields, at=at)

    def load(
        self, type_name: str, fields: Mapping[str, Any], *, at: datetime | None = None
    ) -> Record:
        """A new record from canonical field names and native values (seeding's fast path)."""
        moment = at or self._clock.now()
        owner = fields.get("OwnerId") or self.default_user_id or None
        record: Record = {
            "Id": self._ids.new(type_name),
            "IsDeleted": False,
            "CreatedDate": moment,
            "CreatedById": owner,
            "LastModifiedDate": moment,
            "LastModifiedById": owner,
            "SystemModstamp": moment,
        }
        if type_name != "User":
            record["OwnerId"] = owner
        record.update(_defaults(type_name))
        record.update(fields)
        if type_name == "Case" and not record.get("CaseNumber"):
            record["CaseNumber"] = f"{next(self._case_numbers):08d}"
        _derive(type_name, record, set(fields), moment)
        self._tables[type_name][record["Id"]] = record
        return record

    # --- changing ------------------------------------------------------------------------

    def update(
        self, record_id: str, values: Mapping[str, Any], *, at: datetime | None = None
    ) -> Record:
        old = self._live(record_id)
        type_name = self.type_of(old)
        changes = self._coerce(type_name, values, creating=False)
        return self._replace(old, changes, at)

    def close(self, record_id: str, status: str | None = None) -> Record:
        record = self._live(record_id)
        type_name = self.type_of(record)
        if type_name == "Opportunity":
            stage = status or "Closed Won"
            if not _stage(stage).closed:
                raise RecordError(f"{stage} is not a closed stage")
            return self._replace(record, {"StageName": stage}, None)
        statuses = _statuses(type_name)
        target = status or next(s for s, closed in statuses.items() if closed)
        if not statuses.get(target, False):
            raise RecordError(f"{target} is not a closed status of {type_name}")
        return self._replace(record, {"Status": target}, None)

    def reopen(self, record_id: str, status: str | None = None) -> Record:
        record = self._live(record_id)
        type_name = self.type_of(record)
        if type_name == "Opportunity":
            stage = status or "Negotiation/Review"
            if _stage(stage).closed:
                raise RecordError(f"{stage} is a closed stage")
            return self._replace(record, {"StageName": stage}, None)
        statuses = _statuses(type_name)
        target = status or next(iter(statuses))
        if target not in statuses or statuses[target]:
            raise RecordError(f"{target} is not an open status of {type_name}")
        return self._replace(record, {"Status": target}, None)

    def delete(self, record_id: str) -> Record:
        """Move a record to the recycle bin: IsDeleted, visible to queryAll and …/deleted. Its
        activities (Tasks and Events whose WhatId is the record) go with it, as in Salesforce."""
        record = self._live(record_id)
        moment = self._clock.now()
        deleted = self._soft_delete(record, moment)
        children = [
            activity["Id"]
            for type_name in ACTIVITY_TYPES
            for activity in self._tables[type_name].values()
            if activity["WhatId"] == record["Id"] and not activity["IsDeleted"]
        ]
        for child in children:
            self._soft_delete(self.require(child), moment)
        if children:
            self._cascaded[record["Id"]] = children
        return deleted

    def undelete(self, record_id: str) -> Record:
        record = self.require(record_id)
        if not record["IsDeleted"]:
            raise RecordError(f"{record_id} is not deleted")
        restored = self._undelete_one(record)
        for child_id in self._cascaded.pop(record["Id"], []):
            child = self.get(child_id)
            if child is not None and child["IsDeleted"]:
                self._undelete_one(child)
        return restored

    def purge(self, record_id: str) -> None:
        """Erase a record for good (empty the recycle bin; a live record is deleted first). It
        leaves queryAll at once and stays in …/deleted until the delete log forgets it."""
        record = self.require(record_id)
        if not record["IsDeleted"]:
            self.delete(record_id)
        type_name = self.type_of(record)
        del self._tables[type_name][record["Id"]]
        for child_id in self._cascaded.pop(record["Id"], []):
            child = self.get(child_id)
            if child is not None:
                del self._tables[self.type_of(child)][child["Id"]]

    def empty_recycle_bin(self) -> int:
        """Erase every soft-deleted record and purge the delete log up to now. The records
        erased."""
        erased = 0
        for table in self._tables.values():
            for record_id in [i for i, r in table.items() if r["IsDeleted"]]:
                del table[record_id]
                erased += 1
        for log in self._delete_log.values():
            log.clear()
        self._cascaded.clear()
        self.delete_log_since = self._clock.now()
        return erased

    # --- replication ---------------------------------------------------------------------

    def updated_ids(self, type_name: str, start: datetime, end: datetime) -> list[str]:
        """Live records whose SystemModstamp lies in [start, end)."""
        return [
            r["Id"]
            for r in self._tables[type_name].values()
            if not r["IsDeleted"] and start <= r["SystemModstamp"] < end
        ]

    def deleted_records(
        self, type_name: str, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """Delete-log entries in [start, end), oldest first; entries past the log's window are
        forgotten first."""
        log = self._delete_log[type_name]
        horizon = self._clock.now() - timedelta(days=REPLICATION_DELETED_DAYS)
        for record_id in [i for i, at in log.items() if at < horizon]:
            del log[record_id]
        return sorted(((i, at) for i, at in log.items() if start <= at < end), key=lambda e: e[1])

    # --- internals -----------------------------------------------------------------------

    def _live(self, record_id: str) -> Record:
        record = self.require(record_id)
        if record["IsDeleted"]:
            raise RecordError(f"{record_id} is deleted", 400)
        return record

    def _replace(self, old: Record, changes: Mapping[str, Any], at: datetime | None) -> Record:
        moment = at or self._clock.now()
        record = dict(old)
        record.update(changes)
        record["LastModifiedDate"] = moment
        record["SystemModstamp"] = moment
        _derive(self.type_of(old), record, set(changes), moment)
        self._tables[self.type_of(old)][old["Id"]] = record
        return record

    def _soft_delete(self, record: Record, moment: datetime) -> Record:
        deleted = dict(record)
        deleted["IsDeleted"] = True
        deleted["SystemModstamp"] = moment
        type_name = self.type_of(record)
        self._tables[type_name][record["Id"]] = deleted
        self._delete_log[type_name][record["Id"]] = moment
        return deleted

    def _undelete_one(self, record: Record) -> Record:
        moment = self._clock.now()
        restored = dict(record)
        restored["IsDeleted"] = False
        restored["SystemModstamp"] = moment
        type_name = self.type_of(record)
        self._tables[type_name][record["Id"]] = restored
        self._delete_log[type_name].pop(record["Id"], None)
        return restored

    def _coerce(self, type_name: str, values: Mapping[str, Any], *, creating: bool) -> Record:
        sobject = SCHEMA[type_name.lower()]
        fields: Record = {}
        for name, value in values.items():
            field_ = sobject.field(name)
            if field_ is None:
                raise RecordError(f"No such column '{name}' on sobject of type {type_name}")
            if field_.name in _SYSTEM_FIELDS:
                raise RecordError(f"{field_.name} is not writeable")
            try:
                coerced = coerce(field_, value)
            except ValueError as error:
                raise RecordError(str(error)) from error
            if field_.reference_to and coerced is not None:
                coerced = self._reference(field_.name, field_.reference_to, coerced)
            fields[field_.name] = coerced
        if type_name == "Opportunity" and "StageName" in fields:
            _stage(fields["StageName"])
        if (
            type_name in ("Case", "Task")
            and "Status" in fields
            and fields["Status"] not in _statuses(type_name)
        ):
            raise RecordError(f"bad value for restricted picklist field: {fields['Status']}")
        if creating:
            required = {
                "Opportunity": ("Name", "StageName", "CloseDate"),  # (SALESFORCE.md §5.2)
                "Account": ("Name",),
            }.get(type_name, ())
            missing = [name for name in required if not fields.get(name)]
            if type_name == "Event":
                missing = _missing_event_times(fields)
            if missing:
                raise RecordError(f"Required fields are missing: [{', '.join(missing)}]")
        return fields

    def _reference(self, field_name: str, targets: tuple[str, ...], value: str) -> str:
        target = self.get(value)
        if target is None or self.type_of(target) not in targets:
            raise RecordError(f"{field_name}: id value of incorrect type: {value}")
        return str(target["Id"])


def _stage(name: str) -> Any:
    stage = STAGES_BY_NAME.get(name)
    if stage is None:
        raise RecordError(f"bad value for restricted picklist field: {name}")
    return stage


def _statuses(type_name: str) -> dict[str, bool]:
    if type_name == "Case":
        return CASE_STATUSES
    if type_name == "Task":
        return TASK_STATUSES
    raise RecordError(f"{type_name} records are not closed or reopened")


def _missing_event_times(fields: Mapping[str, Any]) -> list[str]:
    """An event needs its start and either its end or its duration (all-day events their
    date)."""
    if fields.get("IsAllDayEvent"):
        has_day = any(fields.get(n) is not None for n in ("ActivityDate", "StartDateTime"))
        return [] if has_day else ["ActivityDate"]
    missing = []
    if fields.get("StartDateTime") is None and fields.get("ActivityDateTime") is None:
        missing.append("StartDateTime")
    if fields.get("EndDateTime") is None and fields.get("DurationInMinutes") is None:
        missing.append("DurationInMinutes")
    return missing


def _defaults(type_name: str) -> Record:
    if type_name == "Opportunity":
        return {
            "Name": None,
            "AccountId": None,
            "StageName": OPEN_STAGES[0],
            "Amount": None,
            "Probability": None,
            "CloseDate": None,
            "ForecastCategoryName": None,
            "Type": None,
            "LeadSource": None,
            "Description": None,
        }
    if type_name == "Case":
        return {
            "CaseNumber": None,
            "Subject": None,
            "Status": "New",
            "Priority": "Medium",
            "Origin": None,
            "IsEscalated": False,
            "ClosedDate": None,
            "AccountId": None,
            "Description": None,
        }
    if type_name == "Task":
        return {
            "Subject": None,
            "Status": "Not Started",
            "Priority": "Normal",
            "WhatId": None,
            "ActivityDate": None,
            "CompletedDateTime": None,
            "TaskSubtype": "Task",
            "Description": None,
        }
    if type_name == "Event":
        return {
            "Subject": None,
            "WhatId": None,
            "WhoId": None,
            "StartDateTime": None,
            "EndDateTime": None,
            "ActivityDateTime": None,
            "ActivityDate": None,
            "DurationInMinutes": None,
            "IsAllDayEvent": False,
            "IsArchived": False,
            "Location": None,
            "Description": None,
        }
    if type_name == "Account":
        return {
            "Name": None,
            "Type": None,
            "Industry": None,
            "BillingCity": None,
            "BillingCountry": None,
            "Phone": None,
            "Website": None,
        }
    return {}


def _derive(type_name: str, record: Record, changed: set[str], moment: datetime) -> None:
    """Set the fields Salesforce computes: IsClosed/IsWon from the stage or status, and the
    stage's probability and forecast category when the stage changed."""
    if type_name == "Opportunity":
        stage = _stage(record["StageName"])
        record["IsClosed"] = stage.closed
        record["IsWon"] = stage.won
        if "StageName" in changed or record.get("Probability") is None:
            if "Probability" not in changed:
                record["Probability"] = stage.probability
            if "ForecastCategoryName" not in changed:
                record["ForecastCategoryName"] = stage.forecast_category
    elif type_name == "Event":
        _derive_event_times(record, changed)
    elif type_name in ("Case", "Task"):
        was_closed = bool(record.get("IsClosed"))
        closed = _statuses(type_name)[record["Status"]]
        record["IsClosed"] = closed
        stamp = "ClosedDate" if type_name == "Case" else "CompletedDateTime"
        if closed and not was_closed and record.get(stamp) is None:
            record[stamp] = moment
        elif not closed:
            record[stamp] = None


def _derive_event_times(record: Record, changed: set[str]) -> None:
    """ActivityDateTime and ActivityDate follow StartDateTime (either start may be written); a
    written EndDateTime sets DurationInMinutes, else the duration places EndDateTime (so moving
    the start moves the end). An all-day event spans whole days from ActivityDate."""
    if record["IsAllDayEvent"]:
        day = record["ActivityDate"]
        if record["StartDateTime"] is not None and (day is None or "StartDateTime" in changed):
            day = record["StartDateTime"].astimezone(UTC).date()
        if day is None:
            return
        days = max(1, (record.get("DurationInMinutes") or 1440) // 1440)
        if "EndDateTime" in changed and record["EndDateTime"] is not None:
            days = max(1, (record["EndDateTime"].astimezone(UTC).date() - day).days + 1)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        record.update(
            ActivityDate=day,
            StartDateTime=start,
            ActivityDateTime=start,
            DurationInMinutes=days * 1440,
            EndDateTime=start + timedelta(days=days, minutes=-1),
        )
        return
    if "ActivityDateTime" in changed and "StartDateTime" not in changed:
        record["StartDateTime"] = record["ActivityDateTime"]
    start = record["StartDateTime"]
    if start is None:
        return
    record["ActivityDateTime"] = start
    record["ActivityDate"] = start.astimezone(UTC).date()
    end, duration = record["EndDateTime"], record["DurationInMinutes"]
    if ("EndDateTime" in changed and end is not None) or duration is None:
        end = end or start
        if end < start:
            raise RecordError("EndDateTime: the end can't be before the start")
        record["DurationInMinutes"] = int((end - start).total_seconds() // 60)
    else:
        record["EndDateTime"] = start + timedelta(minutes=duration)
