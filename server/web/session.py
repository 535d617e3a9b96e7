"""The web pages' cookie session (aiohttp-session, encrypted) and its CSRF token.

The cookie holds, encrypted under a key derived from the server's secret, a bearer token issued
by the same sign-in as the API's (`Accounts.login`: its throttle, its checks) and the session's
CSRF token. Every request resolves the token again (`Accounts.authenticate`), so a session ends
exactly when that token does: signing out deletes it; deactivating the user or changing their
password revokes it; it expires after the token idle limit.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from ..accounts import Caller
from ..appkeys import SERVICES
from ..errors import ForbiddenError, UnauthorizedError
from ..keys import WEB_SESSIONS, derive_key

COOKIE = "timetrail_session"
CSRF_FIELD = "csrf_token"
_TOKEN = "token"
_CSRF = "csrf"


class CsrfError(ForbiddenError):
    code = "csrf_failed"


def cookie_storage(secret: str, base_url: str) -> EncryptedCookieStorage:
    """The session cookie: HttpOnly, SameSite=Lax, Secure when the server is reached over
    https; it lasts as long as the browser session (the token behind it has its own limit)."""
    return EncryptedCookieStorage(
        derive_key(secret, WEB_SESSIONS),
        cookie_name=COOKIE,
        httponly=True,
        samesite="Lax",
        secure=base_url.startswith("https://"),
        path="/",
    )


async def signed_in(request: web.Request) -> Caller | None:
    """Who the session is signed in as, or None (never signed in, or the session ended: it is
    then emptied, and the cookie cleared)."""
    session = await get_session(request)
    token = session.get(_TOKEN)
    if not isinstance(token, str):
        return None
    try:
        return await request.app[SERVICES].accounts.authenticate(token)
    except UnauthorizedError:
        session.invalidate()
        return None


async def begin(request: web.Request, token: str) -> None:
    """A new session (never the one from before signing in) for this token."""
    session = await new_session(request)
    session[_TOKEN] = token
    session[_CSRF] = secrets.token_urlsafe(32)


async def end(request: web.Request) -> None:
    """Sign out: revoke the session's token and clear the cookie."""
    session = await get_session(request)
    caller = await signed_in(request)
    if caller is not None:
        await request.app[SERVICES].accounts.logout(caller)
    session.invalidate()


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, for the forms of the page being rendered (made on first use,
    so the sign-in form has one too)."""
    session = await get_session(request)
    token = session.get(_CSRF)
    if not isinstance(token, str):
        token = session[_CSRF] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: web.Request, form: Mapping[str, object]) -> None:
    """403 `csrf_failed` unless the form carries this session's CSRF token."""
    session = await get_session(request)
    expected = session.get(_CSRF)
    given = form.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not isinstance(given, str)
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise CsrfError(
            "This form did not come from this page or has expired. Reload the page and try again."
        )
