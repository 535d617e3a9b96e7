"""`/week`: My week. The timesheet (days by tasks, with totals), today's entries with add, edit
and delete, and the running timer with Stop. Every change goes through the same domain calls as
the API's (`Tracking`), so it is checked the same way and refused with the same words.
Administrators also find the Salesforce integration's state there, with Force synchronization
(`integration`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from .. import clock, headers, timesheet
from ..accounts import Caller
from ..errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from ..ids import parse_id
from ..paging import Page
from ..routes.entries import CREATE
from ..services import Services
from ..store import Doc
from ..timesheet import Week
from ..tracking import duration
from . import integration
from .pages import Pages, Visit

pages = Pages()

MY_WEEK = "/week"
SOURCE = "web"
# Entries read per step while gathering a week (the API's largest page).
READ_STEP = 500
# Tasks offered in the add form: the ones tracked lately first, then others up to this many.
TASK_CHOICES = 200
_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
# A form's edit can fail this way and be shown on the page, with what was typed kept.
FORM_ERRORS = (InvalidRequestError, ConflictError, ForbiddenError)


@dataclass(frozen=True)
class EntryRow:
    id: str
    label: str
    start: str  # HH:MM in the account's zone
    end: str | None  # None while running
    note: str
    duration: str


async def _week_entries(services: Services, caller: Caller, user_id: str, week: Week) -> list[Doc]:
    """Every entry of the user that starts in the week, as the caller may see them (the
    entries list's reach: own; managers, their subtrees; administrators, all)."""
    entries: list[Doc] = []
    more = True
    while more:
        chunk, more = await services.tracking.list_entries(
            caller, user_id, None, week.start, week.end, len(entries), READ_STEP
        )
        entries.extend(chunk)
    return sorted(entries, key=lambda e: (e["start"], e["_id"]))


def _hhmm(instant: dt.datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%H:%M")


def _time_on(day: dt.date, text: str, field: str, zone: ZoneInfo) -> dt.datetime:
    """A time of day typed in a form ("09:30"), on `day` in `zone`, in UTC."""
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is None:
        raise InvalidRequestError(f"{field} must be a time of day such as 09:30.")
    hour, minute, second = (int(g) if g else 0 for g in match.groups())
    local = dt.datetime.combine(day, dt.time(hour, minute, second), zone)
    return local.astimezone(dt.UTC)


def _week_asked(raw: str | None, zone: ZoneInfo) -> Week:
    if not raw:
        return Week.of_instant(clock.now(), zone)
    try:
        return Week.containing(dt.date.fromisoformat(raw), zone)
    except ValueError:
        raise InvalidRequestError("date must be a day such as 2026-01-31.") from None


async def _user_shown(visit: Visit) -> Doc | None:
    """The other user whose week is asked for (`?user=`), or None for one's own. Another
    account's user does not exist here (404); whether the caller may see the user's time is
    the entries list's rule (403 for a regular user)."""
    raw = visit.request.query.get("user")
    if raw is None or raw == visit.caller.user_id:
        return None
    return await visit.services.accounts.get_user(visit.caller, parse_id(raw, "user"))


async def _task_choices(services: Services, caller: Caller) -> list[tuple[str, str]]:
    recent = await services.tracking.recent_tasks(caller, TASK_CHOICES)
    others, _ = await services.tree.search(caller, None, False, True, Page(0, TASK_CHOICES))
    seen: dict[str, str] = {}
    for view in [*recent, *others]:
        if len(seen) < TASK_CHOICES:
            seen.setdefault(view["id"], timesheet.task_label(view))
    return list(seen.items())


async def _render_week(
    visit: Visit, week: Week, *, status: int = 200, error: str | None = None, form: Any = None
) -> web.StreamResponse:
    services, caller, zone = visit.services, visit.caller, week.zone
    shown = await _user_shown(visit)
    own = shown is None
    # (the timer first: reading it stops a forgotten one, which the week then shows stopped)
    running = await services.tracking.running(caller) if own else None
    entries = await _week_entries(services, caller, shown["_id"] if shown else caller.user_id, week)
    tasks = await services.tree.indexed_tasks(
        caller.account_id,
        {e["task_id"] for e in [*entries, *([running] if running else [])] if e["task_id"]},
    )

    def label(entry: Doc) -> str:
        return timesheet.task_label(tasks.get(entry["task_id"]) if entry["task_id"] else None)

    now = clock.now()
    today = now.astimezone(zone).date()
    todays = [
        EntryRow(
            id=e["_id"],
            label=label(e),
            start=_hhmm(e["start"], zone),
            end=_hhmm(e["end"], zone) if e["end"] else None,
            note=e["note"],
            duration=timesheet.hours_or_zero(duration(e, now)),
        )
        for e in entries
        if own and week.day_of(e["start"]) == today
    ]
    timer = running and {
        "label": label(running),
        "since": _hhmm(running["start"], zone),
        "elapsed": timesheet.hours_or_zero(duration(running, now)),
        "note": running["note"],
    }
    sync = await integration.panel(services, caller, zone) if own else None
    response = await visit.render(
        "week.html",
        {
            "week": week,
            "sheet": timesheet.build(week, entries, tasks, now),
            "hours": timesheet.hours,
            "today": today,
            "zone": str(zone),
            "shown": shown,
            "user_query": f"&user={shown['_id']}" if shown else "",
            "todays": todays,
            "timer": timer,
            "task_choices": await _task_choices(services, caller) if own else [],
            "form": form or {},
            "error": error,
            "sync": sync,
            "sync_panel": integration.PANEL,
            "sync_error": None,
            # (a page answering a refused form looks again at My week itself)
            "here": visit.request.path_qs if visit.request.method == "GET" else MY_WEEK,
        },
        status,
    )
    if sync is not None:
        headers.allow_own_scripts(response)  # (the panel's)
    return response


@pages.get(MY_WEEK)
async def my_week(visit: Visit) -> web.StreamResponse:
    week = _week_asked(visit.request.query.get("date"), await _zone(visit))
    return await _render_week(visit, week)


async def _zone(visit: Visit) -> ZoneInfo:
    """Where the account's days end (its time zone setting)."""
    return await visit.services.account_settings.time_zone(visit.caller.account_id)


async def _own_entry(visit: Visit) -> Doc:
    """The entry the path names, if it is the caller's own (My week changes no one else's,
    administrators' included): 404 otherwise, as if it did not exist."""
    entry_id = parse_id(visit.request.match_info["id"], "id")
    entry = await visit.services.tracking.get_entry(visit.caller, entry_id)
    if entry["user_id"] != visit.caller.user_id:
        raise NotFoundError("No such entry.")
    return entry


def _back() -> web.HTTPSeeOther:
    return web.HTTPSeeOther(MY_WEEK)


async def _refused(
    visit: Visit,
    error: InvalidRequestError | ConflictError | ForbiddenError,
    form: dict[str, str] | None = None,
) -> web.StreamResponse:
    week = Week.of_instant(clock.now(), await _zone(visit))
    return await _render_week(visit, week, status=error.status, error=error.message, form=form)


@pages.post(f"{MY_WEEK}/entries")
async def add_entry(visit: Visit) -> web.StreamResponse:
    form, zone = visit.form, await _zone(visit)
    today = clock.now().astimezone(zone).date()
    try:
        fields: dict[str, Any] = {
            "start": _time_on(today, form.get("start", ""), "start", zone),
            "end": _time_on(today, form.get("end", ""), "end", zone),
            "note": CREATE["note"].parse("note", form.get("note", "")),
        }
        if form.get("task_id"):
            fields["task_id"] = CREATE["task_id"].parse("task_id", form["task_id"])
        await visit.services.tracking.create_entry(visit.caller, fields, SOURCE)
    except FORM_ERRORS as error:
        return await _refused(visit, error, dict(form))
    raise _back()


@pages.post(f"{MY_WEEK}/entries/{{id}}")
async def edit_entry(visit: Visit) -> web.StreamResponse:
    """Start, end and note of one's own entry; a time left as shown is left as it is (so an
    entry that crosses midnight keeps its days)."""
    form, zone = visit.form, await _zone(visit)
    entry = await _own_entry(visit)
    try:
        changes: dict[str, Any] = {"note": CREATE["note"].parse("note", form.get("note", ""))}
        start = form.get("start", "")
        if start and start != _hhmm(entry["start"], zone):
            day = entry["start"].astimezone(zone).date()
            changes["start"] = _time_on(day, start, "start", zone)
        end = form.get("end", "")
        if entry["end"] is not None and end and end != _hhmm(entry["end"], zone):
            day = entry["end"].astimezone(zone).date()
            changes["end"] = _time_on(day, end, "end", zone)
        await visit.services.tracking.update_entry(visit.caller, entry["_id"], changes)
    except FORM_ERRORS as error:
        return await _refused(visit, error)
    raise _back()


@pages.post(f"{MY_WEEK}/entries/{{id}}/delete")
async def delete_entry(visit: Visit) -> web.StreamResponse:
    entry = await _own_entry(visit)
    try:
        await visit.services.tracking.delete_entry(visit.caller, entry["_id"])
    except FORM_ERRORS as error:
        return await _refused(visit, error)
    raise _back()


@pages.post(f"{MY_WEEK}/timer/stop")
async def stop_timer(visit: Visit) -> web.StreamResponse:
    try:
        await visit.services.tracking.stop(visit.caller, None)
    except FORM_ERRORS as error:
        return await _refused(visit, error)
    raise _back()


@pages.post(f"{MY_WEEK}/sync")
async def force_sync(visit: Visit) -> web.StreamResponse:
    """Force synchronization (administrators), as a form without the page's script: a run
    starts, or the one going goes on; the week then shows it, refreshing itself until it ends."""
    try:
        await integration.force(visit.services, visit.caller)
    except FORM_ERRORS as error:
        return await _refused(visit, error)
    raise _back()
