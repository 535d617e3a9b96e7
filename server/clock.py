"""Time: stored as UTC, exchanged as ISO 8601 with an offset, entries at whole seconds."""

from __future__ import annotations

import datetime as dt
import time

from .errors import InvalidRequestError

# The years a time given to the API may name (as written, before it is turned into UTC).
FIRST_YEAR, LAST_YEAR = 1970, 9000


def now() -> dt.datetime:
    """This second, in UTC. (From the whole seconds of `time.time()`: a request asks several
    times, and `datetime.now(UTC).replace(microsecond=0)` costs twice as much.)"""
    return dt.datetime.fromtimestamp(int(time.time()), dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:  # (what the store returns is UTC already)
        value = value.astimezone(dt.UTC)
    return value.isoformat().replace("+00:00", "Z")


def is_bare_date(text: str) -> bool:
    """Whether a time as given is a date alone ("2026-01-31"), with no time of day."""
    return len(text.strip()) == 10


def in_zone(given: str, parsed: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A time `parse_time` read from `given`, where a bare date means midnight in `zone` (a
    day as the account's people live it) rather than midnight UTC."""
    if not is_bare_date(given):
        return parsed
    return dt.datetime.combine(parsed.date(), dt.time(), zone).astimezone(dt.UTC)


def parse_time(value: object, field: str) -> dt.datetime:
    """An ISO 8601 time with an offset (or `Z`), or a bare date meaning midnight UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{field} must be an ISO 8601 time such as 2026-01-31T09:00:00Z.")
    text = value.strip()
    try:
        if is_bare_date(text):
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        else:
            parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidRequestError(
            f"{field} is not a valid ISO 8601 time (for example 2026-01-31T09:00:00Z)."
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequestError(f"{field} must include a UTC offset, for example Z or +01:00.")
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise InvalidRequestError(f"{field} must be in the years {FIRST_YEAR} to {LAST_YEAR}.")
    return parsed.astimezone(dt.UTC).replace(microsecond=0)
