"""Tenant isolation: another account's objects answer 404, as if they did not exist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from support import Api, Response, World

from server.salesforce_ids import to_18

RECORD_15 = "0065g00000AbCdE"
RECORD_18 = to_18(RECORD_15)
assert RECORD_18 is not None

DAY = {"from": "2026-03-02", "to": "2026-03-03"}


@dataclass
class Tenants:
    """Account Acme (`acme`, its admin) holds project "Apollo" > "Design", an imported
    opportunity, a user `bob` assigned on the project, and a 1-hour entry of bob on "Design".
    Account Globex (`globex`, its admin) holds project "Globex own" and user `gus`."""

    acme: Api
    bob: Api
    project: dict[str, Any]
    task: dict[str, Any]
    imported: dict[str, Any]
    entry: dict[str, Any]
    globex: Api
    gus: Api
    globex_task: dict[str, Any]


async def tenants(world: World) -> Tenants:
    acme = world.admin
    project = await acme.create_task("Apollo")
    task = await acme.create_task("Design", project["id"])
    sf = await world.imported_task(acme, None, "Salesforce")
    imported = await world.imported_task(acme, sf["id"], "Acme Renewal", "Opportunity", RECORD_18)
    bob = await acme.add_user("bob@acme.test")
    await acme.assign(project["id"], bob, "regular")
    r = await bob.post(
        "/api/v1/entries",
        {
            "task_id": task["id"],
            "start": "2026-03-02T09:00:00Z",
            "end": "2026-03-02T10:00:00Z",
            "note": "acme secret",
        },
    )
    assert r.status == 201, r.body
    globex = await world.new_account("Globex", "admin@globex.test")
    gus = await globex.add_user("gus@globex.test")
    globex_task = await globex.create_task("Globex own")
    await globex.assign(globex_task["id"], gus, "regular")
    return Tenants(acme, bob, project, task, imported, r.body, globex, gus, globex_task)


def assert_not_found(r: Response) -> None:
    assert (r.status, r.code) == (404, "not_found"), r.body


def item_ids(r: Response) -> list[str]:
    assert r.status == 200, r.body
    return [item["id"] for item in r.body["items"]]


# Tasks ------------------------------------------------------------------------------------


async def test_other_accounts_task_cannot_be_read(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.get(f"/api/v1/tasks/{t.task['id']}"))


async def test_other_accounts_task_children_cannot_be_listed(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.get(f"/api/v1/tasks/{t.project['id']}/children"))


async def test_other_accounts_task_cannot_be_renamed(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.patch(f"/api/v1/tasks/{t.task['id']}", {"name": "Owned"})
    assert_not_found(r)
    assert (await t.acme.get(f"/api/v1/tasks/{t.task['id']}")).body["name"] == "Design"


async def test_other_accounts_task_cannot_be_archived(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.patch(f"/api/v1/tasks/{t.task['id']}", {"archived": True}))
    assert (await t.acme.get(f"/api/v1/tasks/{t.task['id']}")).body["archived"] is False


async def test_other_accounts_task_cannot_be_deleted(world: World) -> None:
    t = await tenants(world)
    empty = await t.acme.create_task("Empty")
    assert_not_found(await t.globex.delete(f"/api/v1/tasks/{empty['id']}"))
    assert (await t.acme.get(f"/api/v1/tasks/{empty['id']}")).status == 200


async def test_a_task_cannot_be_created_under_another_accounts_task(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.post("/api/v1/tasks", {"name": "Cuckoo", "parent_id": t.project["id"]})
    assert_not_found(r)
    children = await t.acme.get(f"/api/v1/tasks/{t.project['id']}/children")
    assert item_ids(children) == [t.task["id"]]


async def test_a_task_cannot_be_moved_under_another_accounts_task(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.patch(f"/api/v1/tasks/{t.globex_task['id']}", {"parent_id": t.project["id"]})
    assert_not_found(r)
    children = await t.acme.get(f"/api/v1/tasks/{t.project['id']}/children")
    assert item_ids(children) == [t.task["id"]]
    mine = await t.globex.get(f"/api/v1/tasks/{t.globex_task['id']}")
    assert (mine.body["parent_id"], mine.body["path"]) == (None, [])


async def test_other_accounts_task_members_cannot_be_listed(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.get(f"/api/v1/tasks/{t.project['id']}/members"))


async def test_own_user_cannot_be_assigned_on_another_accounts_task(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.put(
        f"/api/v1/tasks/{t.project['id']}/members/{t.gus.id}", {"role": "manager"}
    )
    assert_not_found(r)
    assert_not_found(await t.gus.get(f"/api/v1/tasks/{t.project['id']}"))


async def test_other_accounts_member_cannot_be_changed_or_removed(world: World) -> None:
    t = await tenants(world)
    path = f"/api/v1/tasks/{t.project['id']}/members/{t.bob.id}"
    assert_not_found(await t.globex.put(path, {"role": "guest"}))
    assert_not_found(await t.globex.delete(path))
    assert_not_found(await t.globex.delete(path, scope="subtree"))
    assert (await t.bob.get(f"/api/v1/tasks/{t.project['id']}")).body["my_role"] == "regular"


async def test_a_user_of_one_account_cannot_be_assigned_in_another(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.put(
        f"/api/v1/tasks/{t.globex_task['id']}/members/{t.bob.id}", {"role": "regular"}
    )
    assert_not_found(r)
    assert_not_found(await t.bob.get(f"/api/v1/tasks/{t.globex_task['id']}"))
    members = await t.globex.get(f"/api/v1/tasks/{t.globex_task['id']}/members")
    assert "bob@acme.test" not in {m["user"]["email"] for m in members.body["items"]}


async def test_a_user_of_another_account_cannot_be_assigned_here(world: World) -> None:
    t = await tenants(world)
    r = await t.acme.put(f"/api/v1/tasks/{t.project['id']}/members/{t.gus.id}", {"role": "regular"})
    assert_not_found(r)
    assert_not_found(await t.gus.get(f"/api/v1/tasks/{t.project['id']}"))


@pytest.mark.parametrize(
    "params", [{}, {"q": "apollo"}, {"q": "design"}, {"include_archived": True}]
)
async def test_task_list_never_shows_another_accounts_tasks(
    world: World, params: dict[str, Any]
) -> None:
    t = await tenants(world)
    r = await t.globex.get("/api/v1/tasks", **params)
    acme_ids = {t.project["id"], t.task["id"], t.imported["id"]}
    assert not acme_ids & set(item_ids(r))


async def test_task_list_shows_own_tasks_alongside_another_account(world: World) -> None:
    t = await tenants(world)
    assert item_ids(await t.globex.get("/api/v1/tasks")) == [t.globex_task["id"]]


@pytest.mark.parametrize("record_id", [RECORD_15, RECORD_18], ids=["15-char", "18-char"])
async def test_by_source_does_not_find_another_accounts_import(
    world: World, record_id: str
) -> None:
    t = await tenants(world)
    r = await t.globex.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
    assert_not_found(r)


async def test_the_same_record_imported_in_two_accounts_resolves_to_each_ones_task(
    world: World,
) -> None:
    t = await tenants(world)
    theirs = await world.imported_task(t.globex, None, "Globex renewal", "Opportunity", RECORD_18)
    r = await t.globex.get("/api/v1/tasks/by-source", system="salesforce", id=RECORD_15)
    assert (r.status, r.body["id"]) == (200, theirs["id"])
    ours = await t.acme.get("/api/v1/tasks/by-source", system="salesforce", id=RECORD_15)
    assert (ours.status, ours.body["id"]) == (200, t.imported["id"])


# Timer and entries ------------------------------------------------------------------------


async def test_timer_cannot_start_on_another_accounts_task(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.post("/api/v1/timer/start", {"task_id": t.task["id"]}))
    assert (await t.globex.get("/api/v1/timer")).body == {"running": False}


async def test_an_entry_cannot_be_added_on_another_accounts_task(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.post(
        "/api/v1/entries",
        {"task_id": t.task["id"], "start": "2026-03-02T11:00:00Z", "duration": 600},
    )
    assert_not_found(r)
    assert (await t.globex.get("/api/v1/entries")).body["items"] == []


async def test_own_entry_cannot_be_moved_onto_another_accounts_task(world: World) -> None:
    t = await tenants(world)
    mine = await t.gus.post(
        "/api/v1/entries",
        {"task_id": t.globex_task["id"], "start": "2026-03-02T11:00:00Z", "duration": 600},
    )
    assert mine.status == 201, mine.body
    r = await t.gus.patch(f"/api/v1/entries/{mine.body['id']}", {"task_id": t.task["id"]})
    assert_not_found(r)
    again = await t.gus.get(f"/api/v1/entries/{mine.body['id']}")
    assert again.body["task_id"] == t.globex_task["id"]


async def test_other_accounts_entry_cannot_be_read(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.get(f"/api/v1/entries/{t.entry['id']}"))


async def test_other_accounts_entry_cannot_be_edited(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.patch(f"/api/v1/entries/{t.entry['id']}", {"note": "tampered"})
    assert_not_found(r)
    assert (await t.bob.get(f"/api/v1/entries/{t.entry['id']}")).body["note"] == "acme secret"


async def test_other_accounts_entry_cannot_be_deleted(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.delete(f"/api/v1/entries/{t.entry['id']}"))
    assert (await t.bob.get(f"/api/v1/entries/{t.entry['id']}")).status == 200


async def test_entry_list_filtered_by_another_accounts_task_is_404(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.get("/api/v1/entries", task_id=t.task["id"]))


async def test_entry_list_for_another_accounts_user_shows_nothing(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.get("/api/v1/entries", user_id=t.bob.id)
    assert r.status in (200, 404), r.body
    if r.status == 200:
        assert r.body["items"] == []


# Reports ----------------------------------------------------------------------------------


@pytest.mark.parametrize("group_by", ["task", "project", "user"])
async def test_report_never_counts_another_accounts_time(world: World, group_by: str) -> None:
    t = await tenants(world)
    own = await t.gus.post(
        "/api/v1/entries",
        {"task_id": t.globex_task["id"], "start": "2026-03-02T11:00:00Z", "duration": 600},
    )
    assert own.status == 201, own.body
    r = await t.globex.get("/api/v1/reports/summary", group_by=group_by, **DAY)
    assert r.status == 200, r.body
    assert r.body["total_seconds"] == 600
    assert len(r.body["items"]) == 1


async def test_csv_report_never_mentions_another_accounts_names(world: World) -> None:
    t = await tenants(world)
    for group_by in ("task", "project", "user"):
        r = await t.globex.get("/api/v1/reports/summary", group_by=group_by, format="csv", **DAY)
        assert r.status == 200
        for secret in ("Apollo", "Design", "bob@acme.test", t.bob.id):
            assert secret not in r.body


async def test_report_for_another_accounts_user_shows_nothing(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.get("/api/v1/reports/summary", user_id=t.bob.id, **DAY)
    assert r.status in (200, 404), r.body
    if r.status == 200:
        assert (r.body["items"], r.body["total_seconds"]) == ([], 0)


async def test_own_report_still_counts_own_time(world: World) -> None:
    t = await tenants(world)
    r = await t.acme.get("/api/v1/reports/summary", group_by="user", **DAY)
    assert [(i["key"]["email"], i["seconds"]) for i in r.body["items"]] == [("bob@acme.test", 3600)]


# Users ------------------------------------------------------------------------------------


async def test_other_accounts_user_cannot_be_read(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.get(f"/api/v1/users/{t.bob.id}"))


async def test_other_accounts_user_cannot_be_changed(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.patch(
        f"/api/v1/users/{t.bob.id}", {"name": "Hijacked", "role": "administrator"}
    )
    assert_not_found(r)
    user = await t.acme.get(f"/api/v1/users/{t.bob.id}")
    assert (user.body["name"], user.body["role"]) == ("bob", "user")


async def test_other_accounts_user_cannot_be_deactivated(world: World) -> None:
    t = await tenants(world)
    assert_not_found(await t.globex.delete(f"/api/v1/users/{t.bob.id}"))
    assert_not_found(await t.globex.patch(f"/api/v1/users/{t.bob.id}", {"active": False}))
    assert (await t.bob.get("/api/v1/me")).status == 200


async def test_user_list_shows_only_own_accounts_users(world: World) -> None:
    t = await tenants(world)
    r = await t.globex.get("/api/v1/users")
    emails = sorted(u["email"] for u in r.body["items"])
    assert emails == ["admin@globex.test", "gus@globex.test"]
