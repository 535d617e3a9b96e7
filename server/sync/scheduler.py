"""The in-process scheduler: every active integration syncs every
`TIMETRAIL_SYNC_INTERVAL_SECONDS` (default one hour).

Each server process runs one APScheduler job that starts a run for every active integration;
the sync lease (`runs.py`) makes sure that, with several processes on one MongoDB, an account is
still synced by one of them at a time. Overlapping ticks are skipped and missed ones coalesced.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ..errors import ConflictError
from ..store import Store
from .integration import ACTIVE
from .runs import Syncs

log = logging.getLogger(__name__)

JOB_ID = "salesforce-sync"


class SyncScheduler:
    def __init__(self, store: Store, syncs: Syncs, interval_seconds: int) -> None:
        self._store = store
        self._syncs = syncs
        self._interval = interval_seconds
        self._scheduler = AsyncIOScheduler(timezone=dt.UTC)

    def start(self) -> None:
        """Must run inside the running event loop."""
        self._scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self._interval, timezone=dt.UTC),
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self._interval,
        )
        self._scheduler.start()
        log.info("Salesforce sync every %d s", self._interval)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_run_at(self) -> dt.datetime | None:
        job = self._scheduler.get_job(JOB_ID) if self._scheduler.running else None
        next_time: dt.datetime | None = job.next_run_time if job else None
        return next_time

    async def tick(self) -> None:
        integrations = await self._store.integrations.find(
            {"status": ACTIVE}, projection={"_id": 1}
        )
        for integration in integrations:
            try:
                await self._syncs.start(integration["_id"], "schedule")
            except ConflictError as exc:
                log.info("Scheduled sync of %s skipped: %s", integration["_id"], exc.message)
