"""Accounts, users, sign-in and bearer tokens."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from . import clock, security, throttle
from .errors import (
    ConflictError,
    ForbiddenError,
    InvalidCredentialsError,
    InvalidRequestError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from .ids import new_id
from .memory import Remembered
from .paging import Page
from .rates import RATE, format_money, parse_rate
from .store import Doc, DuplicateKeyError, Store
from .text import clean_name

# The account's idle minutes: after how long without input, while a timer runs, the extension
# asks about the idle time (an account setting, `account_settings.py`; each person may choose
# otherwise in their extension). Everyone reads it in `me`.
IDLE_MINUTES = "idle_minutes"
DEFAULT_IDLE_MINUTES = 10
IDLE_MINUTES_RANGE = (1, 240)  # as the extension's own setting


def idle_minutes(account: Doc) -> int:
    minutes = account.get(IDLE_MINUTES)
    return DEFAULT_IDLE_MINUTES if minutes is None else int(minutes)


log = logging.getLogger(__name__)

ADMINISTRATOR = "administrator"
USER = "user"
ACCOUNT_ROLES = (ADMINISTRATOR, USER)

# An email as the server takes it: something, @, a domain with a dot, no spaces (also the
# pattern the OpenAPI document gives).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)

# Signed-in callers remembered (see `Accounts.__init__`).
KNOWN_CALLERS = 10_000
# A token unused this long is refused (`TIMETRAIL_TOKEN_IDLE_DAYS`); its last use is written at
# most once per TOKEN_TOUCH, so using a token costs no write per request.
TOKEN_IDLE = dt.timedelta(days=30)
TOKEN_TOUCH = dt.timedelta(hours=1)
# How often, at most, one process deletes the tokens that expired unused (as a sign-in issues one).
TOKEN_PURGE_EVERY = dt.timedelta(hours=1)

_INVALID_TOKEN = "The token is missing, invalid or revoked. Sign in again."
# Emails are unique across the server (sign-in is by email alone). The refusal is the same
# whichever account holds the email, and does not say which.
_EMAIL_TAKEN = "This email address is already in use."


@dataclass(frozen=True)
class Caller:
    """Who is calling, resolved from the bearer token."""

    user_id: str
    account_id: str
    role: str
    email: str
    name: str
    token_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMINISTRATOR

    @classmethod
    def of(cls, user: Doc, token_hash: str) -> Caller:
        return cls(
            user_id=user["_id"],
            account_id=user["account_id"],
            role=user["role"],
            email=user["email"],
            name=user["name"],
            token_hash=token_hash,
        )


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise InvalidRequestError("email is not a valid email address.")
    return email


def normalize_password(value: str) -> str:
    """The one rule for every password, wherever it comes from (the API, a prompt, a pipe):
    the whitespace around it (spaces, tabs, a line's end, `\\r\\n` included) is not part of it."""
    return value.strip()


def validate_password(value: str) -> str:
    """A new password, normalised (`normalize_password`) and long enough."""
    password = normalize_password(value)
    if len(password) < 8:
        raise InvalidRequestError("password must be at least 8 characters.")
    if len(password) > 1024:
        raise InvalidRequestError("password must be at most 1024 characters.")
    return password


def user_view(doc: Doc) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "email": doc["email"],
        "name": doc["name"],
        "role": doc["role"],
        "active": doc["active"],
    }


def admin_user_view(doc: Doc) -> dict[str, Any]:
    """A user as administrators see them: with their hourly rate (null: none set, the task's
    applies)."""
    return {**user_view(doc), RATE: format_money(doc.get(RATE))}


