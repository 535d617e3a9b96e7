"""Passwords (Argon2id, slow and salted), bearer tokens (random, stored only as a hash).

Argon2 is the slowest thing a request can ask for (~0.1 s of CPU a check), so password work runs
in a small pool of its own threads (Argon2 releases the GIL), never on the event loop, and sign-in
checks wait there only while few are waiting: the rest are refused at once (`HashingBusy`) instead
of queueing behind a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")

# Threads hashing at once (the machine's cores are shared with everything else the server does).
HASHING_THREADS = 2
# Sign-in checks admitted at once, hashing or waiting for a thread (`checking_slot`).
MAX_PENDING_CHECKS = 16

_hasher = PasswordHasher()

# Verified against when an email is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

_pool = ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="password-hashing")
_pending_checks = 0


class HashingBusy(Exception):
    """`MAX_PENDING_CHECKS` password checks are under way already."""


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the Argon2 parameters (the test suite uses cheap ones to stay fast)."""
    global _hasher, _DUMMY_HASH  # noqa: PLW0603 - one process-wide policy
    _hasher = hasher
    _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


@contextlib.contextmanager
def checking_slot() -> Iterator[None]:
    """Room for one password check (the event loop's thread alone counts them): raises
    `HashingBusy` when there is none, before the caller spends anything on the attempt."""
    global _pending_checks  # noqa: PLW0603 - one process-wide queue
    if _pending_checks >= MAX_PENDING_CHECKS:
        raise HashingBusy
    _pending_checks += 1
    try:
        yield
    finally:
        _pending_checks -= 1


async def _in_pool(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, work)


async def hash_password(password: str) -> str:
    hasher = _hasher
    return await _in_pool(lambda: hasher.hash(password))


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; without a hash (an unknown email) it costs the same and is
    False."""
    hasher, dummy = _hasher, _DUMMY_HASH

    def verify() -> bool:
        try:
            return hasher.verify(password_hash or dummy, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await _in_pool(verify)


def new_token() -> str:
    """A bearer token: 256 random bits, shown once."""
    return "tt_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are high-entropy, so a plain SHA-256 is the right lookup key (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
