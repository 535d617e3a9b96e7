"""The Salesforce connection of an account: enable, the OAuth callback, re-enable, unlink, the
owner leaving, and calls to Salesforce with their tokens (refreshed on expiry).

One document per account in `integrations` holds the state; access and refresh tokens are kept
only encrypted, with the login host (`login_url`, of the connection's `environment`) that
issued them. OAuth `state` values are stored hashed in `oauth_states`: single-use (deleted as
they are consumed), expiring after ten minutes, bound to the account and administrator who asked
and to the login host the authorization was sent to.

Refreshes are serialised per connection: an asyncio lock in this process, and across processes a
compare-and-set on the stored (encrypted) refresh token — only the process whose refresh token is
still the stored one writes; one that lost the race uses the winner's access token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import clock
from ..accounts import ADMINISTRATOR, Caller, user_view
from ..errors import ConflictError
from ..keys import Cipher
from ..store import Doc, Store
from .client import (
    ApiDisabled,
    SalesforceClient,
    SalesforceError,
    SessionExpired,
    api_limit_paused,
)
from .oauth import (
    PRODUCTION,
    OAuthFailure,
    SalesforceOAuth,
    Tokens,
    new_code_verifier,
    parse_environment,
)
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

# What Salesforce must let the connected user query: at least one of them.
PROBED_OBJECTS = ("Opportunity", "Case")
# Where the sync keeps its progress in the integration document; another org starts afresh.
SYNC_STATE_FIELDS = ("cursors", "deleted_cursors", "sync_state")

API_DISABLED_MESSAGE = (
    "API access is disabled for the Salesforce user {username} ({code}): either the org's "
    "edition has no API access, or the user's profile lacks the “API Enabled” permission. "
    "A Salesforce administrator must grant it; then enable the integration again."
)

NOT_CONFIGURED_MESSAGE = (
    "Salesforce is not configured on this server: set TIMETRAIL_SALESFORCE_CLIENT_ID "
    "and TIMETRAIL_SALESFORCE_CLIENT_SECRET (a connected app's consumer key and "
    "secret), then restart it."
)


@dataclass(frozen=True)
class Outcome:
    """What the OAuth callback tells the admin's browser."""

    ok: bool
    title: str
    message: str


