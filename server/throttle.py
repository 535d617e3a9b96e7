"""Sign-in throttling: an attempt is reserved before its password is checked, per email and per
client address, so that no burst gets more checks than the limits allow.

A subject (an email, an address) has one document in `login_attempts`, keyed `<kind>:<subject>`:
the checks reserved in its current window, the time it is locked until, when it may be forgotten
(`expires_at`) and a revision. A reservation reads the document and writes the next state with
one conditional update on that revision (compare-and-set): the store has no transactions, but a
single-document update is atomic on every backend, so two requests can never both take the last
check. Within a window the first `free` checks go at once; the `free`-th and each one after it
lock the subject for a doubling delay, capped. A subject left alone for a window after its last
check, or after its lock ends, starts afresh; its document is purged then (on a later write: see
`Throttle._purge`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
from dataclasses import dataclass

from . import clock
from .errors import TooManyRequestsError
from .store import Collection, Doc, DuplicateKeyError

log = logging.getLogger(__name__)

# Compare-and-set rounds a reservation tries before it gives up (only contention ends them: a
# burst on one subject, itself worth turning away).
ROUNDS = 8
# How often, at most, one process deletes the expired documents.
PURGE_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Policy:
    kind: str
    free: int
    window: dt.timedelta
    first_lock: dt.timedelta
    max_lock: dt.timedelta

    def lock(self, checks: int) -> dt.timedelta:
        """The lock the `checks`-th check of a window sets: none before the `free`-th, then
        `first_lock`, doubling with each check, at most `max_lock` (the exponent is bounded
        too, so a years-long attack cannot overflow it)."""
        over = checks - self.free
        if over < 0:
            return dt.timedelta(0)
        doublings = min(over, math.ceil(math.log2(self.max_lock / self.first_lock)))
        return min(self.first_lock * (1 << doublings), self.max_lock)


# At most 5 password checks per email per window of 15 minutes, then one per lock.
EMAIL = Policy(
    "email",
    free=5,
    window=dt.timedelta(minutes=15),
    first_lock=dt.timedelta(seconds=30),
    max_lock=dt.timedelta(minutes=15),
)
# Per client address: failures and checks under way (a successful sign-in gives its check back),
# whatever emails they name, unknown ones included.
ADDRESS = Policy(
    "address",
    free=20,
    window=dt.timedelta(minutes=15),
    first_lock=dt.timedelta(seconds=30),
    max_lock=dt.timedelta(minutes=15),
)


def address_subject(remote: str) -> str:
    """What a client address is counted as: an IPv4 address itself, an IPv6 one by its /64
    network (what one host or site is given, so hopping within it counts as one client)."""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Throttle:
    def __init__(self, attempts: Collection) -> None:
        self._attempts = attempts
        self._purged_at: dt.datetime | None = None

    async def reserve(self, policy: Policy, subject: str) -> str:
        """Take one check for `subject`; returns the key to `release` or `forget` it by.
        Raises `TooManyRequestsError` (with the wait) when the subject is locked."""
        key = f"{policy.kind}:{subject}"
        for _ in range(ROUNDS):
            now = clock.now()
            doc = await self._attempts.find_one({"_id": key})
            # A window that starts after now was opened before the clock was set back: it
            # would lock for as long as the clock moved, so it starts afresh.
            if doc is None or doc["expires_at"] <= now or doc["window_start"] > now:
                if await self._start(policy, key, doc, now):
                    return key
                continue
            if doc["locked_until"] > now:
                wait = math.ceil((doc["locked_until"] - now).total_seconds())
                raise TooManyRequestsError(_refusal(policy, wait), retry_after=max(wait, 1))
            checks = int(doc["checks"]) + 1
            lock = policy.lock(checks)
            locked_until = now + lock
            expires_at = locked_until + policy.window
            taken = await self._attempts.find_one_and_update(
                {"_id": key, "rev": doc["rev"]},
                {
                    "$set": {
                        "checks": checks,
                        "locked_until": locked_until,
                        "expires_at": expires_at,
                    },
                    "$inc": {"rev": 1},
                },
            )
            if taken is not None:
                if lock:
                    log.warning(
                        "Sign-in for %s %s locked for %s after %d checks",
                        policy.kind,
                        subject,
                        lock,
                        checks,
                    )
                return key
        raise TooManyRequestsError(_refusal(policy, 1), retry_after=1)

    async def _start(self, policy: Policy, key: str, old: Doc | None, now: dt.datetime) -> bool:
        """A new window with its first check taken; False when another request changed the
        document first."""
        lock = policy.lock(1)
        fresh = {
            "checks": 1,
            "window_start": now,
            "locked_until": now + lock,
            "expires_at": now + lock + policy.window,
        }
        if old is None:
            try:
                await self._attempts.insert_one({"_id": key, "rev": 0, **fresh})
            except DuplicateKeyError:
                return False
            await self._purge(now)
            return True
        taken = await self._attempts.find_one_and_update(
            {"_id": key, "rev": old["rev"]}, {"$set": fresh, "$inc": {"rev": 1}}
        )
        return taken is not None

    async def release(self, key: str) -> None:
        """Give back a check that was not a failure."""
        await self._attempts.update_one(
            {"_id": key, "checks": {"$gt": 0}}, {"$inc": {"checks": -1, "rev": 1}}
        )

    async def forget(self, key: str) -> None:
        """Start the subject afresh (its password was right)."""
        await self._attempts.delete_one({"_id": key})

    async def _purge(self, now: dt.datetime) -> None:
        """Delete what has expired, at most once per `PURGE_EVERY` (new documents are what
        grows the collection, so it runs as one is written): the same on every backend."""
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        await self._attempts.delete_many({"expires_at": {"$lte": now}})


def _refusal(policy: Policy, wait: int) -> str:
    subject = "this email" if policy.kind == "email" else "this address"
    return f"Too many sign-in attempts for {subject}. Try again in {wait} seconds."
