"""Users of the account (administrators only)."""

from __future__ import annotations

from aiohttp import web

from .. import paging, rates
from ..accounts import ACCOUNT_ROLES, ADMINISTRATOR, EMAIL_PATTERN, admin_user_view
from ..paging import Page
from ..store import Doc
from ..validation import Field
from .fields import hourly_rate
from .registry import Call, Routes, json, no_content

routes = Routes("users")

NAME = Field("string", min_length=1, max_length=200, text="name")
CREATE = {
    "email": Field(
        "string",
        required=True,
        min_length=1,
        max_length=254,
        pattern=EMAIL_PATTERN,
        mismatch="is not a valid email address",
    ),
    "name": Field("string", required=True, min_length=1, max_length=200, text="name"),
    "password": Field("string", required=True, min_length=8, max_length=1024),
    "role": Field("enum", choices=ACCOUNT_ROLES, default="user"),
}
UPDATE = {
    "name": NAME,
    "role": Field("enum", choices=ACCOUNT_ROLES),
    "active": Field("boolean"),
    "password": Field("string", min_length=8, max_length=1024),
    rates.RATE: hourly_rate(
        "The user's hourly rate in the account's currency: where set, it prices "
        "their billable time on every task, over the task's rate (null: none)"
    ),
}


@routes.get(
    "/api/v1/users",
    "List the account's users",
    admin=True,
    query=paging.QUERY,
    responses={200: "UserList"},
)
async def list_users(call: Call) -> web.StreamResponse:
    items, cursor = await call.services.accounts.list_users(
        call.caller, Page.from_query(call.query)
    )
    return json({"items": [admin_user_view(u) for u in items], "next_cursor": cursor})


@routes.post(
    "/api/v1/users",
    "Add a user",
    admin=True,
    body=CREATE,
    responses={201: "User"},
    errors=(400, 409),
)
async def create_user(call: Call) -> web.StreamResponse:
    b = call.body
    user = await call.services.accounts.create_user(
        call.caller, b["email"], b["name"], b["password"], b.get("role", "user")
    )
    await call.services.syncs.user_joined(call.caller.account_id, user["_id"])
    return json(admin_user_view(user), status=201)


@routes.get("/api/v1/users/{id}", "One user", admin=True, responses={200: "User"}, errors=(404,))
async def get_user(call: Call) -> web.StreamResponse:
    return json(admin_user_view(await call.services.accounts.get_user(call.caller, call.path_id())))


@routes.patch(
    "/api/v1/users/{id}",
    "Rename, change account role, (de)activate, set a new password (revokes the user's tokens), "
    "set the hourly rate",
    admin=True,
    body=UPDATE,
    responses={200: "User"},
    errors=(400, 404, 409),
)
async def update_user(call: Call) -> web.StreamResponse:
    user = await call.services.accounts.update_user(call.caller, call.path_id(), call.body)
    await _changed(call, user)
    return json(admin_user_view(user))


@routes.delete(
    "/api/v1/users/{id}",
    "Deactivate a user (entries kept, tokens revoked)",
    admin=True,
    responses={204: None},
    errors=(404, 409),
)
async def deactivate_user(call: Call) -> web.StreamResponse:
    user = await call.services.accounts.update_user(call.caller, call.path_id(), {"active": False})
    await _changed(call, user)
    return no_content()


async def _changed(call: Call, user: Doc) -> None:
    """What follows a user's change: an owner who can no longer own the Salesforce integration
    leaves it, and a deactivated user's timer stops."""
    s = call.services
    if not user["active"] or user["role"] != ADMINISTRATOR:
        await s.integrations.owner_left(call.caller.account_id, user["_id"], user["name"])
    if not user["active"]:
        await s.tracking.stop_if_running(call.caller.account_id, user["_id"])