class Accounts:
    def __init__(self, store: Store, *, token_idle: dt.timedelta = TOKEN_IDLE) -> None:
        self._store = store
        self._token_idle = token_idle
        self._throttle = throttle.Throttle(store.login_attempts)
        self._tokens_purged_at: dt.datetime | None = None
        # Callers by token, with their token's last recorded use, while `tokens` and `users` are
        # unwritten (a sign-out, a deactivation, a role change all write one of them). Keyed by
        # the token itself, so that a known caller costs no hashing (a SHA-256 per request was
        # a few per cent of a timer call's CPU): the store keeps only hashes; this memory is the
        # process's own, which holds every token it is sent, and the key that opens the pages'
        # session cookies (each one holding a token), anyway.
        self._callers: Remembered[str, tuple[Caller, dt.datetime]] = Remembered(KNOWN_CALLERS)

    # Accounts -----------------------------------------------------------------------------

    async def has_accounts(self) -> bool:
        return await self._store.accounts.find_one({}) is not None

    async def create_account(
        self, account_name: str, email: str, name: str, password: str
    ) -> tuple[Doc, Doc, str]:
        """A new, isolated account with its first administrator; returns a token for them."""
        account_name = clean_name(account_name)
        if not account_name:
            raise InvalidRequestError("account name must not be empty.")
        email = normalize_email(email)
        password = validate_password(password)
        existing = await self._store.users.find_one({"email": email})
        if existing is None:
            # The user first: the unique email index decides a race between two creations,
            # and the loser leaves nothing behind.
            user = await self._insert_user(new_id(), email, name, password, ADMINISTRATOR)
        elif await self._store.accounts.find_one({"_id": existing["account_id"]}) is None:
            # A creation that stopped between its two writes left its administrator without an
            # account: running it again finishes it, with what is given now.
            user = await self._revive_administrator(existing, name, password)
        else:
            raise ConflictError(f"{email} is already in use.", code="email_taken")
        account: Doc = {
            "_id": user["account_id"],
            "name": account_name,
            # The active administrators, kept here so that "never remove the last one" is a
            # single atomic update on this document.
            "admins": [user["_id"]],
            "created_at": clock.now(),
        }
        await self._store.accounts.update_one(
            {"_id": account["_id"]},
            {"$setOnInsert": {k: v for k, v in account.items() if k != "_id"}},
            upsert=True,
        )
        token = await self._issue_token(user)
        return account, user, token

    async def _revive_administrator(self, user: Doc, name: str, password: str) -> Doc:
        name = clean_name(name)
        if not name:
            raise InvalidRequestError("name must not be empty.")
        changes = {
            "name": name,
            "role": ADMINISTRATOR,
            "active": True,
            "password_hash": await security.hash_password(password),
        }
        await self._store.users.update_one({"_id": user["_id"]}, {"$set": changes})
        return {**user, **changes}

    # Sign-in -------------------------------------------------------------------------------

    async def login(self, email: str, password: str, address: str | None = None) -> tuple[str, Doc]:
        """A token for the user with this email and password, from the client at `address`."""
        key = email.strip().lower()
        user = await self._check_password(key, password, address)
        if user is None:
            raise InvalidCredentialsError("The email or password is not correct.")
        token = await self._issue_token(user)
        return token, user

    async def _check_password(self, email: str, password: str, address: str | None) -> Doc | None:
        """The active user `email` names if `password` is theirs, else None; throttled.

        Room in the hashing queue comes first (refusing costs nothing then), then one check
        reserved for the client's address and one for the email (`throttle.py`), and only then
        the slow hash: however many attempts arrive at once, an email gets at most its
        policy's checks. An unknown email costs the same hash and counts the same."""
        try:
            with security.checking_slot():
                address_key = None
                if address:
                    address_key = await self._throttle.reserve(
                        throttle.ADDRESS, throttle.address_subject(address)
                    )
                try:
                    email_key = await self._throttle.reserve(throttle.EMAIL, email)
                except TooManyRequestsError:
                    if address_key is not None:
                        await self._throttle.release(address_key)
                    raise
                user = await self._store.users.find_one({"email": email})
                ok = await security.verify_password(
                    user["password_hash"] if user else None, normalize_password(password)
                )
        except security.HashingBusy:
            raise TooManyRequestsError(
                "The server is busy checking other sign-ins. Try again in a moment.",
                retry_after=1,
            ) from None
        if not ok or user is None or not user["active"]:
            return None
        await self._throttle.forget(email_key)
        if address_key is not None:
            await self._throttle.release(address_key)
        return user

    async def change_password(
        self, caller: Caller, current: str, new: str, address: str | None = None
    ) -> None:
        """The caller's own password; their other tokens are revoked, the calling one kept."""
        new = validate_password(new)
        if await self._check_password(caller.email, current, address) is None:
            raise ForbiddenError("The current password is not correct.")
        await self._set_password(caller.user_id, new, keep_token=caller.token_hash)

    async def _set_password(self, user_id: str, password: str, *, keep_token: str | None) -> Doc:
        """Store a (validated) password's hash and revoke the user's tokens but `keep_token`."""
        doc = await self._store.users.find_one_and_update(
            {"_id": user_id}, {"$set": {"password_hash": await security.hash_password(password)}}
        )
        if doc is None:
            raise NotFoundError("No such user.")
        revoked: dict[str, Any] = {"user_id": user_id}
        if keep_token is not None:
            revoked["_id"] = {"$ne": keep_token}
        await self._store.tokens.delete_many(revoked)
        return doc

    async def _issue_token(self, user: Doc) -> str:
        await self._purge_idle_tokens()
        token = security.new_token()
        await self._store.tokens.insert_one(
            {
                "_id": security.token_hash(token),
                "user_id": user["_id"],
                "account_id": user["account_id"],
                "created_at": clock.now(),
                "last_used_at": clock.now(),
            }
        )
        return token

    async def _purge_idle_tokens(self) -> None:
        """Delete the tokens unused for the idle limit (those presented are refused anyway;
        this keeps the abandoned ones from piling up), at most once per `TOKEN_PURGE_EVERY`."""
        now = clock.now()
        if self._tokens_purged_at is not None and now - self._tokens_purged_at < TOKEN_PURGE_EVERY:
            return
        self._tokens_purged_at = now
        cutoff = now - self._token_idle
        await self._store.tokens.delete_many({"last_used_at": {"$lt": cutoff}})
        # Tokens issued before uses were recorded count from their creation.
        await self._store.tokens.delete_many(
            {"last_used_at": {"$exists": False}, "created_at": {"$lt": cutoff}}
        )

    async def authenticate(self, token: str) -> Caller:
        """The caller a token names, unless it is revoked or went unused for the idle limit;
        its use is recorded when the last record is `TOKEN_TOUCH` old."""
        now = clock.now()
        versions = (self._store.tokens.version(), self._store.users.version())
        known = self._callers.get(token, versions)
        if known is not None and now - known[1] < TOKEN_TOUCH:
            return known[0]
        digest = security.token_hash(token)
        record = await self._store.tokens.find_one({"_id": digest})
        if record is None:
            raise UnauthorizedError(_INVALID_TOKEN)
        last_used: dt.datetime = record.get("last_used_at") or record["created_at"]
        if now - last_used > self._token_idle:
            await self._store.tokens.delete_one({"_id": digest})
            raise UnauthorizedError("The token expired unused. Sign in again.")
        user = await self._store.users.find_one({"_id": record["user_id"]})
        if user is None or not user["active"]:
            raise UnauthorizedError(_INVALID_TOKEN)
        if now - last_used >= TOKEN_TOUCH:
            touched = await self._store.tokens.update_one(
                {"_id": digest}, {"$set": {"last_used_at": now}}
            )
            if not touched.matched:  # revoked meanwhile
                raise UnauthorizedError(_INVALID_TOKEN)
            last_used = now
            versions = (self._store.tokens.version(), self._store.users.version())
        caller = Caller.of(user, digest)
        self._callers.put(token, versions, (caller, last_used))
        return caller

    async def logout(self, caller: Caller) -> None:
        await self._store.tokens.delete_one({"_id": caller.token_hash})

    async def me(self, caller: Caller) -> dict[str, Any]:
        account = await self._store.accounts.find_one({"_id": caller.account_id})
        return {
            "id": caller.user_id,
            "email": caller.email,
            "name": caller.name,
            "role": caller.role,
            "account": {
                "id": caller.account_id,
                "name": account["name"] if account else "",
                IDLE_MINUTES: idle_minutes(account or {}),
            },
        }

    # Users ---------------------------------------------------------------------------------

    @staticmethod
    def require_admin(caller: Caller) -> None:
        if not caller.is_admin:
            raise ForbiddenError("Only administrators can do this.")

    async def get_user(self, caller: Caller, user_id: str) -> Doc:
        user = await self._store.users.find_one({"_id": user_id, "account_id": caller.account_id})
        if user is None:
            raise NotFoundError("No such user.")
        return user

    async def users_by_id(self, account_id: str, user_ids: list[str]) -> dict[str, Doc]:
        if not user_ids:
            return {}
        docs = await self._store.users.find({"_id": {"$in": user_ids}, "account_id": account_id})
        return {d["_id"]: d for d in docs}

    async def list_users(self, caller: Caller, page: Page) -> tuple[list[Doc], str | None]:
        self.require_admin(caller)
        docs = await self._store.users.find(
            {"account_id": caller.account_id},
            sort=[("email", 1)],
            skip=page.offset,
            limit=page.limit + 1,
        )
        return docs[: page.limit], page.next_cursor(
            min(len(docs), page.limit), len(docs) > page.limit
        )

    async def create_user(
        self, caller: Caller, email: str, name: str, password: str, role: str
    ) -> Doc:
        self.require_admin(caller)
        email = normalize_email(email)
        password = validate_password(password)
        user = await self._insert_user(caller.account_id, email, name, password, role)
        if role == ADMINISTRATOR:
            await self._store.accounts.update_one(
                {"_id": caller.account_id}, {"$addToSet": {"admins": user["_id"]}}
            )
        return user

    async def _insert_user(
        self, account_id: str, email: str, name: str, password: str, role: str
    ) -> Doc:
        name = clean_name(name)
        if not name:
            raise InvalidRequestError("name must not be empty.")
        user = {
            "_id": new_id(),
            "account_id": account_id,
            "email": email,
            "name": name,
            "role": role,
            "active": True,
            "password_hash": await security.hash_password(password),
            "created_at": clock.now(),
        }
        try:
            await self._store.users.insert_one(user)
        except DuplicateKeyError:
            raise ConflictError(_EMAIL_TAKEN, code="email_taken") from None
        return user

    async def update_user(self, caller: Caller, user_id: str, changes: dict[str, Any]) -> Doc:
        self.require_admin(caller)
        password = changes.get("password")
        if password is not None:
            password = validate_password(password)
        user = await self.get_user(caller, user_id)
        was_admin = user["role"] == ADMINISTRATOR and user["active"]
        role = changes.get("role", user["role"])
        active = changes.get("active", user["active"])
        is_admin = role == ADMINISTRATOR and active
        if was_admin and not is_admin:
            await self._release_admin(caller.account_id, user_id)
        updates = {k: v for k, v in changes.items() if k in ("name", "role", "active")}
        if RATE in changes:
            updates[RATE] = parse_rate(changes[RATE])
        if password is not None:
            # Every token of the user ends, but the calling one when it is theirs.
            keep = caller.token_hash if user_id == caller.user_id else None
            user = await self._set_password(user_id, password, keep_token=keep)
        if not updates:
            return user
        doc = await self._store.users.find_one_and_update(
            {"_id": user_id, "account_id": caller.account_id}, {"$set": updates}
        )
        if doc is None:
            raise NotFoundError("No such user.")
        if is_admin and not was_admin:
            await self._store.accounts.update_one(
                {"_id": caller.account_id}, {"$addToSet": {"admins": user_id}}
            )
        if user["active"] and not active:
            await self._store.tokens.delete_many({"user_id": user_id})
        return doc

    async def _release_admin(self, account_id: str, user_id: str) -> None:
        """Take the user off the account's administrators, unless they are the last one.

        One conditional update decides it, so two administrators demoting each other at once
        cannot both succeed."""
        released = await self._store.accounts.find_one_and_update(
            {"_id": account_id, "admins": user_id, "admins.1": {"$exists": True}},
            {"$pull": {"admins": user_id}},
        )
        if released is None:
            raise ConflictError(
                "This is the account's last active administrator; make another user an "
                "administrator first.",
                code="last_administrator",
            )
