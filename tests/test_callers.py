"""Who is calling: resolved from the bearer token on every request."""

from __future__ import annotations

from typing import Any

from support import World


async def test_who_is_calling_follows_every_change_at_once(any_world: World) -> None:
    """Callers are remembered between requests where the store can tell when tokens or users
    change: a role change, a sign-out, a deactivation all apply to the very next request."""
    world = any_world
    bob = await world.admin.add_user("bob@acme.test")
    other = await world.admin.add_user("carol@acme.test")
    assert (await bob.get("/api/v1/me")).body["role"] == "user"
    assert (await bob.get("/api/v1/users")).status == 403

    changed = await world.admin.patch(f"/api/v1/users/{bob.id}", {"role": "administrator"})
    assert changed.status == 200
    assert (await bob.get("/api/v1/me")).body["role"] == "administrator"
    assert (await bob.get("/api/v1/users")).status == 200

    assert (await other.post("/api/v1/auth/logout")).status == 204
    assert (await other.get("/api/v1/me")).status == 401
    assert (await bob.get("/api/v1/me")).status == 200

    assert (await world.admin.delete(f"/api/v1/users/{bob.id}")).status == 204
    assert (await bob.get("/api/v1/me")).status == 401


async def test_role_and_tree_changes_apply_to_the_very_next_timer_start(any_world: World) -> None:
    """Roles and the tree are remembered between requests where the store can tell when they
    change: an assignment, an unassignment, an archived task all apply to the next start."""
    world = any_world
    bob = await world.admin.add_user("bob@acme.test")
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])

    def start() -> Any:
        return bob.post("/api/v1/timer/start", {"task_id": task["id"]})

    assert (await start()).status == 403  # not assigned
    await world.admin.assign(project["id"], bob, "regular")
    assert (await start()).status == 201
    await world.admin.assign(project["id"], bob, "guest")
    assert (await start()).status == 403
    await world.admin.assign(project["id"], bob, "manager")
    assert (await start()).status == 201
    archived = await world.admin.patch(f"/api/v1/tasks/{project['id']}", {"archived": True})
    assert archived.status == 200
    refused = await start()
    assert refused.status == 409 and refused.body["error"]["code"] == "task_archived"
    renamed = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"name": "Design system"})
    assert renamed.status == 200
    timer = (await bob.get("/api/v1/timer")).body
    assert timer["entry"]["task"]["name"] == "Design system"
