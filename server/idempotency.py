"""Idempotent writes: a request sent again with the same `Idempotency-Key` gets the first answer.

A client that got no answer (a timeout, a dropped connection, a queue replayed after the network
came back) cannot know whether its write happened; it sends the same request with the same key
and gets the answer the first one got, without the write running twice. Keys are the caller's
own (one user's key never meets another's) and are kept `KEEP` (24 hours).

A key has one document in `idempotency_keys`, `_id` `<user id>:<key>`: the request's fingerprint
(method, path and body), its state and, once done, the answer (status, body). The first request
inserts it as `running`: the unique `_id` lets exactly one of several concurrent requests run,
the others are told it is still running (409 `idempotency_key_in_use`). A key sent again with a
different request is refused (422 `idempotency_key_reused`): the client has mixed up its keys.
An answer that is an error of the caller's (4xx) is kept like any other; a failure of the
server's (an unexpected exception) releases the key, so the same request can be tried again.
A reservation left `running` by a process that died is taken over after `STALE`.

Expiry is enforced on read (an expired key counts as never used) and expired documents are
deleted as new ones are written, at most once per `PURGE_EVERY`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from . import clock
from .errors import ApiError, ConflictError, InvalidRequestError, UnprocessableError
from .store import Collection, Doc, DuplicateKeyError

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEEP = dt.timedelta(hours=24)
# A request runs for seconds at most (its body must arrive within 30): a reservation still
# `running` after this long belongs to a process that died.
STALE = dt.timedelta(minutes=2)
PURGE_EVERY = dt.timedelta(minutes=1)
# Printable ASCII without spaces, as UUIDs and the usual key formats are.
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
# Rounds of insert / read before giving up (only a key expiring or released meanwhile loops).
ROUNDS = 5

RUNNING = "running"
DONE = "done"


@dataclass(frozen=True)
class Answer:
    """What a request answered, as it is kept and replayed."""

    status: int
    body: bytes
    content_type: str | None


def parse_key(value: str | None) -> str | None:
    """The header's key, None when it was not sent; 400 when it is not a key."""
    if value is None:
        return None
    key = value.strip()
    if not _KEY.match(key):
        raise InvalidRequestError(
            f"{HEADER} must be 1 to 200 printable characters without spaces (a UUID, say)."
        )
    return key


def fingerprint(method: str, path_qs: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path_qs.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class Idempotency:
    def __init__(self, keys: Collection) -> None:
        self._keys = keys
        self._purged_at: dt.datetime | None = None

    async def once(
        self,
        user_id: str,
        key: str,
        print_: str,
        run: Callable[[], Awaitable[Answer]],
        error_answer: Callable[[ApiError], Answer],
    ) -> tuple[Answer, bool]:
        """The answer to this request: `run`'s, or the kept one if this key was used before.
        Returns (answer, replayed)."""
        doc_id = f"{user_id}:{key}"
        for _ in range(ROUNDS):
            now = clock.now()
            await self._purge(now)
            reservation = {
                "_id": doc_id,
                "user_id": user_id,
                "fingerprint": print_,
                "state": RUNNING,
                "created_at": now,
                "expires_at": now + KEEP,
            }
            try:
                await self._keys.insert_one(reservation)
            except DuplicateKeyError:
                kept = await self._keys.find_one({"_id": doc_id})
                if kept is None:
                    continue  # released meanwhile: reserve it afresh
                if kept["expires_at"] <= now:
                    await self._keys.delete_one({"_id": doc_id, "created_at": kept["created_at"]})
                    continue
                if kept["fingerprint"] != print_:
                    raise UnprocessableError(
                        f"This {HEADER} was used for a different request; send a new key for "
                        "a new request.",
                        code="idempotency_key_reused",
                    ) from None
                if kept["state"] == DONE:
                    return _kept_answer(kept), True
                if now - kept["created_at"] < STALE or not await self._take_over(kept, now):
                    raise ConflictError(
                        f"A request with this {HEADER} is still being processed; send it again "
                        "in a moment for its answer.",
                        code="idempotency_key_in_use",
                    ) from None
            return await self._run(doc_id, run, error_answer), False
        raise ConflictError(
            f"This {HEADER} is changing hands; send the request again.",
            code="idempotency_key_in_use",
        )

    async def _take_over(self, kept: Doc, now: dt.datetime) -> bool:
        """Claim a reservation whose process died (compare-and-set on its `created_at`)."""
        taken = await self._keys.update_one(
            {"_id": kept["_id"], "state": RUNNING, "created_at": kept["created_at"]},
            {"$set": {"created_at": now, "expires_at": now + KEEP}},
        )
        if taken.matched:
            log.warning("Took over an idempotency key left running since %s", kept["created_at"])
        return bool(taken.matched)

    async def _run(
        self,
        doc_id: str,
        run: Callable[[], Awaitable[Answer]],
        error_answer: Callable[[ApiError], Answer],
    ) -> Answer:
        try:
            answer = await run()
        except ApiError as error:
            if error.status >= 500:
                await self._keys.delete_one({"_id": doc_id})
                raise
            await self._keep(doc_id, error_answer(error))
            raise
        except BaseException:
            await self._keys.delete_one({"_id": doc_id})
            raise
        await self._keep(doc_id, answer)
        return answer

    async def _keep(self, doc_id: str, answer: Answer) -> None:
        await self._keys.update_one(
            {"_id": doc_id},
            {
                "$set": {
                    "state": DONE,
                    "status": answer.status,
                    "body": answer.body.decode("utf-8"),
                    "content_type": answer.content_type,
                }
            },
        )

    async def _purge(self, now: dt.datetime) -> None:
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        await self._keys.delete_many({"expires_at": {"$lte": now}})


def _kept_answer(doc: Doc) -> Answer:
    return Answer(int(doc["status"]), str(doc["body"]).encode("utf-8"), doc.get("content_type"))
