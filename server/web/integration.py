"""The Salesforce integration on My week, for administrators: its state as
`GET /api/v1/integrations/salesforce` gives it (status, last run, next run, problems) and
Force synchronization, which starts a run as `POST .../salesforce/sync` does.

The panel is also a page of its own, `/week/sync/panel` (GET: the panel; POST: force, then the
panel), for My week's one script (`static/sync-panel.js`): the button starts a run in the
background and, while a run is going, the panel is fetched again every few seconds and replaced,
so its progress shows without reloading the page (nothing typed elsewhere on it is lost). Without
the script, the form posts to `/week/sync` and the page refreshes itself (`<noscript>` meta refresh)
until the run ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..accounts import Caller
from ..errors import ConflictError, ForbiddenError
from ..routes.integrations import FORCE, integration_status
from ..services import Services
from .pages import Pages, Visit

pages = Pages()

PANEL = "/week/sync/panel"
TEMPLATE = "sync_panel.html"

# Seconds between looks at the panel while a run is going.
REFRESH_SECONDS = 3
RUNNING = "running"
ACTIVE = "active"
STATUS_LABELS = {
    "not_connected": "Not connected",
    "authorizing": "Being enabled",
    ACTIVE: "Connected",
    "needs_reauth": "Needs to be enabled again",
    "error": "Not working",
    "unlinked": "Unlinked",
}
COUNTED = ("created", "updated", "archived", "restored")


@dataclass(frozen=True)
class RunShown:
    status: str  # running, succeeded, failed
    trigger: str
    started: str  # in the account's time zone
    finished: str | None
    counts: str  # "3 created, 1 updated, 0 archived, 0 restored"
    api_calls: int


@dataclass(frozen=True)
class SyncPanel:
    status: str
    label: str
    connected_as: str | None  # the Salesforce username the integration syncs as
    message: str | None
    last_run: RunShown | None
    next_run: str | None
    problems: list[str]

    @property
    def running(self) -> bool:
        return self.last_run is not None and self.last_run.status == RUNNING

    @property
    def refresh_seconds(self) -> int | None:
        """How soon the page should look at the panel again: only while a run is going."""
        return REFRESH_SECONDS if self.running else None


def _when(iso: str | None, zone: ZoneInfo) -> str | None:
    if iso is None:
        return None
    instant = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return instant.astimezone(zone).strftime("%a %-d %b %H:%M:%S")


def _run(run: dict[str, Any], zone: ZoneInfo) -> RunShown:
    counts = run["counts"]
    return RunShown(
        status=run["status"],
        trigger=run["trigger"],
        started=_when(run["started_at"], zone) or "",
        finished=_when(run["finished_at"], zone),
        counts=", ".join(f"{counts.get(name, 0)} {name}" for name in COUNTED),
        api_calls=run["api_calls"],
    )


def _problems(state: dict[str, Any]) -> list[str]:
    """What needs an administrator's eye: the integration's trouble, and the last run's error
    and the objects it could not read."""
    problems: list[str] = []
    if (state["status"] != ACTIVE or state["reason"]) and state["message"]:
        problems.append(state["message"])
    run = state["last_run"]
    if run is not None:
        if run["error"]:
            problems.append(f"The last run failed: {run['error']}")
        problems.extend(f"{w['object']}: {w['message']}" for w in run["warnings"])
    return problems


async def panel(services: Services, caller: Caller, zone: ZoneInfo) -> SyncPanel | None:
    """The integration's state for an administrator; None for everyone else."""
    if not caller.is_admin:
        return None
    state = await integration_status(services, caller)
    org = state["org"] or {}
    status = state["status"]
    return SyncPanel(
        status=status,
        label=STATUS_LABELS.get(status, status),
        connected_as=org.get("username"),
        message=state["message"] if status == ACTIVE and not state["reason"] else None,
        last_run=_run(state["last_run"], zone) if state["last_run"] else None,
        next_run=_when(state["next_run_at"], zone),
        problems=_problems(state),
    )


async def force(services: Services, caller: Caller) -> None:
    """Start a run now (or leave the one going): administrators only, as on the API. 409 when
    the integration is not connected or a run is starting elsewhere."""
    if not caller.is_admin:
        raise _only_administrators()
    await services.syncs.start(caller.account_id, FORCE)


def _only_administrators() -> ForbiddenError:
    return ForbiddenError("Only administrators can do this.")


async def _render_panel(visit: Visit, refused: ConflictError | None = None) -> web.StreamResponse:
    zone = await visit.services.account_settings.time_zone(visit.caller.account_id)
    shown = await panel(visit.services, visit.caller, zone)
    if shown is None:
        raise _only_administrators()
    context = {"sync": shown, "sync_panel": PANEL, "sync_error": refused and refused.message}
    return await visit.render(TEMPLATE, context, refused.status if refused else 200)


@pages.get(PANEL)
async def sync_panel(visit: Visit) -> web.StreamResponse:
    """The panel alone, as it is now (My week's script looks at it while a run is going)."""
    return await _render_panel(visit)


@pages.post(PANEL)
async def force_from_panel(visit: Visit) -> web.StreamResponse:
    """Force synchronization from the script: the panel as it is once the run has started, or
    with the refusal in it (409: not connected, or a run starting elsewhere)."""
    try:
        await force(visit.services, visit.caller)
    except ConflictError as error:
        return await _render_panel(visit, error)
    return await _render_panel(visit)
