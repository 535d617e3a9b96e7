"""Failures injected into the next requests: a Salesforce outage (HTTP 503), a slow answer, or a
connection dropped without any answer."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class FaultMode(Enum):
    UNAVAILABLE = "unavailable"  # HTTP 503 with Salesforce's SERVER_UNAVAILABLE body
    DELAY = "delay"  # wait, then answer normally
    DROP = "drop"  # close the connection without a response


class FaultScope(Enum):
    REST = "rest"  # /services/data/…
    OAUTH = "oauth"  # /services/oauth2/… and the identity URL
    ALL = "all"


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

    def take(self, scope: FaultScope) -> Fault | None:
        for fault in self._queue:
            if fault.scope in (scope, FaultScope.ALL):
                self._queue.remove(fault)
                return fault
        return None
