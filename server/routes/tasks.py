"""The project tree and the roles on it."""

from __future__ import annotations

from aiohttp import web

from .. import paging, rates, salesforce_ids
from ..ids import parse_id
from ..paging import Page
from ..tree import PROJECT_ROLES
from ..validation import Field
from .fields import hourly_rate
from .registry import Call, Routes, json, no_content

routes = Routes("tasks")

NAME = Field("string", min_length=1, max_length=300, text="name")
SEARCH = {
    "q": Field("string", max_length=200, description="Words; each must start a word of the name"),
    "include_archived": Field("boolean", default=False),
    "trackable": Field("boolean", default=False, description="Only tasks the caller can track"),
    "roots": Field("boolean", default=False, description="Only projects (tasks with no parent)"),
    **paging.QUERY,
}
CHILDREN = {"include_archived": Field("boolean", default=False), **paging.QUERY}
BY_SOURCE = {
    "system": Field("enum", choices=("salesforce",), default="salesforce"),
    "id": Field(
        "string",
        required=True,
        min_length=1,
        max_length=18,
        pattern=salesforce_ids.PATTERN,
        mismatch="is not a 15- or 18-character Salesforce record id",
        description="A 15- or 18-character Salesforce record id",
    ),
}
CREATE = {
    "name": Field("string", required=True, min_length=1, max_length=300, text="name"),
    "parent_id": Field("id", nullable=True, description="null or absent creates a project"),
}
UPDATE = {
    "name": NAME,
    "parent_id": Field("id", nullable=True),
    "archived": Field("boolean", description="Archive or restore a manual task"),
    rates.RATE: hourly_rate(
        "Hourly rate in the account's currency, for this task and the tasks below "
        "it that set none (null: inherit from the task above). Imported tasks take it too"
    ),
    rates.BILLABLE: Field(
        "boolean",
        nullable=True,
        description="Whether time on this task and below is billable by default "
        "(null: inherit; a project without one: true). Imported tasks take it too",
    ),
}
ROLE = {"role": Field("enum", required=True, choices=PROJECT_ROLES)}
UNASSIGN = {
    "scope": Field(
        "enum",
        choices=("node", "subtree"),
        default="node",
        description="subtree removes every direct assignment of the user below this node too",
    )
}


@routes.get(
    "/api/v1/tasks",
    "Search the tasks the caller can see (or track)",
    query=SEARCH,
    responses={200: "TaskList"},
    errors=(400,),
)
async def search_tasks(call: Call) -> web.StreamResponse:
    q = call.query
    items, cursor = await call.services.tree.search(
        call.caller,
        q["q"],
        q["include_archived"],
        q["trackable"],
        Page.from_query(q),
        roots=q["roots"],
    )
    return json({"items": items, "next_cursor": cursor})


@routes.get(
    "/api/v1/tasks/by-source",
    "The task imported for a Salesforce record",
    query=BY_SOURCE,
    responses={200: "Task"},
    errors=(400, 404),
)
async def get_task_by_source(call: Call) -> web.StreamResponse:
    q = call.query
    return json(await call.services.tree.by_source(call.caller, q["system"], q["id"]))


RECENT = {"limit": Field("integer", minimum=1, maximum=20, default=5)}


@routes.get(
    "/api/v1/tasks/recent",
    "The tasks the caller tracked last (newest first, each once) that still take a timer",
    query=RECENT,
    responses={200: "TaskList"},
)
async def list_recent_tasks(call: Call) -> web.StreamResponse:
    items = await call.services.tracking.recent_tasks(call.caller, call.query["limit"])
    return json({"items": items, "next_cursor": None})


@routes.get("/api/v1/tasks/{id}", "One task", responses={200: "Task"}, errors=(400, 404))
async def get_task(call: Call) -> web.StreamResponse:
    return json(await call.services.tree.get(call.caller, call.path_id()))


@routes.get(
    "/api/v1/tasks/{id}/children",
    "The children of a task",
    query=CHILDREN,
    responses={200: "TaskList"},
    errors=(400, 404),
)
async def list_children(call: Call) -> web.StreamResponse:
    q = call.query
    items, cursor = await call.services.tree.children(
        call.caller, call.path_id(), q["include_archived"], Page.from_query(q)
    )
    return json({"items": items, "next_cursor": cursor})


@routes.post(
    "/api/v1/tasks",
    "Create a manual project or task",
    body=CREATE,
    responses={201: "Task"},
    errors=(400, 403, 404, 409),
)
async def create_task(call: Call) -> web.StreamResponse:
    b = call.body
    task = await call.services.tree.create_task(call.caller, b["name"], b.get("parent_id"))
    return json(task, status=201)


@routes.patch(
    "/api/v1/tasks/{id}",
    "Rename, move, archive or restore a manual task; set a task's rate and billable default "
    "(administrators and the task's managers; imported tasks too)",
    body=UPDATE,
    responses={200: "Task"},
    errors=(400, 403, 404, 409),
)
async def update_task(call: Call) -> web.StreamResponse:
    return json(await call.services.tree.update_task(call.caller, call.path_id(), call.body))


@routes.delete(
    "/api/v1/tasks/{id}",
    "Delete a manual task and its subtree (only without tracked time)",
    responses={204: None},
    errors=(400, 403, 404, 409),
)
async def delete_task(call: Call) -> web.StreamResponse:
    await call.services.tree.delete_task(call.caller, call.path_id())
    return no_content()


@routes.get(
    "/api/v1/tasks/{id}/members",
    "Members of a task with their role and where it comes from",
    responses={200: "MemberList"},
    errors=(400, 403, 404),
)
async def list_members(call: Call) -> web.StreamResponse:
    return json({"items": await call.services.tree.members(call.caller, call.path_id())})


@routes.put(
    "/api/v1/tasks/{id}/members/{user_id}",
    "Assign a role on this task (and below)",
    body=ROLE,
    responses={200: "MemberList"},
    errors=(400, 403, 404, 409),
)
async def set_member(call: Call) -> web.StreamResponse:
    tree = call.services.tree
    task_id, user_id = call.path_id(), parse_id(call.request.match_info["user_id"], "user_id")
    await tree.set_member(call.caller, task_id, user_id, call.body["role"])
    return json({"items": await tree.members(call.caller, task_id)})


@routes.delete(
    "/api/v1/tasks/{id}/members/{user_id}",
    "Remove the direct assignment (scope=subtree: every one in the subtree)",
    query=UNASSIGN,
    responses={204: None},
    errors=(400, 403, 404),
)
async def remove_member(call: Call) -> web.StreamResponse:
    user_id = parse_id(call.request.match_info["user_id"], "user_id")
    await call.services.tree.remove_member(
        call.caller, call.path_id(), user_id, call.query["scope"] == "subtree"
    )
    return no_content()
