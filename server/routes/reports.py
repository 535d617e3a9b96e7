"""Summary reports as JSON or CSV."""

from __future__ import annotations

from aiohttp import web

from .. import reports
from ..validation import Field
from .registry import Call, Routes, json

routes = Routes("reports")

SUMMARY = {
    "from": Field("time", required=True, description="Start of the range (a date or a time)"),
    "to": Field(
        "time",
        required=True,
        description="End of the range, exclusive: after from, at most ten years after it",
    ),
    "group_by": Field("enum", choices=reports.GROUPINGS, default="task"),
    "format": Field("enum", choices=("json", "csv"), default="json"),
    "user_id": Field("id", description="Only this user's time"),
}


@routes.get(
    "/api/v1/reports/summary",
    "Tracked time per task, project or user",
    query=SUMMARY,
    responses={200: "Summary"},
    errors=(400, 403),
)
async def get_summary(call: Call) -> web.StreamResponse:
    q = call.query
    items, total = await call.services.reports.summary(
        call.caller, q["from"], q["to"], q["group_by"], q["user_id"]
    )
    if q["format"] == "csv":
        return web.Response(
            text=reports.as_csv(q["group_by"], items, total),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="timetrail-summary.csv"'},
        )
    return json(reports.as_json(items, total))
