"""Time entries: list, add, edit and delete."""

from __future__ import annotations

from aiohttp import web

from .. import paging
from ..paging import Page
from ..rates import BILLABLE
from ..tracking import SOURCES
from ..validation import Field
from .registry import Call, Routes, json, no_content

routes = Routes("entries")

LIST = {
    "from": Field("time", description="Entries starting at or after"),
    "to": Field("time", description="Entries starting before"),
    "user_id": Field("id", description="Another user's entries (managers and administrators)"),
    "task_id": Field("id"),
    **paging.QUERY,
}
BILLABLE_FIELD = Field(
    "boolean",
    nullable=True,
    description="Billable or not (null or absent: as the entry's task says, by default true)",
)
DURATION = Field("integer", minimum=1, maximum=24 * 3600, description="Seconds, instead of end")
CREATE = {
    "task_id": Field("id", nullable=True),
    "start": Field("time", required=True),
    "end": Field("time"),
    "duration": DURATION,
    "note": Field("string", max_length=2000, text="note"),
    "source": Field("enum", choices=SOURCES, default="api"),
    BILLABLE: BILLABLE_FIELD,
}
UPDATE = {
    "task_id": Field("id", nullable=True),
    "start": Field("time"),
    "end": Field("time"),
    "duration": DURATION,
    "note": Field("string", max_length=2000, text="note"),
    BILLABLE: BILLABLE_FIELD,
}


@routes.get(
    "/api/v1/entries",
    "Time entries, newest first; with both from and to, total_seconds counts all of them",
    query=LIST,
    responses={200: "EntryList"},
    errors=(400, 403, 404),
)
async def list_entries(call: Call) -> web.StreamResponse:
    q, tracking = call.query, call.services.tracking
    page = Page.from_query(q)
    docs, more = await tracking.list_entries(
        call.caller, q["user_id"], q["task_id"], q["from"], q["to"], page.offset, page.limit
    )
    total = None
    if q["from"] is not None and q["to"] is not None:
        total = await tracking.total_seconds(
            call.caller, q["user_id"], q["task_id"], q["from"], q["to"]
        )
    return json(
        {
            "items": await tracking.views(call.caller.account_id, docs),
            "next_cursor": page.next_cursor(len(docs), more),
            "total_seconds": total,
        }
    )


@routes.post(
    "/api/v1/entries",
    "Add an entry by hand",
    body=CREATE,
    responses={201: "Entry"},
    errors=(400, 403, 404, 409, 422),
    idempotent=True,
)
async def create_entry(call: Call) -> web.StreamResponse:
    tracking = call.services.tracking
    entry = await tracking.create_entry(call.caller, call.body, call.body.get("source", "api"))
    return json(await tracking.view(call.caller.account_id, entry), status=201)


@routes.get("/api/v1/entries/{id}", "One entry", responses={200: "Entry"}, errors=(400, 404))
async def get_entry(call: Call) -> web.StreamResponse:
    tracking = call.services.tracking
    entry = await tracking.get_entry(call.caller, call.path_id())
    return json(await tracking.view(call.caller.account_id, entry))


@routes.patch(
    "/api/v1/entries/{id}",
    "Edit an entry (own; administrators: any, and {end | duration} stops another user's "
    "running timer)",
    body=UPDATE,
    responses={200: "Entry"},
    errors=(400, 403, 404, 409, 422),
    idempotent=True,
)
async def update_entry(call: Call) -> web.StreamResponse:
    tracking = call.services.tracking
    entry = await tracking.update_entry(call.caller, call.path_id(), call.body)
    return json(await tracking.view(call.caller.account_id, entry))


@routes.delete(
    "/api/v1/entries/{id}",
    "Delete an entry (own; administrators: any, another user's running timer too)",
    responses={204: None},
    errors=(400, 404, 409, 422),
    idempotent=True,
)
async def delete_entry(call: Call) -> web.StreamResponse:
    await call.services.tracking.delete_entry(call.caller, call.path_id())
    return no_content()
