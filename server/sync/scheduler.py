"""The in-process scheduler: every active integration syncs every
`TIMETRAIL_SYNC_INTERVAL_SECONDS` (default one hour).

Each server process runs one APScheduler job that starts a run for every active integration
whose interval it claims: the claim moves the integration's `next_scheduled_at` on atomically,
so with several processes on one MongoDB an account syncs once per interval, not once per
process (and the sync lease, `runs.py`, keeps runs from overlapping). Scheduled runs pause while
the org's last known API usage is at 90 % of its daily allocation or more; forced ones still go.
Overlapping ticks are skipped and missed ones coalesced.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .. import clock
from ..errors import ConflictError
from ..store import Store
from .client import api_limit_paused
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
        self._scheduler.start()
        self._scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self._interval, timezone=dt.UTC),
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self._interval,
        )
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
            {"status": ACTIVE}, projection={"_id": 1, "api_usage": 1}
        )
        for integration in integrations:
            account_id = integration["_id"]
            if api_limit_paused(integration.get("api_usage")):
                log.info("Scheduled sync of %s paused: API usage at 90 %% or more", account_id)
                continue
            if not await self._claim(account_id):
                continue
            try:
                await self._syncs.start(account_id, "schedule")
            except ConflictError as exc:
                log.info("Scheduled sync of %s skipped: %s", account_id, exc.message)

    async def _claim(self, account_id: str) -> bool:
        """Take this interval's scheduled run of an account, unless another process has."""
        now = clock.now()
        # A little early is still this interval: ticks of one process are not exactly apart.
        following = now + dt.timedelta(seconds=self._interval - min(self._interval / 10, 60))
        claimed = await self._store.integrations.find_one_and_update(
            {
                "_id": account_id,
                "status": ACTIVE,
                "$or": [{"next_scheduled_at": None}, {"next_scheduled_at": {"$lte": now}}],
            },
            {"$set": {"next_scheduled_at": following}},
        )
        return claimed is not None
