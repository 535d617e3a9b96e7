"""Every answer says nosniff and names no server software; the HTML page (the OAuth callback)
may load nothing, be framed by nobody and leaks no referrer."""

from __future__ import annotations

import dataclasses

from support import AiohttpClient, World

from server.app import create_app
from server.settings import Settings
from server.store import open_mongomock


async def test_json_answers_errors_included_say_nosniff_and_no_version(world: World) -> None:
    for path in ("/api/v1/me", "/api/v1/nowhere", "/healthz"):
        r = await world.admin.client.get(path)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        server = r.headers.get("Server", "")
        assert "aiohttp" not in server.lower() and "python" not in server.lower(), server
    answer = await world.admin.get("/api/v1/me")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_callback_page_is_locked_down(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    configured = dataclasses.replace(
        settings, salesforce_client_id="app", salesforce_client_secret="secret"
    )
    client = await aiohttp_client(create_app(configured, store_factory=open_mongomock))
    r = await client.get("/oauth/salesforce/callback?state=nothing&code=x")
    assert r.status == 400
    assert r.headers["Content-Type"].startswith("text/html")
    policy = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # no script may run on it
    assert "unsafe-inline" not in policy  # nor any inline style
    assert "href=/static/timetrail.css" in await r.text()  # (its style: the stylesheet)
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
