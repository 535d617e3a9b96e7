"""The Salesforce integration: status, enable / re-enable, the OAuth callback, unlink."""

from __future__ import annotations

import html

from aiohttp import web

from ..services import CALLBACK_PATH
from ..validation import Field
from .registry import Call, Routes, json

routes = Routes("integrations")

BASE = "/api/v1/integrations/salesforce"
CALLBACK = {
    "code": Field("string", max_length=2000),
    "state": Field("string", max_length=200),
    "error": Field("string", max_length=200),
    "error_description": Field("string", max_length=2000),
}


@routes.get(BASE, "The integration's status", admin=True, responses={200: "Integration"})
async def get_integration(call: Call) -> web.StreamResponse:
    return json(await call.services.integrations.status(call.caller))


@routes.post(
    f"{BASE}/connect",
    "Enable or re-enable: a Salesforce authorization URL (state and PKCE) to open in a browser",
    admin=True,
    responses={200: "Authorization"},
    errors=(409,),
)
async def connect_integration(call: Call) -> web.StreamResponse:
    return json(await call.services.integrations.connect(call.caller))


@routes.post(
    f"{BASE}/unlink",
    "Stop syncing, revoke and forget the tokens (imported tasks and entries stay)",
    admin=True,
    responses={200: "Integration"},
)
async def unlink_integration(call: Call) -> web.StreamResponse:
    return json(await call.services.integrations.unlink(call.caller))


@routes.get(
    CALLBACK_PATH,
    "Where Salesforce sends the administrator's browser back (an HTML page)",
    auth=False,
    query=CALLBACK,
    responses={200: None, 400: None},
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
    colour = "#1a7f37" if ok else "#b42318"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Timetrail — {html.escape(title)}</title>"
        "<meta name=viewport content='width=device-width'>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;"
        f"padding:0 1em}}h1{{color:{colour};font-size:1.4em}}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
