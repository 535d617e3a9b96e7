"""The Salesforce integration: status, enable / re-enable, the OAuth callback, unlink."""

from __future__ import annotations

import contextlib
import html
from typing import Any

from aiohttp import web

from .. import clock
from ..accounts import Caller
from ..errors import ConflictError
from ..paging import CURSOR_PATTERN
from ..services import CALLBACK_PATH, Services
from ..sync.catalog import MAX_CURSOR as CATALOG_CURSOR
from ..sync.catalog import catalog
from ..sync.engine import run_view
from ..sync.objects import RECORDS
from ..validation import Field
from .registry import HTML, Call, Routes, json

routes = Routes("integrations")

BASE = "/api/v1/integrations/salesforce"
# The trigger of a run an administrator asked for (here, or on the web's My week).
FORCE = "force"
RUNS = {"limit": Field("integer", minimum=1, maximum=500, default=20)}
CATALOG = {
    "object": Field("enum", required=True, choices=tuple(o.sobject for o in RECORDS)),
    "q": Field(
        "string",
        max_length=200,
        description="Text in the name (Cases: in the subject or the case number)",
    ),
    "cursor": Field(
        "string",
        max_length=CATALOG_CURSOR,
        pattern=CURSOR_PATTERN,
        mismatch="is not a cursor this server returned",
        description="next_cursor of the previous page",
    ),
}
SELECTION = {
    "objects": Field(
        "object",
        required=True,
        description="{Opportunity: {enabled, mode: all|selected, ids: []}, Case: {…}}",
    ),
    "activities": Field("boolean", required=True),
}
CONNECT = {
    "environment": Field(
        "string",
        max_length=300,
        description="production (the default), sandbox, or the org's My Domain URL "
        "(https://<name>.my.salesforce.com or https://<name>.sandbox.my.salesforce.com)",
    ),
}
CALLBACK = {
    "code": Field("string", max_length=2000),
    "state": Field("string", max_length=200),
    "error": Field("string", max_length=200),
    "error_description": Field("string", max_length=2000),
}


async def integration_status(services: Services, caller: Caller) -> dict[str, Any]:
    """The integration as `GET .../salesforce` shows it (also on the web's My week)."""
    body = await services.integrations.status(caller)
    body["last_run"] = await services.syncs.last_run(caller.account_id)
    if body["status"] == "active":
        body["next_run_at"] = clock.iso(services.scheduler.next_run_at())
    return body


async def _status(call: Call) -> dict[str, Any]:
    return await integration_status(call.services, call.caller)


@routes.get(BASE, "The integration's status", admin=True, responses={200: "Integration"})
async def get_integration(call: Call) -> web.StreamResponse:
    return json(await _status(call))


@routes.post(
    f"{BASE}/connect",
    "Enable or re-enable: a Salesforce authorization URL (state and PKCE) to open in a browser, "
    "at the login host of the environment (optional body)",
    admin=True,
    body=CONNECT,
    responses={200: "Authorization"},
    errors=(400, 409),
)
async def connect_integration(call: Call) -> web.StreamResponse:
    environment = call.body.get("environment")
    return json(await call.services.integrations.connect(call.caller, environment))


@routes.post(
    f"{BASE}/unlink",
    "Stop syncing, revoke and forget the tokens (imported tasks and entries stay)",
    admin=True,
    responses={200: "Integration"},
)
async def unlink_integration(call: Call) -> web.StreamResponse:
    await call.services.integrations.unlink(call.caller)
    return json(await _status(call))


@routes.post(
    f"{BASE}/sync",
    "Force a sync now (or get the one running)",
    admin=True,
    responses={202: "RunStarted"},
    errors=(409,),
)
async def force_sync(call: Call) -> web.StreamResponse:
    run = await call.services.syncs.start(call.caller.account_id, FORCE)
    return json({"run": run_view(run)}, status=202)


@routes.get(
    f"{BASE}/runs", "Sync runs, newest first", admin=True, query=RUNS, responses={200: "RunList"}
)
async def list_runs(call: Call) -> web.StreamResponse:
    items = await call.services.syncs.runs(call.caller, call.query["limit"])
    return json({"items": items, "next_cursor": None})


@routes.get(
    f"{BASE}/runs/{{id}}", "One sync run", admin=True, responses={200: "Run"}, errors=(400, 404)
)
async def get_run(call: Call) -> web.StreamResponse:
    return json(await call.services.syncs.run(call.caller, call.path_id()))


@routes.get(
    CALLBACK_PATH,
    "Where Salesforce sends the administrator's browser back (an HTML page)",
    auth=False,
    query=CALLBACK,
    responses={200: HTML, 400: HTML},
    errors=(409,),
)
async def salesforce_callback(call: Call) -> web.StreamResponse:
    q = call.query
    outcome = await call.services.integrations.callback(
        q["state"], q["code"], q["error"], q["error_description"]
    )
    return web.Response(
        status=200 if outcome.ok else 400,
        content_type="text/html",
        text=_page(outcome.title, outcome.message, outcome.ok),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _page(title: str, message: str, ok: bool) -> str:
    """The outcome for the administrator's browser, styled by the web pages' stylesheet (the
    pages' policy allows no inline style)."""
    outcome = "outcome-ok" if ok else "outcome-failed"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Timetrail — {html.escape(title)}</title>"
        "<meta name=viewport content='width=device-width'>"
        "<link rel=stylesheet href=/static/timetrail.css></head><body><main>"
        f"<section class='card narrow'><h1 class={outcome}>{html.escape(title)}</h1>"
        f"<p>{html.escape(message)}</p></section></main></body></html>"
    )


@routes.get(
    f"{BASE}/catalog",
    "Salesforce items live, searchable and paged, with the selection marked",
    admin=True,
    query=CATALOG,
    responses={200: "CatalogPage"},
    errors=(409, 502),
)
async def get_catalog(call: Call) -> web.StreamResponse:
    q = call.query
    items, next_cursor = await catalog(
        call.services.integrations, call.caller.account_id, q["object"], q["q"], q["cursor"]
    )
    return json({"items": items, "next_cursor": next_cursor})


@routes.put(
    f"{BASE}/selection",
    "Choose what is imported; a sync starts (unselected items are archived, never deleted)",
    admin=True,
    body=SELECTION,
    responses={200: "Selection"},
    errors=(400,),
)
async def put_selection(call: Call) -> web.StreamResponse:
    s = call.services
    selection, changed = await s.integrations.set_selection(
        call.caller, call.body["objects"], call.body["activities"]
    )
    if changed:
        with contextlib.suppress(ConflictError):  # not connected: it applies at the next sync
            await s.syncs.start(call.caller.account_id, "selection")
    return json(selection)
