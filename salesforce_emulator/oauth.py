"""OAuth 2.0 web-server flow endpoints and the identity URL.

``/services/oauth2/authorize`` stands in for the browser's login-and-allow pages: it approves at
once as the org's default user (or the user named by ``login_hint``), unless the control API
asked for the next authorization to be denied or to log in as someone else.

Each site serves one login family (``LOGIN_FAMILY``: production or sandbox); the org's own host
has none and serves both, as a My Domain does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from html import escape
from urllib.parse import unquote_plus

from aiohttp import web
from yarl import URL

from .appkeys import EMULATOR
from .errors import OAuthError, authentication_failure
from .ids import to_18
from .sessions import PRODUCTION

LOGIN_FAMILY = web.AppKey("login_family", str)

_ALWAYS_ALLOWED_SCOPES = frozenset({"full", "openid", "web"})
_REFRESH_SYNONYMS = frozenset({"refresh_token", "offline_access"})
_NO_STORE = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}


def _error_page(error: str, description: str) -> web.Response:
    """What Salesforce shows when it cannot trust the redirect URI: a page, not a redirect."""
    body = (
        "<!DOCTYPE html><html><head><title>Error</title></head><body>"
        f"<p>error={escape(error)}</p><p>error_description={escape(description)}</p>"
        "</body></html>"
    )
    return web.Response(status=400, text=body, content_type="text/html")


def _family(request: web.Request) -> str | None:
    """The login family of the site a request came to (None: the org's own host)."""
    return request.app.get(LOGIN_FAMILY)


def _redirect(redirect_uri: str, params: Mapping[str, str | None]) -> web.HTTPFound:
    query = {k: v for k, v in params.items() if v is not None}
    return web.HTTPFound(str(URL(redirect_uri).update_query(query)))


def _granted(requested: list[str], configured: tuple[str, ...]) -> tuple[str, ...]:
    """The scopes an authorization gets: the requested ones the app allows (all of the app's
    when none are asked); ``offline_access`` and ``refresh_token`` are synonyms."""
    if not requested:
        return configured
    allowed = set(configured) | _ALWAYS_ALLOWED_SCOPES
    if allowed & _REFRESH_SYNONYMS:
        allowed |= _REFRESH_SYNONYMS
    return tuple(s for s in requested if s in allowed)


async def authorize(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    params: dict[str, str] = dict(request.query)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    redirect_uri = params.get("redirect_uri", "")
    if params.get("client_id") != emulator.app.client_id:
        return _error_page("invalid_client_id", "client identifier invalid")
    if not redirect_uri or not emulator.app.accepts_redirect(redirect_uri):
        return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
    state = params.get("state")
    if params.get("response_type") != "code":
        raise _redirect(
            redirect_uri,
            {
                "error": "unsupported_response_type",
                "error_description": "response type not supported",
                "state": state,
            },
        )
    challenge = params.get("code_challenge")
    if challenge is not None and params.get("code_challenge_method", "S256") != "S256":
        raise _redirect(
            redirect_uri,
            {
                "error": "invalid_request",
                "error_description": "code_challenge_method not supported",
                "state": state,
            },
        )
    scopes = _granted(params.get("scope", "").split(), emulator.app.scopes)
    if not scopes:
        raise _redirect(
            redirect_uri,
            {
                "error": "invalid_scope",
                "error_description": "the requested scope is not allowed",
                "state": state,
            },
        )
    directive, emulator.next_authorization = emulator.next_authorization, None
    if directive is not None and directive.deny:
        raise _redirect(
            redirect_uri,
            {
                "error": "access_denied",
                "error_description": "end-user denied authorization",
                "state": state,
            },
        )
    user = emulator.default_user
    hint = directive.username if directive is not None else params.get("login_hint")
    if hint:
        user = emulator.org.user_by_username(hint) or user
    code = emulator.sessions.issue_code(
        redirect_uri, user["Id"], scopes, challenge, _family(request) or PRODUCTION
    )
    raise _redirect(redirect_uri, {"code": code, "state": state})


def _client_credentials(
    request: web.Request, form: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The client id and secret from the body, or else from HTTP Basic authentication."""
    if form.get("client_id"):
        return form.get("client_id"), form.get("client_secret")
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


async def token(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    form = {k: str(v) for k, v in (await request.post()).items()}
    grant_type = form.get("grant_type")
    try:
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        emulator.sessions.check_client(*_client_credentials(request, form))
        if grant_type == "authorization_code":
            code = form.get("code")
            if not code:
                raise authentication_failure()
            grant = emulator.sessions.exchange_code(
                code, form.get("redirect_uri"), form.get("code_verifier"), _family(request)
            )
        else:
            grant = emulator.sessions.refresh(form.get("refresh_token", ""), _family(request))
    except OAuthError as error:
        return web.json_response(error.body(), status=error.status, headers=_NO_STORE)
    return web.json_response(emulator.token_response(grant), headers=_NO_STORE)


async def revoke(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    form = await request.post() if request.method == "POST" else {}
    value = form.get("token") or request.query.get("token")
    try:
        if not value:
            raise OAuthError("unsupported_token_type", "token type not supported")
        emulator.sessions.revoke(str(value), _family(request))
    except OAuthError as error:
        return web.json_response(error.body(), status=error.status)
    return web.Response(status=200)


def _bearer(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.query.get("oauth_token") or request.query.get("access_token") or ""


async def identity(request: web.Request) -> web.Response:
    """The identity URL: who the access token's user is. A bad token answers 403
    ``Bad_OAuth_Token`` (a text body, unlike the REST API)."""
    emulator = request.app[EMULATOR]
    access = emulator.sessions.access(_bearer(request), emulator.org.session_timeout)
    if access is None:
        return web.Response(status=403, text="Bad_OAuth_Token")
    org_id = to_18(request.match_info["org_id"])
    user = emulator.org.get(request.match_info["user_id"])
    if org_id != emulator.org.id or user is None or emulator.org.type_of(user) != "User":
        return web.Response(status=403, text="Bad_Id")
    return web.json_response(emulator.identity(user))


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/services/oauth2/authorize", authorize)
    app.router.add_route("POST", "/services/oauth2/authorize", authorize)
    app.router.add_post("/services/oauth2/token", token)
    app.router.add_route("POST", "/services/oauth2/revoke", revoke)
    app.router.add_route("GET", "/services/oauth2/revoke", revoke)
    app.router.add_route("GET", "/id/{org_id}/{user_id}", identity)
    app.router.add_route("POST", "/id/{org_id}/{user_id}", identity)
