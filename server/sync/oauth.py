"""The OAuth 2.0 web-server flow with Salesforce (authlib): authorize URL with state and PKCE,
code exchange, refresh, revoke and the identity URL. No other module speaks OAuth to Salesforce.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from .tls import Trust

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=10.0)


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
    login_url: str
    redirect_uri: str


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    instance_url: str
    identity_url: str


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)


class SalesforceOAuth:
    def __init__(self, app: ConnectedApp, trust: Trust) -> None:
        self._app = app
        self._trust = trust
        base = app.login_url.rstrip("/")
        self.authorize_endpoint = f"{base}/services/oauth2/authorize"
        self.token_endpoint = f"{base}/services/oauth2/token"
        self.revoke_endpoint = f"{base}/services/oauth2/revoke"

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

    def authorization_url(self, state: str, code_verifier: str) -> str:
        client = self._client()
        url, _ = client.create_authorization_url(
            self.authorize_endpoint,
            state=state,
            code_verifier=code_verifier,
            prompt="login consent",
        )
        return str(url)

    async def exchange(self, code: str, code_verifier: str) -> Tokens:
        token = await self._call(
            lambda c: c.fetch_token(self.token_endpoint, code=code, code_verifier=code_verifier)
        )
        return _tokens(token)

    async def refresh(self, refresh_token: str) -> Tokens:
        """A new access token; Salesforce normally keeps the refresh token as it is."""
        token = await self._call(
            lambda c: c.refresh_token(self.token_endpoint, refresh_token=refresh_token)
        )
        tokens = _tokens(token)
        if tokens.refresh_token is None:
            tokens = Tokens(
                tokens.access_token, refresh_token, tokens.instance_url, tokens.identity_url
            )
        return tokens

    async def revoke(self, token: str) -> None:
        await self._call(lambda c: c.revoke_token(self.revoke_endpoint, token=token))

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
