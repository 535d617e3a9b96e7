"""Who is calling: resolved from the bearer token on every request."""

from __future__ import annotations

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
