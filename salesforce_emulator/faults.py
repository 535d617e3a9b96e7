"""Failures injected into the next requests: a Salesforce outage (HTTP 503), a server error
(HTTP 500), a slow answer, a connection dropped without any answer, or (for the next query-more
requests only) a query locator that has expired."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class FaultMode(Enum):
    UNAVAILABLE = "unavailable"  # HTTP 503 with the edge's HTML maintenance page
    DELAY = "delay"  # wait, then answer normally
    DROP = "drop"  # close the connection without a response
    SERVER_ERROR = "server_error"  # HTTP 500 UNKNOWN_EXCEPTION (JSON)
    EXPIRED_LOCATOR = "expired_locator"  # a query-more's locator has expired: 400


class FaultScope(Enum):
    REST = "rest"  # /services/data/…
    OAUTH = "oauth"  # /services/oauth2/… and the identity URL
    ALL = "all"


# What the HTTP edge applies to any request; a locator expires only where a query-more asks.
EDGE_MODES = frozenset(
    {FaultMode.UNAVAILABLE, FaultMode.DELAY, FaultMode.DROP, FaultMode.SERVER_ERROR}
)
LOCATOR_MODES = frozenset({FaultMode.EXPIRED_LOCATOR})


@dataclass(frozen=True)
class Fault:
    mode: FaultMode
    seconds: float = 0.0
    scope: FaultScope = FaultScope.REST


class FaultQueue:
    """Faults in the order they were injected; each request of a matching kind takes the first
    one that applies to it."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()

    def add(self, fault: Fault, count: int) -> None:
        self._queue.extend([fault] * count)

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)

    def take(self, scope: FaultScope, modes: frozenset[FaultMode] = EDGE_MODES) -> Fault | None:
        """The first fault of one of `modes` for a request of `scope`, removed."""
        for fault in self._queue:
            if fault.mode in modes and fault.scope in (scope, FaultScope.ALL):
                self._queue.remove(fault)
                return fault
        return None
