"""The Salesforce connection of an account: enable, the OAuth callback, re-enable, unlink, the
owner leaving, and calls to Salesforce with their tokens (refreshed on expiry).

One document per account in `integrations` holds the state; access and refresh tokens are kept
only encrypted. OAuth `state` values are stored hashed in `oauth_states`: single-use (deleted as
they are consumed), expiring after ten minutes, bound to the account and administrator who asked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import clock
from ..accounts import ADMINISTRATOR, Caller, user_view
from ..errors import ConflictError
from ..keys import Cipher
from ..store import Doc, Store
from .client import ApiDisabled, SalesforceClient, SalesforceError, SessionExpired, api_limit_paused
from .oauth import OAuthFailure, SalesforceOAuth, Tokens, new_code_verifier
from .selection import changed_objects, default_selection, parse_selection
from .tls import Trust

log = logging.getLogger(__name__)

T = TypeVar("T")

STATE_LIFETIME = dt.timedelta(minutes=10)

NOT_CONNECTED = "not_connected"
AUTHORIZING = "authorizing"
ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
ERROR = "error"
UNLINKED = "unlinked"


@dataclass(frozen=True)
class Outcome:
    """What the OAuth callback tells the admin's browser."""

    ok: bool
    title: str
    message: str


def _state_key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class Integrations:
    def __init__(
        self,
        store: Store,
        oauth: SalesforceOAuth | None,
        cipher: Cipher,
        trust: Trust,
        api_version: str,
    ) -> None:
        self._store = store
        self._oauth = oauth
        self._cipher = cipher
        self._trust = trust
        self.api_version = api_version
        # Called once a connection is made (the first import starts at once).
        self.on_connected: Callable[[str], Awaitable[None]] | None = None

    # Reading ------------------------------------------------------------------------------

    async def _doc(self, account_id: str) -> Doc:
        doc = await self._store.integrations.find_one({"_id": account_id})
        if doc is not None:
            return doc
        return {
            "_id": account_id,
            "status": NOT_CONNECTED,
            "reason": None,
            "message": None,
            "owner_id": None,
            "org": None,
            "selection": default_selection(),
            "project_id": None,
            "api_usage": None,
        }

    async def status(self, caller: Caller) -> dict[str, Any]:
        doc = await self._doc(caller.account_id)
        owner = None
        if doc.get("owner_id"):
            user = await self._store.users.find_one(
                {"_id": doc["owner_id"], "account_id": caller.account_id}
            )
            owner = user_view(user) if user else None
        status, reason, message = doc["status"], doc.get("reason"), doc.get("message")
        updated = doc.get("updated_at")
        if status == AUTHORIZING and updated and updated + STATE_LIFETIME < clock.now():
            # Nobody came back from Salesforce in time: the authorization URL has expired.
            status, reason = ERROR, "authorization_expired"
            message = "The authorization was not completed within ten minutes. Enable again."
        usage: dict[str, int] = doc.get("api_usage") or {}
        if status == ACTIVE and reason is None and api_limit_paused(usage):
            # Still connected; scheduled syncs wait for the org's API usage to come down.
            reason = "api_limit"
            message = (
                f"Scheduled syncs are paused: Salesforce's API usage is {usage['used']} of "
                f"{usage['limit']} calls in 24 h. They resume below 90 %."
            )
        return {
            "status": status,
            "reason": reason,
            "owner": owner,
            "org": doc.get("org"),
            "selection": doc.get("selection") or default_selection(),
            "project_id": doc.get("project_id"),
            "last_run": None,
            "next_run_at": None,
            "api_usage": doc.get("api_usage"),
            "message": message,
            "connected_at": clock.iso(doc.get("connected_at")),
        }

    async def _set(
        self, account_id: str, fields: dict[str, Any], unset: tuple[str, ...] = ()
    ) -> None:
        update: dict[str, Any] = {
            "$set": {**fields, "updated_at": clock.now()},
            "$setOnInsert": {"selection": default_selection(), "project_id": None},
        }
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        await self._store.integrations.update_one({"_id": account_id}, update, upsert=True)

    # Enable / re-enable -------------------------------------------------------------------

    def _require_oauth(self) -> SalesforceOAuth:
        if self._oauth is None:
            raise ConflictError(
                "Salesforce is not configured on this server: set TIMETRAIL_SALESFORCE_CLIENT_ID "
                "and TIMETRAIL_SALESFORCE_CLIENT_SECRET (a connected app's consumer key and "
                "secret), then restart it.",
                code="salesforce_not_configured",
            )
        return self._oauth

    async def connect(self, caller: Caller) -> dict[str, Any]:
        oauth = self._require_oauth()
        state = secrets.token_urlsafe(32)
        verifier = new_code_verifier()
        now = clock.now()
        expires_at = now + STATE_LIFETIME
        await self._store.oauth_states.delete_many({"expires_at": {"$lt": now}})
        await self._store.oauth_states.insert_one(
            {
                "_id": _state_key(state),
                "account_id": caller.account_id,
                "user_id": caller.user_id,
                "verifier": self._cipher.encrypt(verifier),
                "created_at": now,
                "expires_at": expires_at,
            }
        )
        doc = await self._doc(caller.account_id)
        if doc["status"] != ACTIVE:
            # An active connection keeps syncing until the new authorization replaces it.
            await self._set(
                caller.account_id,
                {"status": AUTHORIZING, "message": "Waiting for authorization in Salesforce."},
            )
        return {
            "authorize_url": oauth.authorization_url(state, verifier),
            "expires_at": clock.iso(expires_at),
        }

    async def callback(
        self, state: str | None, code: str | None, error: str | None, description: str | None
    ) -> Outcome:
        oauth = self._require_oauth()
        if not state:
            return Outcome(False, "Not a valid authorization", "The link has no state parameter.")
        pending = await self._store.oauth_states.find_one_and_delete({"_id": _state_key(state)})
        if pending is None:
            return Outcome(
                False,
                "This authorization link is no longer valid",
                "It was already used, or never issued by this server. Start again from the "
                "admin console (Enable).",
            )
        account_id = pending["account_id"]
        if pending["expires_at"] < clock.now():
            return await self._failed(
                account_id,
                "authorization_expired",
                "The authorization took longer than ten "
                "minutes. Start again from the admin console (Enable).",
            )
        if error:
            return await self._failed(
                account_id,
                "access_denied" if error == "access_denied" else "authorization_failed",
                f"Salesforce did not authorize Timetrail: {description or error}.",
            )
        if not code:
            return await self._failed(
                account_id, "authorization_failed", "Salesforce sent no authorization code."
            )
        admin = await self._store.users.find_one({"_id": pending["user_id"]})
        if admin is None or not admin["active"] or admin["role"] != ADMINISTRATOR:
            return await self._failed(
                account_id,
                "authorization_failed",
                "The administrator who started this authorization can no longer enable it.",
            )
        try:
            tokens = await oauth.exchange(code, self._cipher.decrypt(pending["verifier"]))
            identity = await oauth.identity(tokens)
        except OAuthFailure as failure:
            return await self._failed(
                account_id,
                "unreachable" if failure.error == "unreachable" else "token_error",
                f"Salesforce refused the authorization code ({failure.error}: "
                f"{failure.description}).",
            )
        username = str(identity.get("username", ""))
        client = self._client(tokens.instance_url, tokens.access_token)
        try:
            await client.check_api_access()
        except ApiDisabled as exc:
            await self._revoke_quietly(tokens.refresh_token or tokens.access_token)
            return await self._failed(
                account_id,
                "api_disabled",
                f"API access is disabled for the Salesforce user {username} ({exc.code}). Make "
                "sure that API access is enabled on the user's profile (the “API Enabled” "
                "permission), then enable the integration again.",
            )
        except SalesforceError as exc:
            return await self._failed(
                account_id, "salesforce_error", f"Salesforce answered {exc.code}: {exc.message}"
            )
        finally:
            client.close()
        if tokens.refresh_token is None:
            return await self._failed(
                account_id,
                "token_error",
                "Salesforce issued no refresh token: give the connected app the "
                "“Perform requests at any time (refresh_token, offline_access)” scope.",
            )
        replaced = (await self._doc(account_id)).get("tokens")
        org = {
            "org_id": identity.get("organization_id"),
            "user_id": identity.get("user_id"),
            "username": username,
            "instance_url": tokens.instance_url,
        }
        await self._set(
            account_id,
            {
                "status": ACTIVE,
                "reason": None,
                "owner_id": admin["_id"],
                "org": org,
                "tokens": {
                    "access": self._cipher.encrypt(tokens.access_token),
                    "refresh": self._cipher.encrypt(tokens.refresh_token),
                },
                "api_usage": _usage(client),
                "connected_at": clock.now(),
                "message": f"Connected to Salesforce as {username}.",
            },
        )
        if replaced:
            # Re-enabled: the previous grant is of no further use, so it should not stay valid.
            await self._revoke_quietly(self._cipher.decrypt(replaced["refresh"]))
        if self.on_connected is not None:
            await self.on_connected(account_id)
        log.info("Account %s connected to Salesforce org %s", account_id, org["org_id"])
        return Outcome(
            True,
            "Salesforce is connected",
            f"Timetrail is connected to Salesforce as {username}. You can close this window.",
        )

    async def _failed(self, account_id: str, reason: str, message: str) -> Outcome:
        doc = await self._doc(account_id)
        if doc["status"] == ACTIVE:
            # A failed re-enable leaves the working connection alone.
            await self._set(account_id, {"message": message})
        else:
            await self._set(account_id, {"status": ERROR, "reason": reason, "message": message})
        log.warning("Salesforce authorization for account %s failed: %s", account_id, reason)
        return Outcome(False, "Salesforce is not connected", message)

    # Unlink, owner left -------------------------------------------------------------------

    async def unlink(self, caller: Caller) -> dict[str, Any]:
        doc = await self._doc(caller.account_id)
        tokens = doc.get("tokens")
        if tokens:
            await self._revoke_quietly(self._cipher.decrypt(tokens["refresh"]))
        if doc["status"] != NOT_CONNECTED:
            await self._set(
                caller.account_id,
                {
                    "status": UNLINKED,
                    "reason": None,
                    "owner_id": None,
                    "api_usage": None,
                    "message": "Unlinked from Salesforce. Imported tasks and time entries are "
                    "kept; enable the integration again to resume.",
                },
                unset=("tokens",),
            )
        return await self.status(caller)

    async def _revoke_quietly(self, token: str) -> None:
        if self._oauth is None:
            return
        try:
            await self._oauth.revoke(token)
        except OAuthFailure as failure:
            log.warning("Revoking the Salesforce token failed (ignored): %s", failure.error)

    async def owner_left(self, account_id: str, user_id: str, name: str) -> None:
        """The administrator who enabled the integration was deactivated."""
        result = await self._store.integrations.update_one(
            {"_id": account_id, "owner_id": user_id, "status": ACTIVE},
            {
                "$set": {
                    "status": NEEDS_REAUTH,
                    "reason": "owner_left",
                    "message": f"{name}, who enabled the integration, is no longer an active "
                    "administrator. An administrator should enable it again (re-enable).",
                    "updated_at": clock.now(),
                }
            },
        )
        if result.matched:
            log.info("Integration of %s needs re-authorization: its owner left", account_id)

    # Selection ----------------------------------------------------------------------------

    async def selection(self, account_id: str) -> dict[str, Any]:
        doc = await self._doc(account_id)
        selection: dict[str, Any] = doc.get("selection") or default_selection()
        return selection

    async def set_selection(
        self, caller: Caller, objects: dict[str, Any], activities: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """Store a new selection; returns it and the objects whose next read is a full one
        (so that unselected items are archived and reselected ones restored)."""
        old = await self.selection(caller.account_id)
        new = parse_selection(old, objects, activities)
        changed = changed_objects(old, new)
        update: dict[str, Any] = {"$set": {"selection": new, "updated_at": clock.now()}}
        if changed:
            update["$unset"] = {f"cursors.{name}": "" for name in changed}
        await self._store.integrations.update_one({"_id": caller.account_id}, update, upsert=True)
        return new, changed

    # Calling Salesforce -------------------------------------------------------------------

    def _client(self, instance_url: str, access_token: str) -> SalesforceClient:
        return SalesforceClient(instance_url, access_token, self.api_version, self._trust)

    async def call(self, account_id: str, fn: Callable[[SalesforceClient], Awaitable[T]]) -> T:
        """Run `fn` with a client for the account's connection; on an expired session refresh
        the access token and retry once. A refused refresh sets `needs_reauth`."""
        oauth = self._require_oauth()
        doc = await self._doc(account_id)
        tokens = doc.get("tokens")
        if doc["status"] != ACTIVE or not tokens:
            raise ConflictError(
                "The Salesforce integration is not connected.", code="not_connected"
            )
        instance_url = doc["org"]["instance_url"]
        client = self._client(instance_url, self._cipher.decrypt(tokens["access"]))
        try:
            return await fn(client)
        except SessionExpired:
            log.info("Salesforce session of %s expired; refreshing", account_id)
        finally:
            client.close()
            await self._record_usage(account_id, client)
        try:
            fresh = await oauth.refresh(self._cipher.decrypt(tokens["refresh"]))
        except OAuthFailure as failure:
            if failure.error == "invalid_grant":
                await self._set(
                    account_id,
                    {
                        "status": NEEDS_REAUTH,
                        "reason": "refresh_refused",
                        "message": "Salesforce refused to renew the connection "
                        f"({failure.description}). An administrator should enable it again.",
                    },
                )
            raise
        await self._store_access_token(account_id, tokens["access"], fresh)
        client = self._client(fresh.instance_url or instance_url, fresh.access_token)
        try:
            return await fn(client)
        finally:
            client.close()
            await self._record_usage(account_id, client)

    async def _store_access_token(self, account_id: str, old: str, fresh: Tokens) -> None:
        # Only over the token we refreshed: a concurrent refresh or re-enable wins.
        await self._store.integrations.update_one(
            {"_id": account_id, "tokens.access": old},
            {"$set": {"tokens.access": self._cipher.encrypt(fresh.access_token)}},
        )

    async def _record_usage(self, account_id: str, client: SalesforceClient) -> None:
        usage = _usage(client)
        if usage is not None:
            await self._store.integrations.update_one(
                {"_id": account_id}, {"$set": {"api_usage": usage}}
            )


def _usage(client: SalesforceClient) -> dict[str, int] | None:
    if client.api_usage is None:
        return None
    return {"used": client.api_usage.used, "limit": client.api_usage.limit}
