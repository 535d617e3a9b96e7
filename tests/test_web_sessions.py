"""The web pages' sign-in: a cookie session behind the API's own sign-in, its cookie's flags, a
CSRF token on every form, and sessions that end when the user's access does."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import PASSWORD, AiohttpClient, World, sign_in
from web_support import Browser

from server.app import create_app
from server.settings import Settings
from server.store import open_mongomock

UMA = "uma@acme.test"


@pytest.fixture
async def uma(world: World) -> Browser:
    """A regular user, signed in to the web pages."""
    await world.admin.add_user(UMA, name="Uma User")
    browser = Browser(world.client)
    page = await browser.sign_in(UMA, PASSWORD)
    assert page.status == 303 and page.location == "/week", page.text
    assert (await browser.get("/week")).status == 200  # (a new session: its forms' token)
    return browser


async def test_the_sign_in_page_is_the_front_page(world: World) -> None:
    page = await Browser(world.client).get("/")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'name="email"' in page.text and 'name="password"' in page.text
    assert page.headers["Cache-Control"] == "no-store"


async def test_signing_in_opens_my_week_and_the_cookie_is_httponly_and_lax(world: World) -> None:
    await world.admin.add_user(UMA, name="Uma User")
    browser = Browser(world.client)
    page = await browser.sign_in(UMA, PASSWORD)
    assert page.status == 303 and page.location == "/week"
    assert page.set_cookie is not None
    flags = [part.strip().lower() for part in page.set_cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # (served over http here)
    assert (await browser.get("/")).location == "/week"  # signed in: / leads to My week


async def test_the_cookie_is_secure_when_the_public_url_is_https(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    https = dataclasses.replace(settings, public_url="https://time.acme.test")
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(https, store_factory=open_mongomock)
    )
    page = await Browser(client).get("/")  # the sign-in form's session
    assert page.set_cookie is not None
    assert "secure" in [part.strip().lower() for part in page.set_cookie.split(";")]


async def test_a_wrong_password_is_refused_on_the_page(world: World) -> None:
    await world.admin.add_user(UMA)
    browser = Browser(world.client)
    page = await browser.sign_in(UMA, "not the password")
    assert page.status == 401
    assert page.has("The email or password is not correct.")
    assert (await browser.get("/week")).location == "/"


async def test_sign_in_shares_the_api_throttle(world: World) -> None:
    """Failures on the page lock the email for the API too (one throttle, not two)."""
    await world.admin.add_user(UMA)
    browser = Browser(world.client)
    statuses = [(await browser.sign_in(UMA, "wrong password")).status for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    locked = await browser.sign_in(UMA, PASSWORD)
    assert locked.status == 429 and locked.headers["Retry-After"]
    assert locked.has("Too many sign-in attempts for this email.")
    api = await world.admin.client.post(
        "/api/v1/auth/login", json={"email": UMA, "password": PASSWORD}
    )
    assert api.status == 429


async def test_a_post_without_the_csrf_token_is_refused(world: World, uma: Browser) -> None:
    page = await uma.post("/signout", csrf=False)
    assert page.status == 403
    assert page.has("did not come from this page")
    assert (await uma.get("/week")).status == 200  # still signed in


async def test_a_token_from_another_session_is_refused(world: World, uma: Browser) -> None:
    other = Browser(world.client)
    await other.get("/")
    uma.csrf = other.csrf
    assert (await uma.post("/signout")).status == 403
    sign_in_form = Browser(world.client)
    await sign_in_form.get("/")
    sign_in_form.csrf = "forged"
    assert (await sign_in_form.post("/signin", {"email": UMA, "password": PASSWORD})).status == 403


async def test_signing_out_ends_the_session_for_good(world: World, uma: Browser) -> None:
    stolen = uma.cookie
    page = await uma.post("/signout")
    assert page.status == 303 and page.location == "/"
    assert (await uma.get("/week")).location == "/"
    replayed = Browser(world.client)
    replayed.cookie = stolen  # a copy of the cookie taken before signing out
    assert (await replayed.get("/week")).location == "/"


async def test_deactivating_the_user_ends_their_session(world: World, uma: Browser) -> None:
    assert (await uma.get("/week")).status == 200
    users = await world.admin.get("/api/v1/users")
    uma_id = next(u["id"] for u in users.body["items"] if u["email"] == UMA)
    r = await world.admin.patch(f"/api/v1/users/{uma_id}", {"active": False})
    assert r.status == 200, r.body
    assert (await uma.get("/week")).location == "/"


async def test_changing_the_password_ends_the_session(world: World, uma: Browser) -> None:
    api = await sign_in(world.client, UMA)
    r = await api.post(
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new password"},
    )
    assert r.status == 204, r.body
    assert (await uma.get("/week")).location == "/"


async def test_a_tampered_cookie_is_no_session(world: World, uma: Browser) -> None:
    assert uma.cookie is not None
    uma.cookie = uma.cookie[:-4] + ("AAAA" if not uma.cookie.endswith("AAAA") else "BBBB")
    assert (await uma.get("/week")).location == "/"


async def test_pages_are_locked_down(world: World) -> None:
    page = await Browser(world.client).get("/")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # no script runs on the pages
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    style = await world.client.get("/static/timetrail.css")
    assert style.status == 200 and style.content_type == "text/css"
