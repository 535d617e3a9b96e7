"""The OAuth 2.0 side of the emulator, without HTTP: the connected app, authorization codes
(single use, 15 minutes, PKCE S256), refresh tokens, access tokens (sessions) and their ends —
expiry, revocation, a refresh token's revocation taking its access tokens along, rotation.

Every code and token belongs to the login family that issued it (``production`` at the login
host, ``sandbox`` at the sandbox login host): refreshing it at the other family's host fails,
as it does in Salesforce. The org's own (My Domain) host serves either family."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import Clock
from .errors import OAuthError, authentication_failure, expired_token

CODE_LIFETIME = timedelta(minutes=15)
PRODUCTION = "production"
SANDBOX = "sandbox"
DEFAULT_SCOPES = ("api", "refresh_token", "id")
_REFRESH_SCOPES = frozenset({"refresh_token", "offline_access", "full"})


@dataclass
class ConnectedApp:
    client_id: str
    client_secret: str
    # Callback URLs the app accepts; empty accepts any (the server's port is often random).
    redirect_uris: list[str] = field(default_factory=list)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Refresh token rotation: each refresh issues a new refresh token and ends the old one.
    rotate_refresh_tokens: bool = False

    def accepts_redirect(self, uri: str) -> bool:
        return not self.redirect_uris or uri in self.redirect_uris


@dataclass
class AuthorizationCode:
    code: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    issued_at: datetime
    family: str = PRODUCTION
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    user_id: str
    scopes: tuple[str, ...]
    family: str = PRODUCTION
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    user_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    refresh_token: str | None
    family: str = PRODUCTION
    ended: bool = False  # expired or revoked
    rest_refused: bool = False  # the REST API refuses it (a test knob)


@dataclass(frozen=True)
class Grant:
    """What a token request earned: the new access token, and a refresh token on the first
    grant of an authorization whose scopes allow one."""

    access: AccessToken
    refresh_token: str | None


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signature(client_secret: str, identity_url: str, issued_at: str) -> str:
    """Salesforce's token ``signature``: base64 HMAC-SHA256 of id + issued_at, keyed with the
    consumer secret."""
    mac = hmac.new(client_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


class Sessions:
    def __init__(self, app: ConnectedApp, clock: Clock, org_id: str) -> None:
        self.app = app
        self._clock = clock
        self._org_id = org_id
        self._codes: dict[str, AuthorizationCode] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._access: dict[str, AccessToken] = {}
        # A test knob: every access token issued from now on is refused by the REST API.
        self.refuse_new_sessions = False

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.app.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret is None or not hmac.compare_digest(client_secret, self.app.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def issue_code(
        self,
        redirect_uri: str,
        user_id: str,
        scopes: tuple[str, ...],
        code_challenge: str | None,
        family: str = PRODUCTION,
    ) -> str:
        code = "aPrx" + base64.b64encode(secrets.token_bytes(48)).decode("ascii")
        self._codes[code] = AuthorizationCode(
            code, redirect_uri, user_id, scopes, code_challenge, self._clock.now(), family
        )
        return code

    def exchange_code(
        self,
        code: str,
        redirect_uri: str | None,
        verifier: str | None,
        family: str | None = None,
    ) -> Grant:
        """Trade an authorization code for tokens. A code works once, within 15 minutes, with
        the redirect URI it was issued for, at a host of the family that issued it (``family``
        None: the org's own host, which serves both) and — when it was asked with a
        challenge — the verifier that hashes to it."""
        grant = self._codes.get(code)
        if grant is None or grant.used or family not in (None, grant.family):
            raise authentication_failure()
        if self._clock.now() - grant.issued_at > CODE_LIFETIME:
            raise OAuthError("invalid_grant", "expired authorization code")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if grant.code_challenge is not None and not (
            verifier and hmac.compare_digest(s256(verifier), grant.code_challenge)
        ):
            raise authentication_failure()
        grant.used = True
        refresh = None
        if _REFRESH_SCOPES & set(grant.scopes):
            refresh = self._new_refresh(grant.user_id, grant.scopes, grant.family)
        access = self._new_access(
            grant.user_id, grant.scopes, refresh.token if refresh else None, grant.family
        )
        return Grant(access, refresh.token if refresh else None)

    def refresh(self, token: str, family: str | None = None) -> Grant:
        """A new access token for a live refresh token, at a host of its family. Without
        rotation the refresh token stays as it is (none comes back); with rotation a new one
        comes back and the old one is dead from then on (access tokens it issued live on)."""
        refresh = self._refresh.get(token)
        if refresh is None or refresh.revoked:
            raise expired_token()
        if family not in (None, refresh.family):
            raise authentication_failure()
        if not self.app.rotate_refresh_tokens:
            access = self._new_access(
                refresh.user_id, refresh.scopes, refresh.token, refresh.family
            )
            return Grant(access, None)
        refresh.revoked = True
        rotated = self._new_refresh(refresh.user_id, refresh.scopes, refresh.family)
        for access in self._access.values():
            if access.refresh_token == token:
                access.refresh_token = rotated.token  # revoking the new one ends them too
        access = self._new_access(refresh.user_id, refresh.scopes, rotated.token, refresh.family)
        return Grant(access, rotated.token)

    def revoke(self, token: str, family: str | None = None) -> None:
        """Revoke an access token, or a refresh token with every access token it issued (at a
        host of the token's family)."""
        refresh = self._refresh.get(token)
        if refresh is not None and family not in (None, refresh.family):
            raise OAuthError("invalid_token", "invalid token")
        if refresh is not None:
            refresh.revoked = True
            for access in self._access.values():
                if access.refresh_token == token:
                    access.ended = True
            return
        live = self._access.get(token)
        if live is None or live.ended or family not in (None, live.family):
            raise OAuthError("invalid_token", "invalid token")
        live.ended = True

    def access(self, token: str, timeout: timedelta) -> AccessToken | None:
        """The live access token, or None when unknown, revoked or older than the timeout."""
        access = self._access.get(token)
        if access is None or access.ended:
            return None
        if self._clock.now() - access.issued_at > timeout:
            access.ended = True
            return None
        return access

    def expire_access_tokens(self) -> int:
        live = [a for a in self._access.values() if not a.ended]
        for access in live:
            access.ended = True
        return len(live)

    def revoke_all(self, user_id: str | None = None) -> int:
        """Revoke every refresh and access token (of one user, if given)."""
        revoked = 0
        for refresh in self._refresh.values():
            if not refresh.revoked and user_id in (None, refresh.user_id):
                refresh.revoked = True
                revoked += 1
        for access in self._access.values():
            if not access.ended and user_id in (None, access.user_id):
                access.ended = True
                revoked += 1
        return revoked

    def _new_refresh(self, user_id: str, scopes: tuple[str, ...], family: str) -> RefreshToken:
        refresh = RefreshToken("5Aep861" + secrets.token_urlsafe(64), user_id, scopes, family)
        self._refresh[refresh.token] = refresh
        return refresh

    def _new_access(
        self, user_id: str, scopes: tuple[str, ...], refresh_token: str | None, family: str
    ) -> AccessToken:
        token = f"{self._org_id[:15]}!AR" + secrets.token_urlsafe(72)
        access = AccessToken(
            token,
            user_id,
            scopes,
            self._clock.now(),
            refresh_token,
            family,
            rest_refused=self.refuse_new_sessions,
        )
        self._access[token] = access
        return access
