"""Summary reports as JSON or CSV."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from aiohttp import web

from .. import clock, reports
from ..validation import Field
from .registry import Call, Routes, json

log = logging.getLogger(__name__)

routes = Routes("reports")

# How the reports read a bare date in `from` and `to` (`clock.in_zone`).
ACCOUNT_MIDNIGHT = "its midnight in the account's time zone"
SUMMARY = {
    "from": Field(
        "time",
        required=True,
        description="Start of the range",
        date_means=ACCOUNT_MIDNIGHT,
    ),
    "to": Field(
        "time",
        required=True,
        description="End of the range, exclusive: after from, at most 366 days after it",
        date_means=ACCOUNT_MIDNIGHT,
    ),
    "group_by": Field("enum", choices=reports.GROUPINGS, default="task"),
    "format": Field("enum", choices=("json", "csv"), default="json"),
    "user_id": Field("id", description="Only this user's time"),
    "project_id": Field("id", description="Only time on this task and the tasks under it"),
}


@routes.get(
    "/api/v1/reports/summary",
    "Tracked time per task, project, user or day; with amounts for administrators and managers",
    query=SUMMARY,
    responses={200: "Summary"},
    errors=(400, 403, 404, 429),
)
async def get_summary(call: Call) -> web.StreamResponse:
    q, given = call.query, call.request.query
    zone = await call.services.account_settings.time_zone(call.caller.account_id)
    start = clock.in_zone(given["from"], q["from"], zone)
    end = clock.in_zone(given["to"], q["to"], zone)
    service = call.services.reports
    items, total = await service.summary(
        call.caller, start, end, q["group_by"], q["user_id"], zone=zone, project_id=q["project_id"]
    )
    pricing = await service.pricing(call.caller)
    if q["format"] == "csv":
        chunks = reports.csv_chunks(q["group_by"], items, total, pricing)
        return await stream_csv(call.request, chunks, "timetrail-summary.csv")
    return json(reports.as_json(items, total, pricing))


async def stream_csv(
    request: web.Request, chunks: Iterator[str], filename: str
) -> web.StreamResponse:
    """The CSV written as it is made, a chunk at a time (never the whole file in memory),
    handing the loop back between chunks; a download named `filename` (plain ASCII)."""
    response = web.StreamResponse(
        headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    try:
        for chunk in chunks:
            await response.write(chunk.encode())
            await asyncio.sleep(0)
        await response.write_eof()
    except ConnectionResetError:
        log.info("The client left during a CSV report")
    return response
