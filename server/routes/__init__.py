"""One module per API resource; `ALL` is every endpoint table, registered by `server.app`."""

from __future__ import annotations

from . import account, auth, docs, entries, health, integrations, reports, tasks, timer, users
from .registry import Routes

ALL: tuple[Routes, ...] = (
    health.routes,
    auth.routes,
    users.routes,
    tasks.routes,
    timer.routes,
    account.routes,
    entries.routes,
    reports.routes,
    integrations.routes,
    docs.routes,
)
