"""The emulator's clock: the real UTC time plus an offset tests may advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Now, in UTC, to the millisecond (Salesforce's precision)."""
        moment = datetime.now(UTC) + self._offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)
