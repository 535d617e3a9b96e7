"""Project roles on the tree: who sees, tracks and manages what, and how assignments inherit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from support import Api, Response, World

ROLES = ("administrator", "manager", "regular", "guest", "unassigned")

# role → (sees the tasks, timer/start status, members endpoints status)
MATRIX: dict[str, tuple[bool, int, int]] = {
    "administrator": (True, 201, 200),
    "manager": (True, 201, 200),
    "regular": (True, 201, 403),
    "guest": (True, 403, 403),
    "unassigned": (False, 403, 404),
}


def item_ids(r: Response) -> list[str]:
    assert r.status == 200, r.body
    return [item["id"] for item in r.body["items"]]


async def member_roles(api: Api, task_id: str) -> dict[str, tuple[str, str | None]]:
    """email → (role, inherited_from) as the members list shows it."""
    r = await api.get(f"/api/v1/tasks/{task_id}/members")
    assert r.status == 200, r.body
    return {m["user"]["email"]: (m["role"], m["inherited_from"]) for m in r.body["items"]}


@dataclass
class Matrix:
    """Project "Apollo" > task "Design"; `subject` holds the role under test on the project,
    `target` is a regular member of "Design" whose assignment the subject tries to edit."""

    admin: Api
    subject: Api
    target: Api
    project: dict[str, Any]
    task: dict[str, Any]


async def matrix_world(world: World, role: str) -> Matrix:
    project = await world.admin.create_task("Apollo")
    task = await world.admin.create_task("Design", project["id"])
    if role == "administrator":
        subject = await world.admin.add_user("subject@acme.test", role="administrator")
    else:
        subject = await world.admin.add_user("subject@acme.test")
        if role != "unassigned":
            await world.admin.assign(project["id"], subject, role)
    target = await world.admin.add_user("target@acme.test")
    await world.admin.assign(task["id"], target, "regular")
    return Matrix(world.admin, subject, target, project, task)


# The matrix: one test case per role and action -----------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_get_task(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    sees, _, _ = MATRIX[role]
    r = await m.subject.get(f"/api/v1/tasks/{m.task['id']}")
    if sees:
        assert r.status == 200, r.body
        assert r.body["name"] == "Design"
    else:
        assert (r.status, r.code) == (404, "not_found")


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_task_list(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    sees, _, _ = MATRIX[role]
    listed = item_ids(await m.subject.get("/api/v1/tasks"))
    if sees:
        assert {m.project["id"], m.task["id"]} <= set(listed)
    else:
        assert listed == []


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_children(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    sees, _, _ = MATRIX[role]
    r = await m.subject.get(f"/api/v1/tasks/{m.project['id']}/children")
    if sees:
        assert item_ids(r) == [m.task["id"]]
    else:
        assert (r.status, r.code) == (404, "not_found")


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_start_timer(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    _, status, _ = MATRIX[role]
    r = await m.subject.post("/api/v1/timer/start", {"task_id": m.task["id"]})
    assert r.status == status, r.body
    timer = await m.subject.get("/api/v1/timer")
    if status == 201:
        assert r.body["entry"]["task_id"] == m.task["id"]
        assert timer.body["running"] is True
    else:
        assert r.code == "forbidden"
        assert timer.body == {"running": False}


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_add_entry_by_hand(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    _, status, _ = MATRIX[role]
    r = await m.subject.post(
        "/api/v1/entries",
        {"task_id": m.task["id"], "start": "2026-03-02T09:00:00Z", "duration": 600},
    )
    assert r.status == status, r.body
    mine = await m.subject.get("/api/v1/entries")
    assert len(mine.body["items"]) == (1 if status == 201 else 0)


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_list_members(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    _, _, status = MATRIX[role]
    r = await m.subject.get(f"/api/v1/tasks/{m.task['id']}/members")
    assert r.status == status, r.body
    if status == 200:
        emails = {item["user"]["email"] for item in r.body["items"]}
        assert "target@acme.test" in emails
    else:
        assert r.code == ("forbidden" if status == 403 else "not_found")


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_put_member(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    _, _, status = MATRIX[role]
    r = await m.subject.put(
        f"/api/v1/tasks/{m.task['id']}/members/{m.target.id}", {"role": "guest"}
    )
    assert r.status == status, r.body
    after = (await member_roles(m.admin, m.task["id"]))["target@acme.test"]
    assert after == (("guest", None) if status == 200 else ("regular", None))


@pytest.mark.parametrize("role", ROLES)
async def test_matrix_delete_member(world: World, role: str) -> None:
    m = await matrix_world(world, role)
    _, _, status = MATRIX[role]
    r = await m.subject.delete(f"/api/v1/tasks/{m.task['id']}/members/{m.target.id}")
    assert r.status == (204 if status == 200 else status), r.body
    members = await member_roles(m.admin, m.task["id"])
    if status == 200:
        assert "target@acme.test" not in members
    else:
        assert members["target@acme.test"] == ("regular", None)


@pytest.mark.parametrize(
    ("role", "my_role"),
    [
        ("administrator", None),
        ("manager", "manager"),
        ("regular", "regular"),
        ("guest", "guest"),
    ],
)
async def test_my_role_reports_the_callers_inherited_role(
    world: World, role: str, my_role: str | None
) -> None:
    m = await matrix_world(world, role)
    r = await m.subject.get(f"/api/v1/tasks/{m.task['id']}")
    assert r.body["my_role"] == my_role
    listed = await m.subject.get("/api/v1/tasks")
    assert {t["my_role"] for t in listed.body["items"]} == {my_role}


async def test_creator_of_a_project_is_its_manager(world: World) -> None:
    bob = await world.admin.add_user("bob@acme.test")
    project = await bob.create_task("Bob's side project")
    assert project["my_role"] == "manager"
    members = await member_roles(world.admin, project["id"])
    assert members["bob@acme.test"] == ("manager", None)


# Inheritance ------------------------------------------------------------------------------


async def test_assignment_on_a_project_reaches_a_sub_sub_task(world: World) -> None:
    project = await world.admin.create_task("Apollo")
    task = await world.admin.create_task("Design", project["id"])
    leaf = await world.admin.create_task("Logo", task["id"])
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(project["id"], bob, "regular")

    seen = await bob.get(f"/api/v1/tasks/{leaf['id']}")
    assert seen.status == 200 and seen.body["my_role"] == "regular"
    started = await bob.post("/api/v1/timer/start", {"task_id": leaf["id"]})
    assert started.status == 201, started.body


async def test_members_list_shows_where_a_role_is_inherited_from(world: World) -> None:
    project = await world.admin.create_task("Apollo")
    task = await world.admin.create_task("Design", project["id"])
    leaf = await world.admin.create_task("Logo", task["id"])
    bob = await world.admin.add_user("bob@acme.test")
    cid = await world.admin.add_user("cid@acme.test")
    await world.admin.assign(project["id"], bob, "regular")
    await world.admin.assign(task["id"], cid, "guest")

    assert await member_roles(world.admin, leaf["id"]) == {
        "admin@acme.test": ("manager", project["id"]),
        "bob@acme.test": ("regular", project["id"]),
        "cid@acme.test": ("guest", task["id"]),
    }
    on_project = await member_roles(world.admin, project["id"])
    assert on_project == {
        "admin@acme.test": ("manager", None),
        "bob@acme.test": ("regular", None),
    }


async def test_members_list_shows_only_the_nearest_assignment(world: World) -> None:
    project = await world.admin.create_task("Apollo")
    task = await world.admin.create_task("Design", project["id"])
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(project["id"], bob, "regular")
    await world.admin.assign(task["id"], bob, "guest")
    r = await world.admin.get(f"/api/v1/tasks/{task['id']}/members")
    bobs = [m for m in r.body["items"] if m["user"]["email"] == "bob@acme.test"]
    assert [(m["role"], m["inherited_from"]) for m in bobs] == [("guest", None)]


# Nearest assignment wins ------------------------------------------------------------------


@dataclass
class Nearest:
    """Project "Apollo" with tasks "Design" (> "Logo") and "Build"; `bob` has a role on the
    project and another on "Design"."""

    bob: Api
    nodes: dict[str, str]


async def nearest_world(world: World, on_project: str, on_design: str) -> Nearest:
    project = await world.admin.create_task("Apollo")
    design = await world.admin.create_task("Design", project["id"])
    logo = await world.admin.create_task("Logo", design["id"])
    build = await world.admin.create_task("Build", project["id"])
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(project["id"], bob, on_project)
    await world.admin.assign(design["id"], bob, on_design)
    nodes = {
        "project": project["id"],
        "design": design["id"],
        "logo": logo["id"],
        "build": build["id"],
    }
    return Nearest(bob, nodes)


@pytest.mark.parametrize(
    ("node", "status"),
    [("design", 403), ("logo", 403), ("build", 201), ("project", 201)],
)
async def test_guest_on_a_task_below_a_regular_project_blocks_tracking_only_there(
    world: World, node: str, status: int
) -> None:
    n = await nearest_world(world, on_project="regular", on_design="guest")
    r = await n.bob.post("/api/v1/timer/start", {"task_id": n.nodes[node]})
    assert r.status == status, r.body


@pytest.mark.parametrize(
    ("node", "my_role"),
    [("project", "regular"), ("design", "guest"), ("logo", "guest"), ("build", "regular")],
)
async def test_my_role_follows_the_nearest_assignment(
    world: World, node: str, my_role: str
) -> None:
    n = await nearest_world(world, on_project="regular", on_design="guest")
    r = await n.bob.get(f"/api/v1/tasks/{n.nodes[node]}")
    assert r.body["my_role"] == my_role


@pytest.mark.parametrize(
    ("node", "status"),
    [("design", 200), ("logo", 200), ("build", 403), ("project", 403)],
)
async def test_manager_on_a_task_below_a_guest_project_manages_only_there(
    world: World, node: str, status: int
) -> None:
    n = await nearest_world(world, on_project="guest", on_design="manager")
    carl = await world.admin.add_user("carl@acme.test")
    listed = await n.bob.get(f"/api/v1/tasks/{n.nodes[node]}/members")
    assert listed.status == status, listed.body
    put = await n.bob.put(f"/api/v1/tasks/{n.nodes[node]}/members/{carl.id}", {"role": "regular"})
    assert put.status == status, put.body


@pytest.mark.parametrize(("node", "status"), [("design", 201), ("logo", 201), ("build", 403)])
async def test_manager_on_a_task_below_a_guest_project_tracks_only_there(
    world: World, node: str, status: int
) -> None:
    n = await nearest_world(world, on_project="guest", on_design="manager")
    r = await n.bob.post("/api/v1/timer/start", {"task_id": n.nodes[node]})
    assert r.status == status, r.body


async def test_trackable_task_list_follows_the_nearest_assignment(world: World) -> None:
    n = await nearest_world(world, on_project="regular", on_design="guest")
    trackable = await n.bob.get("/api/v1/tasks", trackable=True)
    assert sorted(item_ids(trackable)) == sorted([n.nodes["project"], n.nodes["build"]])
    visible = await n.bob.get("/api/v1/tasks")
    assert sorted(item_ids(visible)) == sorted(n.nodes.values())


async def test_a_moved_task_takes_the_roles_of_its_new_project(world: World) -> None:
    first = await world.admin.create_task("First")
    second = await world.admin.create_task("Second")
    task = await world.admin.create_task("Wandering", first["id"])
    leaf = await world.admin.create_task("Leaf", task["id"])
    bob = await world.admin.add_user("bob@acme.test")
    cid = await world.admin.add_user("cid@acme.test")
    await world.admin.assign(first["id"], bob, "regular")
    await world.admin.assign(second["id"], cid, "guest")

    moved = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"parent_id": second["id"]})
    assert moved.status == 200, moved.body
    assert (await bob.get(f"/api/v1/tasks/{leaf['id']}")).status == 404
    seen = await cid.get(f"/api/v1/tasks/{leaf['id']}")
    assert (seen.status, seen.body["my_role"]) == (200, "guest")


async def test_search_by_words_never_shows_tasks_outside_the_callers_assignments(
    world: World,
) -> None:
    mine = await world.admin.create_task("Apollo launch")
    hidden = await world.admin.create_task("Apollo secret")
    await world.admin.create_task("Apollo budget", hidden["id"])
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(mine["id"], bob, "regular")
    found = await bob.get("/api/v1/tasks", q="apollo")
    assert item_ids(found) == [mine["id"]]


# Unassigning ------------------------------------------------------------------------------


async def test_unassign_from_a_node_falls_back_to_the_inherited_role(world: World) -> None:
    n = await nearest_world(world, on_project="regular", on_design="guest")
    r = await world.admin.delete(f"/api/v1/tasks/{n.nodes['design']}/members/{n.bob.id}")
    assert r.status == 204
    design = await n.bob.get(f"/api/v1/tasks/{n.nodes['design']}")
    assert design.body["my_role"] == "regular"
    started = await n.bob.post("/api/v1/timer/start", {"task_id": n.nodes["logo"]})
    assert started.status == 201, started.body


async def test_unassign_from_a_project_node_keeps_assignments_below_it(world: World) -> None:
    n = await nearest_world(world, on_project="regular", on_design="manager")
    r = await world.admin.delete(f"/api/v1/tasks/{n.nodes['project']}/members/{n.bob.id}")
    assert r.status == 204
    assert (await n.bob.get(f"/api/v1/tasks/{n.nodes['project']}")).status == 404
    assert (await n.bob.get(f"/api/v1/tasks/{n.nodes['build']}")).status == 404
    design = await n.bob.get(f"/api/v1/tasks/{n.nodes['design']}")
    assert (design.status, design.body["my_role"]) == (200, "manager")


async def test_unassign_from_the_entire_project_removes_every_assignment_in_it(
    world: World,
) -> None:
    n = await nearest_world(world, on_project="regular", on_design="manager")
    await world.admin.assign(n.nodes["logo"], n.bob, "guest")
    await world.admin.assign(n.nodes["build"], n.bob, "regular")

    r = await world.admin.delete(
        f"/api/v1/tasks/{n.nodes['project']}/members/{n.bob.id}", scope="subtree"
    )
    assert r.status == 204
    for node_id in n.nodes.values():
        assert (await n.bob.get(f"/api/v1/tasks/{node_id}")).status == 404
        assert "bob@acme.test" not in await member_roles(world.admin, node_id)
    assert item_ids(await n.bob.get("/api/v1/tasks")) == []


async def test_unassign_from_a_subtree_keeps_assignments_outside_it(world: World) -> None:
    n = await nearest_world(world, on_project="guest", on_design="manager")
    await world.admin.assign(n.nodes["build"], n.bob, "regular")
    r = await world.admin.delete(
        f"/api/v1/tasks/{n.nodes['design']}/members/{n.bob.id}", scope="subtree"
    )
    assert r.status == 204
    design = await n.bob.get(f"/api/v1/tasks/{n.nodes['design']}")
    assert design.body["my_role"] == "guest"
    build = await n.bob.get(f"/api/v1/tasks/{n.nodes['build']}")
    assert build.body["my_role"] == "regular"


async def test_unassign_from_the_entire_project_follows_a_moved_task(world: World) -> None:
    first = await world.admin.create_task("First")
    second = await world.admin.create_task("Second")
    task = await world.admin.create_task("Wandering", first["id"])
    leaf = await world.admin.create_task("Leaf", task["id"])
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(leaf["id"], bob, "regular")
    moved = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"parent_id": second["id"]})
    assert moved.status == 200, moved.body

    r = await world.admin.delete(f"/api/v1/tasks/{second['id']}/members/{bob.id}", scope="subtree")
    assert r.status == 204
    assert (await bob.get(f"/api/v1/tasks/{leaf['id']}")).status == 404


# Whose time a manager sees ----------------------------------------------------------------

DAY = {"from": "2026-03-02", "to": "2026-03-03"}


@dataclass
class Reach:
    """ "Managed" (> "Build") is managed by `mia`; "Elsewhere" (> "Run") is not. `wes` is regular
    on both and logged 1 h on "Build" and 2 h on "Run"."""

    mia: Api
    wes: Api
    build: dict[str, Any]
    run: dict[str, Any]


async def reach_world(world: World) -> Reach:
    managed = await world.admin.create_task("Managed")
    build = await world.admin.create_task("Build", managed["id"])
    elsewhere = await world.admin.create_task("Elsewhere")
    run = await world.admin.create_task("Run", elsewhere["id"])
    mia = await world.admin.add_user("mia@acme.test")
    wes = await world.admin.add_user("wes@acme.test")
    await world.admin.assign(managed["id"], mia, "manager")
    await world.admin.assign(managed["id"], wes, "regular")
    await world.admin.assign(elsewhere["id"], wes, "regular")
    for task, start, end in (
        (build, "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"),
        (run, "2026-03-02T11:00:00Z", "2026-03-02T13:00:00Z"),
    ):
        r = await wes.post("/api/v1/entries", {"task_id": task["id"], "start": start, "end": end})
        assert r.status == 201, r.body
    return Reach(mia, wes, build, run)


async def test_manager_lists_another_users_entries_only_within_their_subtree(
    world: World,
) -> None:
    r = await reach_world(world)
    listed = await r.mia.get("/api/v1/entries", user_id=r.wes.id)
    assert listed.status == 200, listed.body
    assert [e["task_id"] for e in listed.body["items"]] == [r.build["id"]]


async def test_manager_report_on_another_user_counts_only_their_subtree(world: World) -> None:
    r = await reach_world(world)
    report = await r.mia.get("/api/v1/reports/summary", user_id=r.wes.id, **DAY)
    assert report.status == 200, report.body
    assert report.body["total_seconds"] == 3600
    assert [i["key"]["task_id"] for i in report.body["items"]] == [r.build["id"]]


async def test_manager_report_of_everyone_covers_only_their_subtree(world: World) -> None:
    r = await reach_world(world)
    report = await r.mia.get("/api/v1/reports/summary", group_by="user", **DAY)
    assert report.status == 200, report.body
    assert [(i["key"]["email"], i["seconds"]) for i in report.body["items"]] == [
        ("wes@acme.test", 3600)
    ]


async def test_manager_reach_stops_where_a_nearer_guest_assignment_starts(world: World) -> None:
    r = await reach_world(world)
    await world.admin.assign(r.build["id"], r.mia, "guest")
    listed = await r.mia.get("/api/v1/entries", user_id=r.wes.id)
    assert listed.status == 200, listed.body
    assert listed.body["items"] == []


async def test_administrator_sees_another_users_entries_everywhere(world: World) -> None:
    r = await reach_world(world)
    listed = await world.admin.get("/api/v1/entries", user_id=r.wes.id)
    assert sorted(e["task_id"] for e in listed.body["items"]) == sorted(
        [r.build["id"], r.run["id"]]
    )


async def test_regular_user_cannot_list_another_users_entries(world: World) -> None:
    r = await reach_world(world)
    listed = await r.wes.get("/api/v1/entries", user_id=r.mia.id)
    assert (listed.status, listed.code) == (403, "forbidden")


async def test_regular_users_report_counts_only_their_own_time(world: World) -> None:
    r = await reach_world(world)
    other = await world.admin.post(
        "/api/v1/entries",
        {"task_id": r.build["id"], "start": "2026-03-02T14:00:00Z", "duration": 900},
    )
    assert other.status == 201, other.body
    report = await r.wes.get("/api/v1/reports/summary", group_by="user", **DAY)
    assert [(i["key"]["email"], i["seconds"]) for i in report.body["items"]] == [
        ("wes@acme.test", 3 * 3600)
    ]


async def test_regular_user_cannot_report_on_another_user(world: World) -> None:
    r = await reach_world(world)
    report = await r.wes.get("/api/v1/reports/summary", user_id=r.mia.id, **DAY)
    assert (report.status, report.code) == (403, "forbidden")
