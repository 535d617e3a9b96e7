"""The account's settings: how long a forgotten timer may run, the time zone whose midnights
end the account's days (My week's days; default UTC), the currency of its rates and amounts
(an ISO 4217 code; default EUR), and after how many idle minutes the extension asks about a
running timer (default 10; each person may choose otherwise in their extension). Kept on the
account document."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from typing import Any

from .accounts import IDLE_MINUTES, idle_minutes
from .errors import InvalidRequestError, NotFoundError
from .rates import CURRENCY, DEFAULT_CURRENCY
from .store import Store
from .tracking import DEFAULT_FORGOTTEN_HOURS, FORGOTTEN_TIMER_HOURS

TIME_ZONE = "time_zone"
DEFAULT_TIME_ZONE = "UTC"


@functools.cache
def _zone_names() -> frozenset[str]:
    # (not "localtime", the host's own zone, nor "Factory": no place's time)
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "Factory"}


def parse_time_zone(name: str) -> str:
    """An IANA time zone name ("Europe/Berlin"), as the zone database spells it."""
    if name not in _zone_names():
        raise InvalidRequestError(
            f"{TIME_ZONE} must be an IANA time zone name such as Europe/Berlin or UTC."
        )
    return name


class AccountSettings:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def view(self, account_id: str) -> dict[str, Any]:
        """The account's settings (`GET /api/v1/account`)."""
        account = await self._store.accounts.find_one({"_id": account_id})
        if account is None:
            raise NotFoundError("No such account.")
        hours = account.get(FORGOTTEN_TIMER_HOURS)
        return {
            "id": account["_id"],
            "name": account["name"],
            FORGOTTEN_TIMER_HOURS: DEFAULT_FORGOTTEN_HOURS if hours is None else int(hours),
            TIME_ZONE: account.get(TIME_ZONE) or DEFAULT_TIME_ZONE,
            CURRENCY: account.get(CURRENCY) or DEFAULT_CURRENCY,
            IDLE_MINUTES: idle_minutes(account),
        }

    async def change(self, account_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        updates: dict[str, Any] = {}
        if FORGOTTEN_TIMER_HOURS in changes:
            updates[FORGOTTEN_TIMER_HOURS] = changes[FORGOTTEN_TIMER_HOURS]
        if TIME_ZONE in changes:
            updates[TIME_ZONE] = parse_time_zone(changes[TIME_ZONE])
        if CURRENCY in changes:
            updates[CURRENCY] = changes[CURRENCY]
        if IDLE_MINUTES in changes:
            updates[IDLE_MINUTES] = changes[IDLE_MINUTES]
        if updates:
            await self._store.accounts.update_one({"_id": account_id}, {"$set": updates})
        return await self.view(account_id)

    async def time_zone(self, account_id: str) -> zoneinfo.ZoneInfo:
        """Where the account's days begin and end."""
        account = await self._store.accounts.find_one(
            {"_id": account_id}, projection={TIME_ZONE: 1}
        )
        return zoneinfo.ZoneInfo((account or {}).get(TIME_ZONE) or DEFAULT_TIME_ZONE)

    async def currency(self, account_id: str) -> str:
        """The ISO 4217 code of the account's rates and amounts."""
        account = await self._store.accounts.find_one({"_id": account_id}, projection={CURRENCY: 1})
        return str((account or {}).get(CURRENCY) or DEFAULT_CURRENCY)
