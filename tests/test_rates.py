"""Billable rates and amounts: rates inherited down the tree, user rates, billable entries, the
account's currency, and amounts in summary reports for those who may see rates only."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from support import Api, World

from server import rates, tracking

RANGE = {"from": "2026-06-01", "to": "2026-07-01"}
SUMMARY = "/api/v1/reports/summary"


async def _entry(api: Api, task_id: str | None, start: str, seconds: int, **extra: Any) -> str:
    body = {"task_id": task_id, "start": start, "duration": seconds, **extra}
    r = await api.post("/api/v1/entries", body)
    assert r.status == 201, r.body
    return str(r.body["id"])


async def _set(api: Api, task_id: str, **fields: Any) -> dict[str, Any]:
    r = await api.patch(f"/api/v1/tasks/{task_id}", fields)
    assert r.status == 200, r.body
    return dict(r.body)


def _by_task(body: dict[str, Any]) -> dict[str | None, tuple[int, str]]:
    return {i["key"]["task_id"]: (i["billable_seconds"], i["amount"]) for i in body["items"]}


async def test_a_project_rate_covers_its_tree_and_a_task_may_override_it(world: World) -> None:
    admin = world.admin
    web = await admin.create_task("Website")
    design = await admin.create_task("Design", web["id"])
    mockups = await admin.create_task("Mockups", design["id"])
    build = await admin.create_task("Build", web["id"])
    await _set(admin, web["id"], rate="100")
    assert (await _set(admin, build["id"], rate="150.5"))["rate"] == "150.50"
    await _entry(admin, mockups["id"], "2026-06-01T09:00:00Z", 3600)  # two levels down
    await _entry(admin, build["id"], "2026-06-01T11:00:00Z", 1800)

    r = await admin.get(SUMMARY, **RANGE, group_by="task")
    assert _by_task(r.body) == {mockups["id"]: (3600, "100.00"), build["id"]: (1800, "75.25")}
    assert r.body["currency"] == "EUR"
    assert r.body["total_billable_seconds"] == 5400
    assert r.body["total_amount"] == "175.25"
    by_day = await admin.get(SUMMARY, **RANGE, group_by="day")
    assert [(i["key"]["day"], i["amount"]) for i in by_day.body["items"]] == [
        ("2026-06-01", "175.25")
    ]

    # Clearing the override: the project's rate applies again.
    assert (await _set(admin, build["id"], rate=None))["rate"] is None
    r = await admin.get(SUMMARY, **RANGE, group_by="project")
    assert [(i["key"]["name"], i["amount"]) for i in r.body["items"]] == [("Website", "150.00")]


async def test_a_users_rate_wins_over_the_tasks(world: World) -> None:
    admin = world.admin
    web = await admin.create_task("Website")
    await _set(admin, web["id"], rate="100")
    bob = await admin.add_user("bob@acme.test", name="Bob")
    await admin.assign(web["id"], bob, "regular")
    r = await admin.patch(f"/api/v1/users/{bob.id}", {"rate": "60"})
    assert r.status == 200 and r.body["rate"] == "60.00"
    await _entry(bob, web["id"], "2026-06-02T09:00:00Z", 7200)
    await _entry(admin, web["id"], "2026-06-02T12:00:00Z", 3600)

    r = await admin.get(SUMMARY, **RANGE, group_by="user")
    amounts = {i["key"]["email"]: i["amount"] for i in r.body["items"]}
    assert amounts == {"bob@acme.test": "120.00", "admin@acme.test": "100.00"}
    assert r.body["total_amount"] == "220.00"

    listed = await admin.get("/api/v1/users")
    assert {u["email"]: u["rate"] for u in listed.body["items"]} == {
        "admin@acme.test": None,
        "bob@acme.test": "60.00",
    }


async def test_billable_comes_from_the_project_and_an_entry_may_say_otherwise(
    world: World,
) -> None:
    admin = world.admin
    internal = await admin.create_task("Internal")
    meetings = await admin.create_task("Meetings", internal["id"])
    workshop = await admin.create_task("Client workshop", internal["id"])
    await _set(admin, internal["id"], rate="80", billable=False)
    await _set(admin, workshop["id"], billable=True)
    client_call = await _entry(admin, meetings["id"], "2026-06-03T09:00:00Z", 3600)
    await _entry(admin, meetings["id"], "2026-06-03T11:00:00Z", 3600)
    await _entry(admin, workshop["id"], "2026-06-03T13:00:00Z", 1800)
    await _entry(admin, workshop["id"], "2026-06-03T15:00:00Z", 600, billable=False)

    listed = await admin.get("/api/v1/entries", **RANGE)
    assert [e["billable"] for e in listed.body["items"]] == [False, True, False, False]

    r = await admin.patch(f"/api/v1/entries/{client_call}", {"billable": True})
    assert r.status == 200 and r.body["billable"] is True

    report = await admin.get(SUMMARY, **RANGE, group_by="task")
    assert _by_task(report.body) == {
        meetings["id"]: (3600, "80.00"),
        workshop["id"]: (1800, "40.00"),
    }
    assert [i["seconds"] for i in report.body["items"]] == [7200, 2400]  # time is all there

    # Back to the task's default.
    r = await admin.patch(f"/api/v1/entries/{client_call}", {"billable": None})
    assert r.body["billable"] is False


async def test_an_entry_follows_its_project_when_the_project_stops_being_billable(
    world: World,
) -> None:
    admin = world.admin
    client = await admin.create_task("Client work")
    call = await admin.create_task("Weekly call", client["id"])
    entry_id = await _entry(admin, call["id"], "2026-06-05T09:00:00Z", 1800)
    r = await admin.post("/api/v1/timer/start", {"task_id": call["id"]})
    assert r.body["entry"]["billable"] is True
    assert (await admin.get(f"/api/v1/entries/{entry_id}")).body["billable"] is True

    await _set(admin, client["id"], billable=False)  # the subtask inherits it
    assert (await admin.get(f"/api/v1/entries/{entry_id}")).body["billable"] is False
    assert (await admin.get("/api/v1/timer")).body["entry"]["billable"] is False
    stopped = await admin.post("/api/v1/timer/stop", {})
    assert stopped.body["entry"]["billable"] is False

    await _set(admin, client["id"], billable=None)  # back to the default
    assert (await admin.get(f"/api/v1/entries/{entry_id}")).body["billable"] is True


async def test_a_timer_may_start_not_billable(world: World) -> None:
    admin = world.admin
    ops = await admin.create_task("Operations")
    r = await admin.post("/api/v1/timer/start", {"task_id": ops["id"], "billable": False})
    assert r.status == 201 and r.body["entry"]["billable"] is False
    running = await admin.get("/api/v1/timer")
    assert running.body["entry"]["billable"] is False
    stopped = await admin.post("/api/v1/timer/stop", {})
    assert stopped.body["entry"]["billable"] is False
    r = await admin.post("/api/v1/timer/start", {"task_id": ops["id"]})
    assert r.body["entry"]["billable"] is True


async def test_time_is_billable_by_default_and_without_a_rate_amounts_to_nothing(
    world: World,
) -> None:
    admin = world.admin
    ops = await admin.create_task("Operations")
    entry_id = await _entry(admin, ops["id"], "2026-06-04T09:00:00Z", 3600)
    await _entry(admin, None, "2026-06-04T11:00:00Z", 600)
    assert (await admin.get(f"/api/v1/entries/{entry_id}")).body["billable"] is True
    assert (await admin.get(f"/api/v1/tasks/{ops['id']}")).body["billable"] is None

    r = await admin.get(SUMMARY, **RANGE, group_by="task")
    assert _by_task(r.body) == {ops["id"]: (3600, "0.00"), None: (600, "0.00")}
    assert r.body["total_amount"] == "0.00"


async def test_amounts_are_rounded_once_per_group_half_up(world: World) -> None:
    admin = world.admin
    task = await admin.create_task("Support")
    await _set(admin, task["id"], rate="100")
    # Each second is 2.78 cents: three entries of one second are 8.33 cents, 0.08 (rounding
    # each entry first would make 0.09).
    for minute in range(3):
        await _entry(admin, task["id"], f"2026-06-05T09:0{minute}:00Z", 1)
    r = await admin.get(SUMMARY, **RANGE, group_by="task")
    assert r.body["items"][0]["amount"] == "0.08"
    # Half a cent rounds up: 18 seconds at 1.00 is 0.5 cent.
    other = await admin.create_task("Tiny")
    await _set(admin, other["id"], rate="1")
    await _entry(admin, other["id"], "2026-06-06T09:00:00Z", 18)
    r = await admin.get(SUMMARY, **RANGE, group_by="task")
    assert {i["key"]["name"]: i["amount"] for i in r.body["items"]} == {
        "Support": "0.08",
        "Tiny": "0.01",
    }
    assert r.body["total_amount"] == "0.09"


async def test_csv_has_amount_columns_for_administrators(world: World) -> None:
    admin = world.admin
    await admin.patch("/api/v1/account", {"currency": "USD"})
    web = await admin.create_task("Website")
    await _set(admin, web["id"], rate="90")
    await _entry(admin, web["id"], "2026-06-01T09:00:00Z", 5400)
    r = await admin.get(SUMMARY, **RANGE, group_by="project", format="csv")
    rows = list(csv.reader(io.StringIO(r.body)))
    assert rows[0] == [
        "project_id",
        "project",
        "archived",
        "seconds",
        "hours",
        "entries",
        "billable_hours",
        "amount",
        "currency",
    ]
    assert rows[1][1:] == ["Website", "false", "5400", "1.50", "1", "1.50", "135.00", "USD"]
    assert rows[2] == ["total", "", "", "5400", "1.50", "1", "1.50", "135.00", "USD"]


async def test_regular_users_see_no_rates_and_no_amounts(world: World) -> None:
    admin = world.admin
    web = await admin.create_task("Website")
    await _set(admin, web["id"], rate="100", billable=True)
    bob = await admin.add_user("bob@acme.test", name="Bob")
    await admin.assign(web["id"], bob, "regular")
    await admin.patch(f"/api/v1/users/{bob.id}", {"rate": "60"})
    entry_id = await _entry(bob, web["id"], "2026-06-02T09:00:00Z", 3600)

    task = await bob.get(f"/api/v1/tasks/{web['id']}")
    assert "rate" not in task.body and task.body["billable"] is True
    searched = await bob.get("/api/v1/tasks", q="Website")
    assert all("rate" not in t for t in searched.body["items"])
    assert (await bob.get(f"/api/v1/entries/{entry_id}")).body["billable"] is True

    report = await bob.get(SUMMARY, **RANGE, group_by="task")
    assert report.body["total_seconds"] == 3600
    amount_fields = {"currency", "total_amount", "total_billable_seconds"}
    assert amount_fields.isdisjoint(report.body)
    assert {"amount", "billable_seconds"}.isdisjoint(report.body["items"][0])
    as_csv = await bob.get(SUMMARY, **RANGE, group_by="task", format="csv")
    header = next(csv.reader(io.StringIO(as_csv.body)))
    assert "amount" not in header and "currency" not in header

    refused = await bob.patch(f"/api/v1/tasks/{web['id']}", {"rate": "1"})
    assert refused.status == 403
    assert (await bob.patch(f"/api/v1/users/{bob.id}", {"rate": "1"})).status == 403


async def test_managers_see_and_set_rates_of_their_projects_only(world: World) -> None:
    admin = world.admin
    web = await admin.create_task("Website")
    ops = await admin.create_task("Operations")
    await _set(admin, ops["id"], rate="70")
    mia = await admin.add_user("mia@acme.test", name="Mia")
    await admin.assign(web["id"], mia, "manager")
    await admin.assign(ops["id"], mia, "regular")

    assert (await _set(mia, web["id"], rate="120"))["rate"] == "120.00"
    assert (await mia.patch(f"/api/v1/tasks/{ops['id']}", {"rate": "1"})).status == 403
    assert "rate" not in (await mia.get(f"/api/v1/tasks/{ops['id']}")).body

    design = await mia.create_task("Design", web["id"])
    refused = await mia.patch(
        f"/api/v1/tasks/{design['id']}", {"parent_id": ops["id"], "rate": "5"}
    )
    assert refused.status == 403  # a refused move changes nothing, the rate neither
    assert (await mia.get(f"/api/v1/tasks/{design['id']}")).body["rate"] is None

    await _entry(mia, web["id"], "2026-06-02T09:00:00Z", 3600)
    await _entry(mia, ops["id"], "2026-06-02T11:00:00Z", 3600)
    r = await mia.get(SUMMARY, **RANGE, group_by="project")
    # Operations' rate is not hers to see: its time counts, priced at nothing.
    priced = {
        i["key"]["name"]: (i["seconds"], i["billable_seconds"], i["amount"])
        for i in r.body["items"]
    }
    assert priced == {"Website": (3600, 3600, "120.00"), "Operations": (3600, 0, "0.00")}
    assert r.body["total_amount"] == "120.00"


async def test_a_manager_sees_the_amount_of_a_project_after_its_tasks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Time on a task, then on its project, read one entry a batch: the project's time is
    priced for its manager too (the project's rate was worked out for the task first)."""
    monkeypatch.setattr(tracking, "REPORT_BATCH", 1)
    admin = world.admin
    web = await admin.create_task("Website")
    await _set(admin, web["id"], rate="100")
    design = await admin.create_task("Design", web["id"])
    mia = await admin.add_user("mia@acme.test", name="Mia")
    await admin.assign(web["id"], mia, "manager")
    await _entry(mia, design["id"], "2026-06-02T09:00:00Z", 3600)
    await _entry(mia, web["id"], "2026-06-03T09:00:00Z", 1800)
    r = await mia.get(SUMMARY, **RANGE, group_by="task")
    assert _by_task(r.body) == {design["id"]: (3600, "100.00"), web["id"]: (1800, "50.00")}