def _state_key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _blank(account_id: str) -> Doc:
    """An integration that was never connected: every field a reader may ask for."""
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
        # Called when an account is connected to another org or user than before (the old
        # org's imported records are archived).
        self.on_org_changed: Callable[[str], Awaitable[None]] | None = None
        self._refresh_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # How long a refused refresh waits for another process's rotation to show in the store
        # before it concludes that the refresh token is dead.
        self.refresh_race_grace = 1.0

    # Reading ------------------------------------------------------------------------------

    async def _doc(self, account_id: str) -> Doc:
        """The account's integration, complete: what a document lacks reads as never set."""
        doc = await self._store.integrations.find_one({"_id": account_id})
        return {**_blank(account_id), **(doc or {})}

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
        if self._oauth is None and status != UNLINKED:
            # A server started without its connected app cannot sync nor enable, whatever the
            # store remembers (another server's connection, a demo's).
            status = NOT_CONNECTED if status == NOT_CONNECTED else ERROR
            reason, message = "not_configured", NOT_CONFIGURED_MESSAGE
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
            "environment": doc.get("environment") or (PRODUCTION if doc.get("org") else None),
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
        """Set fields of the account's integration; the first write creates a complete one."""
        fields = {**fields, "updated_at": clock.now()}
        written = {name.split(".")[0] for name in (*fields, *unset)}
        update: dict[str, Any] = {
            "$set": fields,
            "$setOnInsert": {
                k: v for k, v in _blank(account_id).items() if k != "_id" and k not in written
            },
        }
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        await self._store.integrations.update_one({"_id": account_id}, update, upsert=True)

    # Enable / re-enable -------------------------------------------------------------------

    def _require_oauth(self) -> SalesforceOAuth:
        if self._oauth is None:
            raise ConflictError(NOT_CONFIGURED_MESSAGE, code="salesforce_not_configured")
        return self._oauth

    async def connect(self, caller: Caller, environment: str | None = None) -> dict[str, Any]:
        """An authorization URL at the login host of `environment` (production, sandbox or a
        My Domain URL; a 400 names the field when it is none of them)."""
        oauth = self._require_oauth()
        environment = parse_environment(environment)
        login_url = oauth.login_url(environment)
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
                "environment": environment,
                "login_url": login_url,
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
            "authorize_url": oauth.authorization_url(login_url, state, verifier),
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
        environment = pending.get("environment") or PRODUCTION
        login_url = pending.get("login_url") or oauth.login_url(environment)
        try:
            tokens = await oauth.exchange(
                login_url, code, self._cipher.decrypt(pending["verifier"])
            )
        except OAuthFailure as failure:
            return await self._failed(
                account_id,
                "unreachable" if failure.error == "unreachable" else "token_error",
                f"Salesforce refused the authorization code ({failure.error}: "
                f"{failure.description}).",
            )
        # From here on a grant exists: every failure revokes it, so that it does not stay
        # valid (and count against the user's five approvals) unused.
        grant = tokens.refresh_token or tokens.access_token
        try:
            identity = await oauth.identity(tokens)
        except OAuthFailure as failure:
            await self._revoke_quietly(login_url, grant)
            return await self._failed(
                account_id,
                "unreachable" if failure.error == "unreachable" else "identity_failed",
                f"Salesforce did not say who signed in ({failure.description}).",
            )
        username = str(identity.get("username", ""))
        problem, usage = await self._probe(tokens, username)
        if problem is None and tokens.refresh_token is None:
            problem = (
                "token_error",
                "Salesforce issued no refresh token: give the connected app the "
                "“Perform requests at any time (refresh_token, offline_access)” scope.",
            )
        if problem is not None:
            await self._revoke_quietly(login_url, grant)
            return await self._failed(account_id, *problem)
        assert tokens.refresh_token is not None
        before = await self._doc(account_id)
        replaced = before.get("tokens")
        org = {
            "org_id": identity.get("organization_id"),
            "user_id": identity.get("user_id"),
            "username": username,
            "instance_url": tokens.instance_url,
        }
        previous = before.get("org") or {}
        another_org = bool(previous) and (previous.get("org_id"), previous.get("user_id")) != (
            org["org_id"],
            org["user_id"],
        )
        await self._set(
            account_id,
            {
                "status": ACTIVE,
                "reason": None,
                "owner_id": admin["_id"],
                "environment": environment,
                "login_url": login_url,
                "org": org,
                "tokens": {
                    "access": self._cipher.encrypt(tokens.access_token),
                    "refresh": self._cipher.encrypt(tokens.refresh_token),
                },
                "api_usage": usage,
                "connected_at": clock.now(),
                "message": f"Connected to Salesforce as {username}.",
            },
            # Another org or user: the sync starts over from a full read.
            unset=SYNC_STATE_FIELDS if another_org else (),
        )
        if replaced:
            # Re-enabled: the previous grant is of no further use, so it should not stay valid.
            await self._revoke_quietly(
                before.get("login_url") or oauth.login_url(PRODUCTION),
                self._cipher.decrypt(replaced["refresh"]),
            )
        if another_org and self.on_org_changed is not None:
            log.info("Account %s moved to another Salesforce org or user", account_id)
            await self.on_org_changed(account_id)
        if self.on_connected is not None:
            await self.on_connected(account_id)
        log.info("Account %s connected to Salesforce org %s", account_id, org["org_id"])
        return Outcome(
            True,
            "Salesforce is connected",
            f"Timetrail is connected to Salesforce as {username}. You can close this window.",
        )

    async def _probe(
        self, tokens: Tokens, username: str
    ) -> tuple[tuple[str, str] | None, dict[str, int] | None]:
        """One counted REST call (the global describe) proving that the data API works for
        this user and that Opportunities or Cases can be read. Returns the problem (reason,
        message) or None, and the API usage Salesforce reported."""
        client = self._client(tokens.instance_url, tokens.access_token)
        try:
            queryable = await client.queryable_objects()
        except ApiDisabled as exc:
            message = API_DISABLED_MESSAGE.format(username=username, code=exc.code)
            return ("api_disabled", message), _usage(client)
        except SalesforceError as exc:
            return ("salesforce_error", f"Salesforce answered {exc.code}: {exc.message}"), None
        finally:
            client.close()
        if not queryable & set(PROBED_OBJECTS):
            problem = (
                "objects_unavailable",
                f"The Salesforce user {username} can read neither Opportunities nor Cases: "
                "give the user's profile read access to at least one of them, then enable the "
                "integration again.",
            )
            return problem, _usage(client)
        return None, _usage(client)

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
            await self._revoke_quietly(
                self._login_url(doc), self._cipher.decrypt(tokens["refresh"])
            )
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

    def _login_url(self, doc: Doc) -> str:
        """The login host that issued a connection's tokens (production before it was kept)."""
        url = doc.get("login_url")
        if url:
            return str(url)
        return self._require_oauth().login_url(PRODUCTION)

    async def _revoke_quietly(self, login_url: str, token: str) -> None:
        if self._oauth is None:
            return
        try:
            await self._oauth.revoke(login_url, token)
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
        await self._set(
            caller.account_id,
            {"selection": new},
            unset=tuple(f"cursors.{name}" for name in changed),
        )
        return new, changed

    # Calling Salesforce -------------------------------------------------------------------

    def _client(self, instance_url: str, access_token: str) -> SalesforceClient:
        return SalesforceClient(instance_url, access_token, self.api_version, self._trust)

    async def call(self, account_id: str, fn: Callable[[SalesforceClient], Awaitable[T]]) -> T:
        """Run `fn` with a client for the account's connection; on an expired session refresh
        the access token (and instance URL) and retry once. A refused refresh, or a second
        refusal of the session right after a refresh, sets `needs_reauth`; Salesforce refusing
        API access sets `error` (`api_disabled`), which stops the scheduled syncs."""
        self._require_oauth()
        doc = await self._active(account_id)
        tokens = doc["tokens"]
        try:
            return await self._call_with(account_id, doc["org"]["instance_url"], tokens, fn)
        except SessionExpired:
            log.info("Salesforce session of %s expired; refreshing", account_id)
        instance_url, fresh = await self._refreshed(account_id, tokens)
        try:
            return await self._call_with(account_id, instance_url, fresh, fn)
        except SessionExpired as exc:
            await self._set(
                account_id,
                {
                    "status": NEEDS_REAUTH,
                    "reason": "session_refused",
                    "message": "Salesforce refused the session it had just renewed "
                    f"({exc.code}: {exc.message}). An administrator should enable the "
                    "integration again.",
                },
            )
            raise

    async def _active(self, account_id: str) -> Doc:
        doc = await self._doc(account_id)
        if doc["status"] != ACTIVE or not doc.get("tokens"):
            raise ConflictError(
                "The Salesforce integration is not connected.", code="not_connected"
            )
        return doc

    async def _call_with(
        self,
        account_id: str,
        instance_url: str,
        tokens: dict[str, str],
        fn: Callable[[SalesforceClient], Awaitable[T]],
    ) -> T:
        client = self._client(instance_url, self._cipher.decrypt(tokens["access"]))
        try:
            return await fn(client)
        except ApiDisabled as exc:
            await self._api_disabled(account_id, tokens, exc)
            raise
        finally:
            client.close()
            await self._record_usage(account_id, client)

    async def _api_disabled(
        self, account_id: str, tokens: dict[str, str], exc: ApiDisabled
    ) -> None:
        doc = await self._doc(account_id)
        username = (doc.get("org") or {}).get("username", "")
        message = API_DISABLED_MESSAGE.format(username=username, code=exc.code)
        # Only over the connection that was refused: a re-enable meanwhile wins.
        await self._store.integrations.update_one(
            {"_id": account_id, "status": ACTIVE, "tokens.access": tokens["access"]},
            {
                "$set": {
                    "status": ERROR,
                    "reason": "api_disabled",
                    "message": message,
                    "updated_at": clock.now(),
                }
            },
        )
        log.warning("Salesforce refuses API access for account %s (%s)", account_id, exc.code)

    async def _refreshed(self, account_id: str, used: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The instance URL and the (encrypted, as stored) tokens to use instead of `used`,
        whose access token was refused: refreshed here, or what a concurrent refresh stored."""
        oauth = self._require_oauth()
        async with self._refresh_locks[account_id]:
            doc = await self._doc(account_id)
            if doc["status"] == NEEDS_REAUTH and doc.get("reason") == "refresh_refused":
                # A concurrent refresh was just refused: so would ours be.
                raise OAuthFailure("invalid_grant", str(doc.get("message")))
            doc = await self._active(account_id)
            stored = doc["tokens"]
            if stored["access"] != used["access"]:
                # Refreshed meanwhile (here, by another process, or re-enabled): use that one.
                return doc["org"]["instance_url"], stored
            try:
                fresh = await oauth.refresh(
                    self._login_url(doc), self._cipher.decrypt(stored["refresh"])
                )
            except OAuthFailure as failure:
                if failure.error != "invalid_grant":
                    raise
                # With rotation, a process that refreshed first has made our refresh token
                # invalid; its write may be a moment behind its refresh.
                winner = await self._winner(account_id, stored)
                if winner is None:
                    await asyncio.sleep(self.refresh_race_grace)
                    winner = await self._winner(account_id, stored)
                if winner is not None:
                    return winner
                await self._store.integrations.update_one(
                    {"_id": account_id, "tokens.refresh": stored["refresh"]},
                    {
                        "$set": {
                            "status": NEEDS_REAUTH,
                            "reason": "refresh_refused",
                            "message": "Salesforce refused to renew the connection "
                            f"({failure.description}). An administrator should enable it "
                            "again.",
                            "updated_at": clock.now(),
                        }
                    },
                )
                raise
            renewed = {"access": self._cipher.encrypt(fresh.access_token)}
            update = {"tokens.access": renewed["access"], "org.instance_url": fresh.instance_url}
            assert fresh.refresh_token is not None
            if fresh.refresh_token != self._cipher.decrypt(stored["refresh"]):
                update["tokens.refresh"] = self._cipher.encrypt(fresh.refresh_token)
            renewed["refresh"] = update.get("tokens.refresh", stored["refresh"])
            written = await self._store.integrations.update_one(
                {"_id": account_id, "tokens.refresh": stored["refresh"]}, {"$set": update}
            )
            if not written.matched:
                # Another process rotated the refresh token first (or a re-enable replaced it).
                winner = await self._winner(account_id, stored)
                if winner is not None:
                    return winner
            if "tokens.refresh" in update:
                # A process that lost the race to us and gave up too early took our rotation
                # for a refused refresh: the connection works.
                await self._store.integrations.update_one(
                    {
                        "_id": account_id,
                        "tokens.refresh": update["tokens.refresh"],
                        "status": NEEDS_REAUTH,
                        "reason": "refresh_refused",
                    },
                    {
                        "$set": {
                            "status": ACTIVE,
                            "reason": None,
                            "message": f"Connected to Salesforce as {doc['org']['username']}.",
                            "updated_at": clock.now(),
                        }
                    },
                )
            return fresh.instance_url, renewed

    async def _winner(
        self, account_id: str, stored: dict[str, str]
    ) -> tuple[str, dict[str, str]] | None:
        """After losing a refresh race: the instance URL and tokens the winner stored, or None
        when the stored refresh token is still the one we used."""
        doc = await self._active(account_id)
        if doc["tokens"]["refresh"] == stored["refresh"]:
            return None
        return doc["org"]["instance_url"], doc["tokens"]

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
