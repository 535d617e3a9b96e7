"""The live list of Salesforce items an administrator picks from (searchable, paged), with the
current selection marked.

Pages follow each other by keyset, not by OFFSET (which Salesforce stops at 2,000): the list is
ordered by one field and then the Id, the cursor carries the last (value, Id) shown, and the next
page asks for what sorts after it. Salesforce orders and compares text case-insensitively, in
ORDER BY as in `>` and `=`, so the two agree on what "after" means.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConflictError, InvalidRequestError, SalesforceUnavailableError
from ..salesforce_ids import to_18
from .client import SalesforceError
from .integration import Integrations
from .oauth import OAuthFailure
from .objects import ARCHIVING_STAGES, CASE, OPPORTUNITY, Record
from .selection import selected_ids

PAGE = 50
# Longer than any cursor this server hands out: an Opportunity Name is at most 120 characters
# (six bytes each at worst, as a JSON escape), plus the object and the Id, in base64.
MAX_CURSOR = 2000


@dataclass(frozen=True)
class Listing:
    """How one object is listed: the field pages are ordered by (then the Id), the fields `q`
    searches, the columns queried, how an item is named (as its task is) and when it counts as
    closed."""

    sort_field: str
    search_fields: tuple[str, ...]
    columns: str
    name: Callable[[Record], str]
    closed: Callable[[Record], bool]


LISTINGS = {
    # Closed as the archive rule has it: Closed Won / Closed Lost only, whatever IsClosed says.
    "Opportunity": Listing(
        sort_field="Name",
        search_fields=("Name",),
        columns="Name, StageName",
        name=OPPORTUNITY.name,
        closed=lambda r: r.get("StageName") in ARCHIVING_STAGES,
    ),
    # Cases read "00001026: Subject", so they are listed in CaseNumber order: never null, unique
    # and made of digits, so every collation orders it the same.
    "Case": Listing(
        sort_field="CaseNumber",
        search_fields=("Subject", "CaseNumber"),
        columns="CaseNumber, Subject, IsClosed",
        name=CASE.name,
        closed=lambda r: bool(r.get("IsClosed")),
    ),
}


def soql_string(text: str) -> str:
    """A SOQL string literal, quotes, backslashes and line breaks escaped."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def soql_like(text: str) -> str:
    """A SOQL string literal for `LIKE '%text%'`, with quotes, backslashes and wildcards escaped."""
    escaped = soql_string(text)[1:-1].replace("%", "\\%").replace("_", "\\_")
    return f"'%{escaped}%'"


def after(field: str, last: str | None, last_id: str) -> str:
    """The SOQL condition for rows that sort after (last, last_id) in `ORDER BY field ASC NULLS
    FIRST, Id ASC`."""
    if last is None:
        return f"(({field} = null AND Id > {soql_string(last_id)}) OR {field} != null)"
    value = soql_string(last)
    return f"({field} > {value} OR ({field} = {value} AND Id > {soql_string(last_id)}))"


# --- cursors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """The last item of a page: its object, sort value and Id."""

    sobject: str
    value: str | None
    id: str


def encode_position(position: Position) -> str:
    text = json.dumps([position.sobject, position.value, position.id], ensure_ascii=False)
    return base64.urlsafe_b64encode(f"k:{text}".encode()).decode().rstrip("=")


def decode_position(cursor: str, sobject: str) -> Position:
    """The position a cursor of this object's catalog carries, or InvalidRequestError."""
    bad = InvalidRequestError("cursor is not a cursor this server returned.")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, payload = text.partition(":")
        data = json.loads(payload) if kind == "k" else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if not isinstance(data, list) or len(data) != 3:
        raise bad
    cursor_object, value, record_id = data
    if cursor_object != sobject:
        raise InvalidRequestError(f"cursor belongs to the {cursor_object} list, not {sobject}.")
    if not (value is None or isinstance(value, str)) or not isinstance(record_id, str):
        raise bad
    if to_18(record_id) != record_id:
        raise bad
    return Position(sobject, value, record_id)


# --- the catalog ---------------------------------------------------------------------------


def catalog_soql(sobject: str, q: str | None, position: Position | None) -> str:
    """The query for one page (one row more than a page, to tell whether more follow)."""
    listing = LISTINGS[sobject]
    conditions = []
    if q:
        pattern = soql_like(q)
        conditions.append(" OR ".join(f"{f} LIKE {pattern}" for f in listing.search_fields))
    if position is not None:
        conditions.append(after(listing.sort_field, position.value, position.id))
    where = " AND ".join(f"({c})" for c in conditions)
    # Names from a fixed table and escaped literals: nothing else from outside goes in.
    return (
        f"SELECT Id, {listing.columns} FROM {sobject}"  # noqa: S608
        + (f" WHERE {where}" if where else "")
        + f" ORDER BY {listing.sort_field} ASC NULLS FIRST, Id ASC LIMIT {PAGE + 1}"
    )


async def catalog(
    integrations: Integrations, account_id: str, sobject: str, q: str | None, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `PAGE` items after the cursor's position, and the cursor of the next page (None on
    the last)."""
    position = decode_position(cursor, sobject) if cursor else None
    soql = catalog_soql(sobject, q, position)
    try:
        page = await integrations.call(
            account_id, lambda c: c.query_page(soql, include_deleted=False)
        )
    except SalesforceError as exc:
        raise SalesforceUnavailableError(
            f"Salesforce did not answer the item list ({exc.code}: {exc.message})."
        ) from exc
    except OAuthFailure as exc:
        raise ConflictError(
            "Salesforce refused the connection; enable the integration again.",
            code="needs_reauth",
        ) from exc
    records = page.get("records", [])[: PAGE + 1]
    listing = LISTINGS[sobject]
    selection = await integrations.selection(account_id)
    chosen = selected_ids(selection, sobject)
    enabled = bool(selection["objects"][sobject]["enabled"])
    shown = records[:PAGE]
    items = [
        {
            "id": r["Id"],
            "name": listing.name(r),
            "object": sobject,
            "closed": listing.closed(r),
            "selected": enabled and (chosen is None or r["Id"] in chosen),
        }
        for r in shown
    ]
    next_cursor = None
    if len(records) > PAGE:
        last = shown[-1]
        value = last.get(listing.sort_field)
        next_cursor = encode_position(
            Position(sobject, None if value is None else str(value), last["Id"])
        )
    return items, next_cursor