async def test_imported_tasks_take_rates_and_billable_but_keep_their_structure(
    world: World,
) -> None:
    imported = await world.imported_task(world.admin, None, "Salesforce")
    r = await world.admin.patch(
        f"/api/v1/tasks/{imported['id']}", {"rate": "95.00", "billable": False}
    )
    assert r.status == 200, r.body
    assert (r.body["rate"], r.body["billable"], r.body["locked"]) == ("95.00", False, True)
    renamed = await world.admin.patch(
        f"/api/v1/tasks/{imported['id']}", {"name": "Other", "rate": "1"}
    )
    assert renamed.status == 409 and renamed.code == "imported_structure_locked"
    assert (await world.admin.get(f"/api/v1/tasks/{imported['id']}")).body["rate"] == "95.00"


async def test_the_accounts_currency(world: World) -> None:
    admin = world.admin
    assert (await admin.get("/api/v1/account")).body["currency"] == "EUR"
    r = await admin.patch("/api/v1/account", {"currency": "USD"})
    assert r.status == 200 and r.body["currency"] == "USD"
    for wrong in ("usd", "EURO", "", 840):
        refused = await admin.patch("/api/v1/account", {"currency": wrong})
        assert refused.status == 400, wrong
    assert (await admin.get(SUMMARY, **RANGE)).body["currency"] == "USD"


@pytest.mark.parametrize("wrong", ["-1", "1.234", "1e3", "abc", "12345678", "1.", 5])
async def test_malformed_rates_are_refused(world: World, wrong: Any) -> None:
    task = await world.admin.create_task("Website")
    r = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"rate": wrong})
    assert r.status == 400 and r.code == "invalid_request", r.body


def test_money_is_exact() -> None:
    assert rates.parse_rate("85") == 8500
    assert rates.parse_rate("85.5") == 8550
    assert rates.parse_rate("0.07") == 7
    assert rates.format_money(8550) == "85.50"
    assert rates.format_money(7) == "0.07"
    assert rates.amount_cents(3600 * 8550) == 8550
    assert rates.amount_cents(1800) == 1  # half a cent rounds up
    assert rates.amount_cents(1799) == 0
