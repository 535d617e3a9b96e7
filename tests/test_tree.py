"""The project tree: manual projects and tasks, locked imported tasks, by-source lookup, search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from support import PASSWORD, AiohttpClient, Api, Response, World, sign_in

from server.app import create_app
from server.appkeys import SERVICES
from server.salesforce_ids import to_18
from server.settings import Settings
from server.store import Store, open_mongomock

OPPORTUNITY_15 = "0065g00000AbCdE"
OPPORTUNITY_18 = to_18(OPPORTUNITY_15)
assert OPPORTUNITY_18 is not None and len(OPPORTUNITY_18) == 18


def item_ids(r: Response) -> list[str]:
    assert r.status == 200, r.body
    return [item["id"] for item in r.body["items"]]


def item_names(r: Response) -> list[str]:
    assert r.status == 200, r.body
    return [item["name"] for item in r.body["items"]]


async def get_task(api: Api, task_id: str) -> dict[str, Any]:
    r = await api.get(f"/api/v1/tasks/{task_id}")
    assert r.status == 200, r.body
    return dict(r.body)


async def log_hour(api: Api, task_id: str) -> None:
    r = await api.post(
        "/api/v1/entries",
        {"task_id": task_id, "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"},
    )
    assert r.status == 201, r.body


# Manual projects and tasks ----------------------------------------------------------------


async def test_a_project_is_a_top_level_node_with_an_empty_path(world: World) -> None:
    project = await world.admin.create_task("Website")
    assert (project["kind"], project["parent_id"], project["path"]) == ("project", None, [])
    assert (project["locked"], project["archived"], project["source"]) == (False, False, None)
    assert await get_task(world.admin, project["id"]) == project


async def test_a_task_knows_its_parent_and_the_names_above_it(world: World) -> None:
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])
    leaf = await world.admin.create_task("Logo", task["id"])
    assert (task["kind"], task["parent_id"], task["path"]) == ("task", project["id"], ["Website"])
    fetched = await get_task(world.admin, leaf["id"])
    assert (fetched["kind"], fetched["parent_id"]) == ("task", task["id"])
    assert fetched["path"] == ["Website", "Design"]


async def test_creating_a_task_under_an_unknown_parent_is_404(world: World) -> None:
    r = await world.admin.post(
        "/api/v1/tasks", {"name": "Orphan", "parent_id": "0123456789abcdef01234567"}
    )
    assert (r.status, r.code) == (404, "not_found")


async def test_children_lists_direct_children_only_sorted_by_name(world: World) -> None:
    project = await world.admin.create_task("Website")
    beta = await world.admin.create_task("beta", project["id"])
    alpha = await world.admin.create_task("Alpha", project["id"])
    await world.admin.create_task("Grandchild", alpha["id"])
    r = await world.admin.get(f"/api/v1/tasks/{project['id']}/children")
    assert item_ids(r) == [alpha["id"], beta["id"]]
    assert r.body["next_cursor"] is None


async def test_children_pages_with_limit_and_cursor(world: World) -> None:
    project = await world.admin.create_task("Website")
    for n in range(1, 6):
        await world.admin.create_task(f"Task {n}", project["id"])
    path = f"/api/v1/tasks/{project['id']}/children"
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        r = await world.admin.get(path, limit=2, cursor=cursor)
        names = item_names(r)
        assert len(names) == (2 if pages < 2 else 1)
        seen += names
        pages += 1
        cursor = r.body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"Task {n}" for n in range(1, 6)]


async def test_children_refuses_a_cursor_it_did_not_issue(world: World) -> None:
    project = await world.admin.create_task("Website")
    r = await world.admin.get(f"/api/v1/tasks/{project['id']}/children", cursor="not-a-cursor")
    assert (r.status, r.code) == (400, "invalid_request")


async def test_rename_updates_the_path_of_every_descendant(world: World) -> None:
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])
    child = await world.admin.create_task("Logo", task["id"])
    leaf = await world.admin.create_task("Colours", child["id"])

    r = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"name": "Visual design"})
    assert r.status == 200 and r.body["name"] == "Visual design"
    assert r.body["path"] == ["Website"]
    assert (await get_task(world.admin, child["id"]))["path"] == ["Website", "Visual design"]
    assert (await get_task(world.admin, leaf["id"]))["path"] == [
        "Website",
        "Visual design",
        "Logo",
    ]


async def test_move_updates_the_path_of_the_task_and_its_descendants(world: World) -> None:
    old = await world.admin.create_task("Old home")
    new = await world.admin.create_task("New home")
    target = await world.admin.create_task("Target", new["id"])
    task = await world.admin.create_task("Design", old["id"])
    leaf = await world.admin.create_task("Logo", task["id"])

    r = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"parent_id": target["id"]})
    assert r.status == 200, r.body
    assert (r.body["parent_id"], r.body["path"]) == (target["id"], ["New home", "Target"])
    assert (await get_task(world.admin, leaf["id"]))["path"] == [
        "New home",
        "Target",
        "Design",
    ]
    assert item_ids(await world.admin.get(f"/api/v1/tasks/{old['id']}/children")) == []
    assert item_ids(await world.admin.get(f"/api/v1/tasks/{target['id']}/children")) == [task["id"]]


async def test_moving_a_task_to_the_top_level_makes_it_a_project(world: World) -> None:
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])
    leaf = await world.admin.create_task("Logo", task["id"])
    r = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"parent_id": None})
    assert (r.status, r.body["kind"], r.body["path"]) == (200, "project", [])
    assert (await get_task(world.admin, leaf["id"]))["path"] == ["Design"]


async def test_moving_a_project_under_another_makes_it_a_task(world: World) -> None:
    host = await world.admin.create_task("Host")
    guest = await world.admin.create_task("Guest")
    leaf = await world.admin.create_task("Leaf", guest["id"])
    r = await world.admin.patch(f"/api/v1/tasks/{guest['id']}", {"parent_id": host["id"]})
    assert (r.status, r.body["kind"], r.body["path"]) == (200, "task", ["Host"])
    assert (await get_task(world.admin, leaf["id"]))["path"] == ["Host", "Guest"]


async def test_move_and_rename_in_one_request_update_descendants(world: World) -> None:
    old = await world.admin.create_task("Old home")
    new = await world.admin.create_task("New home")
    task = await world.admin.create_task("Design", old["id"])
    leaf = await world.admin.create_task("Logo", task["id"])
    r = await world.admin.patch(
        f"/api/v1/tasks/{task['id']}", {"parent_id": new["id"], "name": "Branding"}
    )
    assert (r.status, r.body["name"], r.body["path"]) == (200, "Branding", ["New home"])
    assert (await get_task(world.admin, leaf["id"]))["path"] == ["New home", "Branding"]


@pytest.mark.parametrize("below", ["itself", "its child", "its grandchild"])
async def test_moving_a_task_below_itself_is_refused(world: World, below: str) -> None:
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])
    child = await world.admin.create_task("Logo", task["id"])
    grandchild = await world.admin.create_task("Colours", child["id"])
    parent = {"itself": task, "its child": child, "its grandchild": grandchild}[below]

    r = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"parent_id": parent["id"]})
    assert (r.status, r.code) == (400, "invalid_request")
    assert "parent_id" in r.body["error"]["message"]
    assert (await get_task(world.admin, task["id"]))["parent_id"] == project["id"]
    assert (await get_task(world.admin, grandchild["id"]))["path"] == [
        "Website",
        "Design",
        "Logo",
    ]


async def test_archiving_hides_a_task_from_listings_until_it_is_restored(world: World) -> None:
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])
    children = f"/api/v1/tasks/{project['id']}/children"

    archived = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"archived": True})
    assert (archived.status, archived.body["archived"]) == (200, True)
    assert item_ids(await world.admin.get(children)) == []
    assert item_ids(await world.admin.get(children, include_archived=True)) == [task["id"]]
    assert task["id"] not in item_ids(await world.admin.get("/api/v1/tasks"))

    restored = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"archived": False})
    assert (restored.status, restored.body["archived"]) == (200, False)
    assert item_ids(await world.admin.get(children)) == [task["id"]]
    started = await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    assert started.status == 201, started.body


async def test_deleting_is_refused_when_time_was_tracked_below(world: World) -> None:
    project = await world.admin.create_task("Website")
    task = await world.admin.create_task("Design", project["id"])
    leaf = await world.admin.create_task("Logo", task["id"])
    await log_hour(world.admin, leaf["id"])

    for node in (project, task, leaf):
        r = await world.admin.delete(f"/api/v1/tasks/{node['id']}")
        assert (r.status, r.code) == (409, "task_has_entries")
    assert (await get_task(world.admin, leaf["id"]))["path"] == ["Website", "Design"]


async def test_deleting_is_refused_while_a_timer_runs_on_the_task(world: World) -> None:
    project = await world.admin.create_task("Website")
    await world.admin.post("/api/v1/timer/start", {"task_id": project["id"]})
    r = await world.admin.delete(f"/api/v1/tasks/{project['id']}")
    assert (r.status, r.code) == (409, "task_has_entries")


async def test_deleting_an_empty_subtree_removes_all_of_it(world: World) -> None:
    project = await world.admin.create_task("Website")
    keep = await world.admin.create_task("Keep", project["id"])
    task = await world.admin.create_task("Design", project["id"])
    leaf = await world.admin.create_task("Logo", task["id"])

    r = await world.admin.delete(f"/api/v1/tasks/{task['id']}")
    assert r.status == 204
    for gone in (task, leaf):
        assert (await world.admin.get(f"/api/v1/tasks/{gone['id']}")).status == 404
    assert item_ids(await world.admin.get(f"/api/v1/tasks/{project['id']}/children")) == [
        keep["id"]
    ]
    assert item_names(await world.admin.get("/api/v1/tasks", q="logo")) == []


# Imported (locked) tasks ------------------------------------------------------------------


@dataclass
class Imported:
    """Salesforce > Opportunities > Acme Renewal (an Opportunity with OPPORTUNITY_18)."""

    project: dict[str, Any]
    folder: dict[str, Any]
    opportunity: dict[str, Any]


async def imported_world(world: World) -> Imported:
    project = await world.imported_task(world.admin, None, "Salesforce")
    folder = await world.imported_task(world.admin, project["id"], "Opportunities")
    opportunity = await world.imported_task(
        world.admin, folder["id"], "Acme Renewal", "Opportunity", OPPORTUNITY_18
    )
    return Imported(project, folder, opportunity)


async def test_imported_task_shows_it_is_locked_and_where_it_comes_from(world: World) -> None:
    imp = await imported_world(world)
    task = await get_task(world.admin, imp.opportunity["id"])
    assert task["locked"] is True
    assert task["path"] == ["Salesforce", "Opportunities"]
    assert task["source"]["system"] == "salesforce"
    assert task["source"]["object"] == "Opportunity"
    assert task["source"]["id"] == OPPORTUNITY_18


async def test_renaming_an_imported_task_is_refused(world: World) -> None:
    imp = await imported_world(world)
    r = await world.admin.patch(f"/api/v1/tasks/{imp.opportunity['id']}", {"name": "Renamed"})
    assert (r.status, r.code) == (409, "imported_structure_locked")
    assert (await get_task(world.admin, imp.opportunity["id"]))["name"] == "Acme Renewal"


async def test_moving_an_imported_task_is_refused(world: World) -> None:
    imp = await imported_world(world)
    elsewhere = await world.admin.create_task("Elsewhere")
    r = await world.admin.patch(
        f"/api/v1/tasks/{imp.opportunity['id']}", {"parent_id": elsewhere["id"]}
    )
    assert (r.status, r.code) == (409, "imported_structure_locked")
    assert (await get_task(world.admin, imp.opportunity["id"]))["parent_id"] == imp.folder["id"]


async def test_deleting_an_imported_task_is_refused(world: World) -> None:
    imp = await imported_world(world)
    for node in (imp.opportunity, imp.project):
        r = await world.admin.delete(f"/api/v1/tasks/{node['id']}")
        assert (r.status, r.code) == (409, "imported_structure_locked")
    assert (await get_task(world.admin, imp.opportunity["id"]))["locked"] is True


async def test_role_assignments_on_imported_tasks_stay_editable(world: World) -> None:
    imp = await imported_world(world)
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(imp.project["id"], bob, "regular")
    put = await world.admin.put(
        f"/api/v1/tasks/{imp.opportunity['id']}/members/{bob.id}", {"role": "guest"}
    )
    assert put.status == 200, put.body
    assert (await get_task(bob, imp.opportunity["id"]))["my_role"] == "guest"

    removed = await world.admin.delete(f"/api/v1/tasks/{imp.opportunity['id']}/members/{bob.id}")
    assert removed.status == 204
    assert (await get_task(bob, imp.opportunity["id"]))["my_role"] == "regular"

    unassigned = await world.admin.delete(
        f"/api/v1/tasks/{imp.project['id']}/members/{bob.id}", scope="subtree"
    )
    assert unassigned.status == 204
    assert (await bob.get(f"/api/v1/tasks/{imp.opportunity['id']}")).status == 404


# By-source lookup -------------------------------------------------------------------------


@pytest.mark.parametrize("record_id", [OPPORTUNITY_18, OPPORTUNITY_15], ids=["18-char", "15-char"])
async def test_by_source_finds_the_imported_task(world: World, record_id: str) -> None:
    imp = await imported_world(world)
    r = await world.admin.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
    assert r.status == 200, r.body
    assert (r.body["id"], r.body["name"]) == (imp.opportunity["id"], "Acme Renewal")
    assert r.body["archived"] is False


async def test_by_source_answers_404_for_a_record_that_was_not_imported(world: World) -> None:
    await imported_world(world)
    unknown = to_18("0065g00000ZzZzZ")
    assert unknown is not None
    for record_id in ("0065g00000ZzZzZ", unknown):
        r = await world.admin.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
        assert (r.status, r.code) == (404, "not_found")


@pytest.mark.parametrize(
    "record_id",
    [
        "0065g00000AbCd",  # 14 characters
        "0065g00000AbCdEA",  # 16 characters
        "0065g00000AbCdEAAVX",  # 19 characters
        "0065g00000AbC-E",  # not alphanumeric
        OPPORTUNITY_15 + "AAA",  # checksum does not match the body
    ],
)
async def test_by_source_answers_400_for_a_malformed_id(world: World, record_id: str) -> None:
    await imported_world(world)
    r = await world.admin.get("/api/v1/tasks/by-source", system="salesforce", id=record_id)
    assert (r.status, r.code) == (400, "invalid_request")


async def test_by_source_returns_an_archived_task_flagged(world: World) -> None:
    imp = await imported_world(world)
    me = await world.admin.get("/api/v1/me")
    # As the sync archives a Closed Won opportunity.
    await world.services.tree.set_archived(
        me.body["account"]["id"], imp.opportunity["id"], archived=True
    )
    r = await world.admin.get("/api/v1/tasks/by-source", system="salesforce", id=OPPORTUNITY_15)
    assert r.status == 200, r.body
    assert (r.body["id"], r.body["archived"]) == (imp.opportunity["id"], True)


async def test_by_source_hides_a_task_the_caller_cannot_see(world: World) -> None:
    await imported_world(world)
    bob = await world.admin.add_user("bob@acme.test")
    r = await bob.get("/api/v1/tasks/by-source", system="salesforce", id=OPPORTUNITY_18)
    assert (r.status, r.code) == (404, "not_found")


# Search -----------------------------------------------------------------------------------


async def test_search_matches_word_prefixes_not_inner_substrings(world: World) -> None:
    wanted = await world.admin.create_task("Acme Renewal")
    await world.admin.create_task("Macme Renewal")
    await world.admin.create_task("Acme Onboarding")
    assert item_ids(await world.admin.get("/api/v1/tasks", q="acm ren")) == [wanted["id"]]


async def test_search_matches_words_in_any_order_and_case(world: World) -> None:
    wanted = await world.admin.create_task("Acme Renewal")
    assert item_ids(await world.admin.get("/api/v1/tasks", q="RENEW acme")) == [wanted["id"]]


async def test_search_requires_every_query_word_to_match(world: World) -> None:
    await world.admin.create_task("Acme Renewal")
    assert item_ids(await world.admin.get("/api/v1/tasks", q="acme onboarding")) == []


async def test_search_ranks_an_exact_word_before_a_prefix(world: World) -> None:
    prefix = await world.admin.create_task("Acmeville")
    exact = await world.admin.create_task("Acme plant and everything around it")
    assert item_ids(await world.admin.get("/api/v1/tasks", q="acme")) == [
        exact["id"],
        prefix["id"],
    ]


async def test_search_ranks_a_name_starting_with_the_word_first(world: World) -> None:
    later = await world.admin.create_task("Big Acme")
    starting = await world.admin.create_task("Acme renewal for the third quarter")
    assert item_ids(await world.admin.get("/api/v1/tasks", q="acme")) == [
        starting["id"],
        later["id"],
    ]


async def test_search_checks_the_whole_of_a_long_query_word(world: World) -> None:
    wanted = await world.admin.create_task("Supercalifragilisticexpialidocious campaign")
    found = await world.admin.get("/api/v1/tasks", q="supercalifragilisticexpiali")
    assert item_ids(found) == [wanted["id"]]
    # Same first 24 characters, different afterwards.
    missed = await world.admin.get("/api/v1/tasks", q="supercalifragilisticexpiXXX")
    assert item_ids(missed) == []


async def test_search_finds_a_renamed_task_by_its_new_name_only(world: World) -> None:
    task = await world.admin.create_task("Draft")
    await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"name": "Proposal"})
    assert item_ids(await world.admin.get("/api/v1/tasks", q="proposal")) == [task["id"]]
    assert item_ids(await world.admin.get("/api/v1/tasks", q="draft")) == []


async def test_search_results_show_each_tasks_path(world: World) -> None:
    project = await world.admin.create_task("Website")
    await world.admin.create_task("Design review", project["id"])
    r = await world.admin.get("/api/v1/tasks", q="design")
    assert [(t["name"], t["path"]) for t in r.body["items"]] == [("Design review", ["Website"])]


async def test_search_trackable_hides_guest_only_tasks(world: World) -> None:
    watched = await world.admin.create_task("Acme watched")
    watched_child = await world.admin.create_task("Acme watched child", watched["id"])
    worked = await world.admin.create_task("Acme worked")
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(watched["id"], bob, "guest")
    await world.admin.assign(worked["id"], bob, "regular")

    visible = await bob.get("/api/v1/tasks", q="acme")
    assert set(item_ids(visible)) == {watched["id"], watched_child["id"], worked["id"]}
    trackable = await bob.get("/api/v1/tasks", q="acme", trackable=True)
    assert item_ids(trackable) == [worked["id"]]
    without_q = await bob.get("/api/v1/tasks", trackable=True)
    assert item_ids(without_q) == [worked["id"]]


async def test_search_hides_archived_tasks_unless_asked(world: World) -> None:
    active = await world.admin.create_task("Acme active")
    archived = await world.admin.create_task("Acme archived")
    await world.admin.patch(f"/api/v1/tasks/{archived['id']}", {"archived": True})

    assert item_ids(await world.admin.get("/api/v1/tasks", q="acme")) == [active["id"]]
    everything = await world.admin.get("/api/v1/tasks", q="acme", include_archived=True)
    assert set(item_ids(everything)) == {active["id"], archived["id"]}
    flagged = {t["id"]: t["archived"] for t in everything.body["items"]}
    assert flagged == {active["id"]: False, archived["id"]: True}


async def test_search_pages_with_limit_and_cursor(world: World) -> None:
    for n in range(1, 6):
        await world.admin.create_task(f"Acme {n}")
    first = await world.admin.get("/api/v1/tasks", q="acme", limit=3)
    assert len(first.body["items"]) == 3 and first.body["next_cursor"] is not None
    second = await world.admin.get(
        "/api/v1/tasks", q="acme", limit=3, cursor=first.body["next_cursor"]
    )
    assert len(second.body["items"]) == 2 and second.body["next_cursor"] is None
    names = item_names(first) + item_names(second)
    assert sorted(names) == [f"Acme {n}" for n in range(1, 6)]


# Archiving a project, moving rights, lost-case ids ------------------------------------------


async def test_archiving_a_project_archives_everything_below_it(world: World) -> None:
    project = await world.admin.create_task("Old client")
    task = await world.admin.create_task("Maintenance", project["id"])
    await world.admin.patch(f"/api/v1/tasks/{project['id']}", {"archived": True})

    assert (await get_task(world.admin, task["id"]))["archived"] is True
    r = await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})
    assert (r.status, r.code) == (409, "task_archived")
    assert item_names(await world.admin.get("/api/v1/tasks", q="maint")) == []
    assert item_names(await world.admin.get("/api/v1/tasks")) == []
    assert item_names(await world.admin.get(f"/api/v1/tasks/{project['id']}/children")) == []
    child = await world.admin.post("/api/v1/tasks", {"name": "New", "parent_id": task["id"]})
    assert (child.status, child.code) == (409, "task_archived")

    await world.admin.patch(f"/api/v1/tasks/{project['id']}", {"archived": False})
    assert (await get_task(world.admin, task["id"]))["archived"] is False
    assert (await world.admin.post("/api/v1/timer/start", {"task_id": task["id"]})).status == 201


async def test_moving_under_an_archived_task_is_refused(world: World) -> None:
    old = await world.admin.create_task("Old")
    live = await world.admin.create_task("Live")
    await world.admin.patch(f"/api/v1/tasks/{old['id']}", {"archived": True})
    r = await world.admin.patch(f"/api/v1/tasks/{live['id']}", {"parent_id": old["id"]})
    assert (r.status, r.code) == (409, "task_archived")
    assert (await get_task(world.admin, live["id"]))["parent_id"] is None


async def test_a_manager_of_a_task_cannot_pull_it_out_of_a_project_they_only_visit(
    world: World,
) -> None:
    project = await world.admin.create_task("Client")
    task = await world.admin.create_task("Design", project["id"])
    bob = await world.admin.add_user("bob@acme.test")
    await world.admin.assign(project["id"], bob, "guest")
    await world.admin.assign(task["id"], bob, "manager")

    r = await bob.patch(f"/api/v1/tasks/{task['id']}", {"parent_id": None})
    assert (r.status, r.code) == (403, "forbidden")
    assert (await get_task(world.admin, task["id"]))["parent_id"] == project["id"]
    renamed = await bob.patch(f"/api/v1/tasks/{task['id']}", {"name": "Design system"})
    assert renamed.status == 200


async def test_by_source_accepts_an_18_character_id_that_lost_its_case(world: World) -> None:
    imp = await imported_world(world)
    assert OPPORTUNITY_18 is not None
    for variant in (OPPORTUNITY_18.lower(), OPPORTUNITY_18.upper()):
        r = await world.admin.get("/api/v1/tasks/by-source", system="salesforce", id=variant)
        assert (r.status, r.body["id"]) == (200, imp.opportunity["id"]), variant


async def test_two_servers_on_one_database_see_each_others_tree_changes(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    """Servers on one MongoDB keep their own search index; they must never serve a stale one."""
    store = await open_mongomock()

    async def shared() -> Store:
        return store

    first = await aiohttp_client(create_app(settings, store_factory=shared))
    second = await aiohttp_client(create_app(settings, store_factory=shared))
    assert first.app is not None
    await first.app[SERVICES].accounts.create_account("Acme", "admin@acme.test", "Ada", PASSWORD)
    one, two = await sign_in(first, "admin@acme.test"), await sign_in(second, "admin@acme.test")

    assert item_names(await two.get("/api/v1/tasks", q="apollo")) == []
    project = await one.create_task("Apollo launch")
    assert item_names(await two.get("/api/v1/tasks", q="apollo")) == ["Apollo launch"]
    await one.patch(f"/api/v1/tasks/{project['id']}", {"name": "Artemis launch"})
    assert item_names(await two.get("/api/v1/tasks", q="apollo")) == []
    await two.patch(f"/api/v1/tasks/{project['id']}", {"archived": True})
    assert item_names(await one.get("/api/v1/tasks", q="artemis")) == []


async def test_search_roots_lists_only_projects_and_filters_them_by_words(world: World) -> None:
    web = await world.admin.create_task("Website relaunch")
    mobile = await world.admin.create_task("Mobile app")
    await world.admin.create_task("Website mockups", web["id"])

    roots = (await world.admin.get("/api/v1/tasks", roots=True)).body["items"]
    assert [t["name"] for t in roots] == ["Mobile app", "Website relaunch"]
    assert mobile["id"] in [t["id"] for t in roots]

    found = (await world.admin.get("/api/v1/tasks", roots=True, q="web")).body["items"]
    assert [t["name"] for t in found] == ["Website relaunch"]
