"""The one place that names the collections and declares their indexes.

Hot lookups go by `_id` (tokens by hash, memberships by task and user) or by a unique key (a
user's running entry by `timer_of`), so they are a key lookup on every backend; the secondary
indexes below serve the remaining equality queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

ACCOUNTS: Final = "accounts"
USERS: Final = "users"
TOKENS: Final = "tokens"
LOGIN_ATTEMPTS: Final = "login_attempts"
TASKS: Final = "tasks"
MEMBERSHIPS: Final = "memberships"
TIMERS: Final = "timers"
ENTRIES: Final = "entries"
INTEGRATIONS: Final = "integrations"
OAUTH_STATES: Final = "oauth_states"
SYNC_RUNS: Final = "sync_runs"
SYNC_LEASES: Final = "sync_leases"
# The first answer to a write sent with an `Idempotency-Key`, per user and key, for 24 hours.
IDEMPOTENCY_KEYS: Final = "idempotency_keys"

ALL: Final = (
    ACCOUNTS,
    USERS,
    TOKENS,
    LOGIN_ATTEMPTS,
    TASKS,
    MEMBERSHIPS,
    TIMERS,
    ENTRIES,
    INTEGRATIONS,
    OAUTH_STATES,
    SYNC_RUNS,
    SYNC_LEASES,
    IDEMPOTENCY_KEYS,
)


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: tuple[tuple[str, int], ...]
    name: str
    unique: bool = False
    sparse: bool = False
    partial: dict[str, Any] | None = None
    # The key fields whose documents hold arrays: the embedded store keeps their elements in a
    # side table, one row each (such an index has that one field and is not unique).
    arrays: tuple[str, ...] = ()


INDEXES: Final[tuple[IndexSpec, ...]] = (
    # Sign-in is by email alone, so an email is unique across the whole server.
    IndexSpec(USERS, (("email", 1),), "email_unique", unique=True),
    IndexSpec(USERS, (("account_id", 1), ("email", 1)), "account_users"),
    IndexSpec(TOKENS, (("user_id", 1),), "tokens_by_user"),
    # The periodic purges of tokens unused too long and of expired sign-in records ask by range.
    IndexSpec(TOKENS, (("last_used_at", 1),), "tokens_by_last_use"),
    IndexSpec(LOGIN_ATTEMPTS, (("expires_at", 1),), "login_attempts_by_expiry"),
    # A task's children; an account's whole tree in batches by (parent_id, _id) (the search
    # index loads so: `tree_index.TreeIndex`).
    IndexSpec(TASKS, (("account_id", 1), ("parent_id", 1), ("_id", 1)), "tasks_by_parent"),
    IndexSpec(TASKS, (("ancestors", 1),), "tasks_by_ancestor", arrays=("ancestors",)),
    # An imported record maps to exactly one task per account, forever (the key starts with
    # the account's id: see `tree.source_key`).
    IndexSpec(
        TASKS,
        (("source_key", 1),),
        "tasks_source_unique",
        unique=True,
        partial={"source_key": {"$exists": True}},
    ),
    IndexSpec(MEMBERSHIPS, (("user_id", 1), ("task_id", 1)), "memberships_by_user"),
    IndexSpec(MEMBERSHIPS, (("account_id", 1), ("task_id", 1)), "memberships_by_task"),
    IndexSpec(MEMBERSHIPS, (("path_ids", 1),), "memberships_by_subtree", arrays=("path_ids",)),
    # A user's entries by time (their list, reports), and a task's.
    IndexSpec(ENTRIES, (("account_id", 1), ("user_id", 1), ("start", 1)), "entries_by_user_start"),
    IndexSpec(ENTRIES, (("account_id", 1), ("task_id", 1)), "entries_by_task"),
    # Reports read an account's entries by start, in batches after the last (start, _id) read
    # (`Collection.rows`); the fields a report adds up follow, so the index alone answers it.
    IndexSpec(
        ENTRIES,
        tuple(
            (field, 1)
            for field in ("account_id", "start", "_id", "user_id", "task_id", "end", "billable")
        ),
        "entries_by_account_start",
    ),
    # A running entry names its user in `timer_of` (removed when it stops): one running timer
    # per user, however many starts race, on every backend.
    IndexSpec(ENTRIES, (("timer_of", 1),), "one_timer_per_user", unique=True, sparse=True),
    # Expired keys are purged by range (`idempotency.Idempotency._purge`).
    IndexSpec(IDEMPOTENCY_KEYS, (("expires_at", 1),), "idempotency_by_expiry"),
    IndexSpec(SYNC_RUNS, (("account_id", 1), ("started_at", -1)), "runs_by_account"),
)
# Indexes earlier versions made and no query reads (each costs every write): dropped at start-up.
RETIRED: Final = ((ENTRIES, "entries_by_end"), (TIMERS, "timers_by_account"))
