"""The OAuth 2.0 web-server flow with Salesforce (authlib): authorize URL with state and PKCE,
code exchange, refresh, revoke and the identity URL. No other module speaks OAuth to Salesforce.

A connection logs in at the host of its environment — production (`login.salesforce.com`),
sandbox (`test.salesforce.com`) or the org's My Domain — and every later token request and
revocation goes to that same host: Salesforce refreshes a token only in the login family that
issued it.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from ..errors import InvalidRequestError
from .tls import Trust

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
# Data API access and a refresh token; nothing more (the identity URL accepts `api`).
SCOPE = "api refresh_token"

PRODUCTION = "production"
SANDBOX = "sandbox"
# `<name>.my.salesforce.com`, `<name>--<sandbox>.sandbox.my.salesforce.com`: one DNS label.
_MY_DOMAIN_HOST = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.(?:sandbox\.)?my\.salesforce\.com", re.ASCII
)


def parse_environment(value: str | None) -> str:
    """`production` (also for None), `sandbox`, or a My Domain as `https://<host>` (lower
    case). Anything else is a 400 naming the field."""
    if value is None or value == PRODUCTION:
        return PRODUCTION
    if value == SANDBOX:
        return SANDBOX
    problem = (
        "environment must be production, sandbox or a My Domain URL such as "
        "https://acme.my.salesforce.com (https, a *.my.salesforce.com or "
        "*.sandbox.my.salesforce.com host, no path, query, port or user)."
    )
    try:
        url = urlsplit(value.strip())
        port = url.port
    except ValueError:
        raise InvalidRequestError(problem) from None
    host = (url.hostname or "").lower()
    if (
        url.scheme.lower() != "https"
        or url.username is not None
        or url.password is not None
        or port is not None
        or url.path not in ("", "/")
        or url.query
        or url.fragment
        or "?" in value
        or "#" in value
        or not _MY_DOMAIN_HOST.fullmatch(host)
        or url.netloc.lower() != host
    ):
        raise InvalidRequestError(problem)
    return f"https://{host}"


class OAuthFailure(Exception):
    """Salesforce refused (`error` is its code, e.g. `invalid_grant`) or could not be reached
    (`error` is `unreachable`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ConnectedApp:
    client_id: str
    client_secret: str
    login_url: str  # production
    redirect_uri: str
    sandbox_login_url: str = "https://test.salesforce.com"


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    instance_url: str
    identity_url: str


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)


def _endpoint(login_url: str, name: str) -> str:
    return f"{login_url.rstrip('/')}/services/oauth2/{name}"


class SalesforceOAuth:
    """Every call takes the login host (`login_url`) of the connection it is for."""

    def __init__(self, app: ConnectedApp, trust: Trust) -> None:
        self._app = app
        self._trust = trust

    def login_url(self, environment: str) -> str:
        """Where a connection of this environment (see `parse_environment`) logs in."""
        if environment == PRODUCTION:
            return self._app.login_url.rstrip("/")
        if environment == SANDBOX:
            return self._app.sandbox_login_url.rstrip("/")
        return environment

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._app.client_id,
            client_secret=self._app.client_secret,
            redirect_uri=self._app.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            verify=self._trust.ssl_context(),
            trust_env=False,
            timeout=TIMEOUT,
        )

    def authorization_url(self, login_url: str, state: str, code_verifier: str) -> str:
        client = self._client()
        url, _ = client.create_authorization_url(
            _endpoint(login_url, "authorize"),
            state=state,
            code_verifier=code_verifier,
            scope=SCOPE,
            prompt="login consent",
        )
        return str(url)

    async def exchange(self, login_url: str, code: str, code_verifier: str) -> Tokens:
        endpoint = _endpoint(login_url, "token")
        token = await self._call(
            lambda c: c.fetch_token(endpoint, code=code, code_verifier=code_verifier)
        )
        return _tokens(token)

    async def refresh(self, login_url: str, refresh_token: str) -> Tokens:
        """A new access token (and `instance_url`); Salesforce keeps the refresh token as it is
        unless the connected app rotates them, when a new one comes back."""
        endpoint = _endpoint(login_url, "token")
        token = await self._call(lambda c: c.refresh_token(endpoint, refresh_token=refresh_token))
        tokens = _tokens(token)
        if tokens.refresh_token is None:
            tokens = Tokens(
                tokens.access_token, refresh_token, tokens.instance_url, tokens.identity_url
            )
        return tokens

    async def revoke(self, login_url: str, token: str) -> None:
        endpoint = _endpoint(login_url, "revoke")
        await self._call(lambda c: c.revoke_token(endpoint, token=token))

    async def identity(self, tokens: Tokens) -> dict[str, Any]:
        async with httpx.AsyncClient(
            verify=self._trust.ssl_context(), trust_env=False, timeout=TIMEOUT
        ) as http:
            try:
                response = await http.get(
                    tokens.identity_url,
                    headers={"Authorization": f"Bearer {tokens.access_token}"},
                )
            except httpx.HTTPError as exc:
                raise OAuthFailure(
                    "unreachable", f"Salesforce could not be reached: {exc}"
                ) from exc
        if response.status_code != 200:
            raise OAuthFailure(
                "identity_failed", f"the identity URL answered {response.status_code}"
            )
        data: dict[str, Any] = response.json()
        return data

    async def _call(self, fn: Any) -> Any:
        async with self._client() as client:
            try:
                return await fn(client)
            except AuthlibBaseError as exc:
                raise OAuthFailure(exc.error or "oauth_error", exc.description or str(exc)) from exc
            except httpx.HTTPStatusError as exc:
                raise OAuthFailure(
                    "unreachable", f"Salesforce answered {exc.response.status_code}"
                ) from exc
            except httpx.HTTPError as exc:
                raise OAuthFailure(
                    "unreachable", f"Salesforce could not be reached: {exc}"
                ) from exc


def _tokens(token: dict[str, Any]) -> Tokens:
    try:
        return Tokens(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            instance_url=token["instance_url"].rstrip("/"),
            identity_url=token["id"],
        )
    except KeyError as exc:
        raise OAuthFailure("invalid_response", f"the token response lacks {exc}") from None
