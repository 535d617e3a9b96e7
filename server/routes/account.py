"""The account's settings: forgotten timers, the time zone of its days, the currency, the
extension's idle minutes."""

from __future__ import annotations

from aiohttp import web

from ..account_settings import TIME_ZONE
from ..accounts import DEFAULT_IDLE_MINUTES, IDLE_MINUTES, IDLE_MINUTES_RANGE
from ..rates import CURRENCY, CURRENCY_PATTERN, DEFAULT_CURRENCY
from ..tracking import DEFAULT_FORGOTTEN_HOURS, FORGOTTEN_HOURS_RANGE, FORGOTTEN_TIMER_HOURS
from ..validation import Field
from .registry import Call, Routes, json

routes = Routes("account")

ACCOUNT_SETTINGS = {
    FORGOTTEN_TIMER_HOURS: Field(
        "integer",
        minimum=FORGOTTEN_HOURS_RANGE[0],
        maximum=FORGOTTEN_HOURS_RANGE[1],
        description=(
            "A timer running longer stops at start + this many hours, with a note saying so "
            f"(default {DEFAULT_FORGOTTEN_HOURS})"
        ),
    ),
    TIME_ZONE: Field(
        "string",
        min_length=1,
        max_length=64,
        description="An IANA time zone name (Europe/Berlin): where the account's days end, "
        "as My week shows them (default UTC)",
    ),
    CURRENCY: Field(
        "string",
        min_length=3,
        max_length=3,
        pattern=CURRENCY_PATTERN,
        mismatch="must be an ISO 4217 currency code in capitals, such as EUR or USD",
        description="The ISO 4217 code of every rate and amount of the account "
        f"(default {DEFAULT_CURRENCY}); changing it converts nothing",
    ),
    IDLE_MINUTES: Field(
        "integer",
        minimum=IDLE_MINUTES_RANGE[0],
        maximum=IDLE_MINUTES_RANGE[1],
        description="After this many minutes without input while a timer runs, the extension "
        f"asks about the idle time (default {DEFAULT_IDLE_MINUTES}); a person may choose "
        "otherwise in their extension. Everyone reads it in GET /api/v1/me's account",
    ),
}


@routes.get("/api/v1/account", "The account's settings", admin=True, responses={200: "Account"})
async def get_account(call: Call) -> web.StreamResponse:
    return json(await call.services.account_settings.view(call.caller.account_id))


@routes.patch(
    "/api/v1/account",
    "Change the account's settings",
    admin=True,
    body=ACCOUNT_SETTINGS,
    responses={200: "Account"},
)
async def update_account(call: Call) -> web.StreamResponse:
    settings = call.services.account_settings
    return json(await settings.change(call.caller.account_id, call.body))
