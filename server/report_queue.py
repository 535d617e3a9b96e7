"""How many reports run at once in this process, and how many may wait for their turn.

A report is CPU work on the event loop, handed back between batches (`reports`). Several running
side by side each take a step per turn of the loop, so every other request waits behind all of
their steps; one at a time, a request waits behind one step at most, and the reports finish no
later on average (the same work, done in order). The others wait in arrival order; past
`waiting`, a new one is refused with 429 and Retry-After rather than queued without end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from .errors import TooManyRequestsError


class ReportQueue:
    def __init__(self, *, at_once: int, waiting: int, retry_after: int) -> None:
        self._turns = asyncio.Semaphore(at_once)
        self._max_waiting = waiting
        self._waiting = 0
        self._retry_after = retry_after

    @property
    def waiting(self) -> int:
        """How many reports wait for their turn now."""
        return self._waiting

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Runs the block when it is this report's turn; raises `TooManyRequestsError` at
        once when too many wait already."""
        if self._turns.locked() and self._waiting >= self._max_waiting:
            raise TooManyRequestsError(
                "Too many reports are being prepared right now; try again in a few seconds.",
                retry_after=self._retry_after,
            )
        self._waiting += 1
        try:
            await self._turns.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._turns.release()
