"""The live list of Salesforce items an administrator picks from (searchable, paged), with the
current selection marked."""

from __future__ import annotations

from typing import Any

from ..errors import ConflictError, SalesforceUnavailableError
from .client import SalesforceError
from .integration import Integrations
from .oauth import OAuthFailure
from .selection import selected_ids

PAGE = 50
# SOQL's OFFSET stops at 2,000; past it, narrow the search.
MAX_OFFSET = 2000

COLUMNS = {
    "Opportunity": ("Name", "Name, IsClosed"),
    "Case": ("Subject", "CaseNumber, Subject, IsClosed"),
}


def soql_like(text: str) -> str:
    """A SOQL string literal for `LIKE '%text%'`, with quotes, backslashes and wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("%", "\\%").replace("_", "\\_")
    return f"'%{escaped}%'"


def _name(sobject: str, record: dict[str, Any]) -> str:
    if sobject == "Case":
        subject = record.get("Subject") or ""
        return f"{record['CaseNumber']}: {subject}" if subject else str(record["CaseNumber"])
    return str(record.get("Name") or record["Id"])


async def catalog(
    integrations: Integrations, account_id: str, sobject: str, q: str | None, offset: int
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `PAGE` items from `offset` on, and whether more follow."""
    if offset > MAX_OFFSET:
        raise ConflictError(
            "Salesforce pages at most 2,000 items deep: narrow the search.", code="catalog_too_deep"
        )
    search_field, columns = COLUMNS[sobject]
    where = f" WHERE {search_field} LIKE {soql_like(q)}" if q else ""
    # Names from a fixed table and an escaped literal: nothing else from outside goes in.
    soql = (
        f"SELECT Id, {columns} FROM {sobject}{where} "  # noqa: S608
        f"ORDER BY {search_field} ASC, Id ASC LIMIT {PAGE + 1} OFFSET {offset}"
    )
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
    records = page.get("records", [])
    selection = await integrations.selection(account_id)
    chosen = selected_ids(selection, sobject)
    enabled = bool(selection["objects"][sobject]["enabled"])
    items = [
        {
            "id": r["Id"],
            "name": _name(sobject, r),
            "object": sobject,
            "closed": bool(r.get("IsClosed")),
            "selected": enabled and (chosen is None or r["Id"] in chosen),
        }
        for r in records[:PAGE]
    ]
    return items, len(records) > PAGE
