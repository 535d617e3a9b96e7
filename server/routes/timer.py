"""The caller's one running timer."""

from __future__ import annotations

from aiohttp import web

from ..rates import BILLABLE
from ..tracking import SOURCES
from ..validation import Field
from .registry import Call, Routes, json, no_content

routes = Routes("timer")

SOURCE = Field("enum", choices=SOURCES, default="api", description="Which client tracked it")
START = {
    "task_id": Field("id", nullable=True),
    "note": Field("string", max_length=2000, text="note"),
    "started_at": Field(
        "time", description="Defaults to now; within the last 24 hours, not in the future"
    ),
    "source": SOURCE,
    BILLABLE: Field(
        "boolean",
        nullable=True,
        description="Billable or not (null or absent: as the task says, by default true)",
    ),
}
STOP = {"stopped_at": Field("time", description="Defaults to now")}


@routes.get("/api/v1/timer", "The running timer, if any", responses={200: "Timer"})
async def get_timer(call: Call) -> web.StreamResponse:
    tracking = call.services.tracking
    entry = await tracking.running(call.caller)
    if entry is None:
        return json({"running": False})
    return json({"running": True, "entry": await tracking.view(call.caller.account_id, entry)})


@routes.post(
    "/api/v1/timer/start",
    "Start a timer (stops the running one at the same instant)",
    body=START,
    responses={201: "TimerStarted"},
    errors=(400, 403, 404, 409, 422),
    idempotent=True,
)
async def start_timer(call: Call) -> web.StreamResponse:
    b, tracking = call.body, call.services.tracking
    entry, stopped = await tracking.start(
        call.caller,
        b.get("task_id"),
        b.get("note", ""),
        b.get("started_at"),
        b.get("source", "api"),
        b.get(BILLABLE),
    )
    account = call.caller.account_id
    return json(
        {
            "entry": await tracking.view(account, entry),
            "stopped": await tracking.view(account, stopped) if stopped else None,
        },
        status=201,
    )


@routes.post(
    "/api/v1/timer/stop",
    "Stop the running timer",
    body=STOP,
    responses={200: "TimerStopped"},
    errors=(400, 409, 422),
    idempotent=True,
)
async def stop_timer(call: Call) -> web.StreamResponse:
    tracking = call.services.tracking
    entry = await tracking.stop(call.caller, call.body.get("stopped_at"))
    return json({"entry": await tracking.view(call.caller.account_id, entry)})


@routes.delete(
    "/api/v1/timer",
    "Discard the running timer (its entry is deleted, no time is kept)",
    responses={204: None},
    errors=(409, 422),
    idempotent=True,
)
async def discard_timer(call: Call) -> web.StreamResponse:
    await call.services.tracking.discard(call.caller)
    return no_content()
