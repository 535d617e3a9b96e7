"""Starting, recording and listing sync runs; at most one run per account at a time.

A run holds a lease document (`sync_leases`, `_id` = account) taken atomically and expiring, so
two server processes on one MongoDB never sync one account at once, and a process that died
mid-run does not block the next one for longer than the lease. The run renews its lease with
every page it writes, so a long first import keeps it. Every run is recorded in
`sync_runs`: trigger, start and end, counts, API calls, error, and warnings (objects it could
not read; the run still succeeds).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from typing import Any

from .. import clock
from ..accounts import Caller
from ..errors import ConflictError, NotFoundError
from ..ids import new_id
from ..store import Doc, DuplicateKeyError, Store
from ..tree import REGULAR, Tree, source_key
from .client import LimitExceeded, SalesforceError, Unavailable
from .engine import SyncRun, run_view
from .importer import PROJECT_KEY
from .integration import ACTIVE, NEEDS_REAUTH, Integrations
from .oauth import OAuthFailure

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=15)
TRIGGERS = ("schedule", "force", "connect", "selection")


class Syncs:
    def __init__(self, store: Store, tree: Tree, integrations: Integrations) -> None:
        self._store = store
        self._tree = tree
        self._integrations = integrations
        self._process = secrets.token_hex(6)
        self._tasks: set[asyncio.Task[None]] = set()
        # Waits between retries of a call Salesforce could not answer (tests shorten them).
        self.retry_delays: tuple[float, ...] = (1.0, 4.0, 15.0)
        self.api_version = integrations.api_version

    # Starting -----------------------------------------------------------------------------

    async def start(self, account_id: str, trigger: str) -> Doc:
        """Start a run now, or return the one already running for the account."""
        integration = await self._store.integrations.find_one({"_id": account_id})
        status = (integration or {}).get("status") or "not_connected"
        if status != ACTIVE:
            code = "needs_reauth" if status == NEEDS_REAUTH else "not_connected"
            raise ConflictError(
                "The Salesforce integration is not connected; enable it first."
                if code == "not_connected"
                else "The Salesforce integration needs to be enabled again before it can sync.",
                code=code,
            )
        run_id = new_id()
        if not await self._take_lease(account_id, run_id):
            running = await self._store.sync_runs.find_one(
                {"account_id": account_id, "status": "running"}, sort=[("started_at", -1)]
            )
            if running is not None:
                return running
            raise ConflictError("A sync is starting for this account.", code="sync_running")
        run: Doc = {
            "_id": run_id,
            "account_id": account_id,
            "trigger": trigger,
            "status": "running",
            # To the millisecond: runs are listed in the order they started.
            "started_at": _now_ms(),
            "finished_at": None,
            "counts": {"created": 0, "updated": 0, "archived": 0, "restored": 0},
            "api_calls": 0,
            "error": None,
            "warnings": [],
            "process": self._process,
        }
        await self._store.sync_runs.insert_one(run)
        task = asyncio.create_task(self._execute(run), name=f"sync {account_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _take_lease(self, account_id: str, run_id: str) -> bool:
        now = clock.now()
        lease = {"_id": account_id, "run_id": run_id, "expires_at": now + LEASE}
        try:
            await self._store.sync_leases.insert_one(lease)
            return True
        except DuplicateKeyError:
            pass
        stale = await self._store.sync_leases.find_one_and_update(
            {"_id": account_id, "expires_at": {"$lt": now}},
            {"$set": {"run_id": run_id, "expires_at": now + LEASE}},
            return_new=False,
        )
        if stale is None:
            return False
        await self._store.sync_runs.update_one(
            {"_id": stale["run_id"], "status": "running"},
            {"$set": {"status": "failed", "finished_at": now, "error": "interrupted"}},
        )
        return True

    async def _execute(self, run: Doc) -> None:
        account_id = run["account_id"]
        sync = SyncRun(
            self._store,
            self._tree,
            self._integrations,
            account_id,
            self.retry_delays,
            self.api_version,
            progress=lambda: self._progress(account_id, run["_id"], sync),
        )
        # Until it returns, the run is a failure: cancelled (shutdown) counts as interrupted.
        status: str = "failed"
        error: str | None = "interrupted"
        try:
            await sync.execute()
            status, error = "succeeded", None
        except LimitExceeded:
            status, error = "failed", await self._limit_reached(account_id)
            log.warning("Sync of %s failed: %s", account_id, error)
        except (SalesforceError, OAuthFailure, ConflictError) as exc:
            status, error = "failed", _describe(exc)
            log.warning("Sync of %s failed: %s", account_id, error)
        except Exception as exc:
            status, error = "failed", f"internal error: {type(exc).__name__}"
            log.exception("Sync of %s failed", account_id)
        finally:
            await self._store.sync_runs.update_one(
                {"_id": run["_id"]},
                {
                    "$set": {
                        "status": status,
                        "finished_at": _now_ms(),
                        "counts": sync.importer.counts.as_dict(),
                        "api_calls": sync.api_calls,
                        "error": error,
                        "warnings": sync.warnings,
                    }
                },
            )
            await self._store.sync_leases.delete_one({"_id": account_id, "run_id": run["_id"]})

    async def _progress(self, account_id: str, run_id: str, sync: SyncRun) -> None:
        """Between pages: what the run has done so far is recorded (its view shows it while it
        goes), and its lease renewed."""
        await self._store.sync_runs.update_one(
            {"_id": run_id, "status": "running"},
            {"$set": {"counts": sync.importer.counts.as_dict(), "api_calls": sync.api_calls}},
        )
        await self._renew_lease(account_id, run_id)

    async def _renew_lease(self, account_id: str, run_id: str) -> None:
        """The run is alive: its lease runs for another LEASE from now."""
        renewed = await self._store.sync_leases.update_one(
            {"_id": account_id, "run_id": run_id},
            {"$set": {"expires_at": clock.now() + LEASE}},
        )
        if not renewed.matched:
            # Taken over after it expired: the other run goes on, this one stops here.
            raise ConflictError("Another sync took over this account.", code="sync_running")

    async def _limit_reached(self, account_id: str) -> str:
        """The reason, quoting the org's usage only when the last usage known shows the limit
        reached: Salesforce need not send it with the refusal (SALESFORCE.md §4.3), and the
        usage of an earlier answer would say the limit is far."""
        integration = await self._store.integrations.find_one({"_id": account_id})
        usage = (integration or {}).get("api_usage")
        counted = ""
        if usage and usage["used"] >= usage["limit"]:
            counted = f" ({usage['used']}/{usage['limit']} calls in 24 h)"
        return (
            f"Salesforce's daily API limit is reached{counted}; syncing resumes when it frees up."
        )

    async def wait(self) -> None:
        """Until every run this process started has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # Reading ------------------------------------------------------------------------------

    async def runs(self, caller: Caller, limit: int) -> list[dict[str, Any]]:
        docs = await self._store.sync_runs.find(
            {"account_id": caller.account_id}, sort=[("started_at", -1), ("_id", -1)], limit=limit
        )
        return [run_view(d) for d in docs]

    async def run(self, caller: Caller, run_id: str) -> dict[str, Any]:
        doc = await self._store.sync_runs.find_one({"_id": run_id, "account_id": caller.account_id})
        if doc is None:
            raise NotFoundError("No such sync run.")
        return run_view(doc)

    async def last_run(self, account_id: str) -> dict[str, Any] | None:
        docs = await self._store.sync_runs.find(
            {"account_id": account_id}, sort=[("started_at", -1), ("_id", -1)], limit=1
        )
        return run_view(docs[0]) if docs else None

    # Users joining ------------------------------------------------------------------------

    async def user_joined(self, account_id: str, user_id: str) -> None:
        """Each user created after the first import becomes `regular` on the project too."""
        project = await self._store.tasks.find_one(
            {"source_key": source_key(account_id, PROJECT_KEY)}
        )
        if project is not None:
            await self._tree.assign(account_id, project, user_id, REGULAR)


def _describe(exc: Exception) -> str:
    if isinstance(exc, Unavailable):
        return f"Salesforce unavailable: {exc.message}"
    if isinstance(exc, SalesforceError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, OAuthFailure):
        return f"{exc.error}: {exc.description}"
    if isinstance(exc, ConflictError):
        return exc.message
    return str(exc)


def _now_ms() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
