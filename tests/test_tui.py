"""The admin console, driven with Textual's Pilot at 80x24 against the real server on a local
port, wired to the Salesforce emulator; the administrator's browser is an HTTP client."""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sf_support import (
    INTEGRATION,
    AiohttpClient,
    Connected,
    account_id,
    connected_world,
)
from support import PASSWORD, free_port
from textual.pilot import Pilot
from textual.widgets import (
    DataTable,
    Input,
    OptionList,
    SelectionList,
    Static,
    TabbedContent,
    Tree,
)
from textual.widgets._tabbed_content import ContentTab
from tui_support import (
    authorize_link,
    console,
    first_rows,
    on_main,
    save_session,
    screen_text,
    sign_in,
    text_of,
    until,
    until_row,
)
from web_support import Browser

from salesforce_emulator.seeding import SeedSpec
from server import clock
from server.ids import new_id
from server.report_queue import ReportQueue
from tui import config
from tui.app import AdminApp
from tui.screens.dialogs import ChoiceDialog, ConfirmDialog
from tui.screens.reports import ReportsPane
from tui.screens.signin import SignInScreen


@pytest.fixture
async def sf(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Connected]:
    monkeypatch.setenv(config.CONFIG_DIR_ENV, str(tmp_path / "console"))
    monkeypatch.delenv(config.SERVER_URL_ENV, raising=False)
    spec = SeedSpec(users=2, accounts=3, opportunities=5, cases=3, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec) as connected:
        yield connected


async def connect(sf: Connected) -> None:
    page = await sf.authorize()
    assert page.status_code == 200, page.text
    await sf.world.services.syncs.wait()


# Signing in ---------------------------------------------------------------------------------


async def test_signing_in_shows_the_overview_and_keeps_the_token_for_the_owner_only(
    sf: Connected, tmp_path: Path
) -> None:
    async with console(sf) as (app, pilot):
        await sign_in(pilot, "admin@acme.test")
        await on_main(pilot)
        await until(pilot, lambda: "not connected" in screen_text(app), "the status")
        assert "Press e to enable" in screen_text(app)

    folder = tmp_path / "console"
    saved = config.load()
    assert saved.token and saved.server_url
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / config.FILE_NAME).stat().st_mode) == 0o600

    # The next start skips the sign-in; signing out revokes and forgets the token.
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, SignInScreen), "the sign-in screen")
    assert config.load().token is None
    r = await sf.admin.client.get("/api/v1/me", headers={"Authorization": f"Bearer {saved.token}"})
    assert r.status == 401


async def test_a_wrong_password_shows_the_servers_message(sf: Connected) -> None:
    async with console(sf) as (app, pilot):
        await sign_in(pilot, "admin@acme.test", "not the password")
        error = app.screen.query_one("#signin-error", Static)
        await until(pilot, lambda: "Signing in" not in text_of(error), "the answer")
        assert "email or password" in text_of(error).lower()
        assert isinstance(app.screen, SignInScreen)
    assert config.load().token is None


async def test_a_regular_user_is_told_the_console_is_for_administrators(sf: Connected) -> None:
    await sf.admin.add_user("bob@acme.test")
    async with console(sf) as (app, pilot):
        await sign_in(pilot, "bob@acme.test")
        error = app.screen.query_one("#signin-error", Static)
        await until(pilot, lambda: "administrators" in text_of(error), "the refusal")
        assert "This console is for administrators" in text_of(error)
        assert isinstance(app.screen, SignInScreen)
    assert config.load().token is None


async def test_an_unreachable_server_is_said_on_the_sign_in_screen(sf: Connected) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with console(nowhere) as (app, pilot):
        await sign_in(pilot, "admin@acme.test")
        error = app.screen.query_one("#signin-error", Static)
        await until(pilot, lambda: "Cannot reach" in text_of(error), "the message")
        assert nowhere in text_of(error)


# Enabling, items, sync ----------------------------------------------------------------------


async def test_enable_shows_the_link_waits_for_the_browser_and_reports_success(
    sf: Connected,
) -> None:
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("e")
        link = await authorize_link(pilot)
        state = app.screen.query_one("#enable-state", Static)
        assert "Waiting" in text_of(state)
        await pilot.press("c")
        assert app.clipboard == text_of(link)
        # No terminal here: no claim of a copy, but how to make one.
        said = [n.message for n in app._notifications]
        assert not any("copied" in m for m in said), said
        assert any("Select the link with the mouse" in m for m in said), said

        page = await sf.browser.get(text_of(link))  # the admin approves in a browser

        assert page.status_code == 200
        await until(pilot, lambda: "Connected" in text_of(state), "the outcome")
        assert sf.emu.emulator.default_user["Username"] in text_of(state)
        await pilot.press("escape")
        await until(pilot, lambda: "integration: active" in screen_text(app), "the overview")
        assert "Owner: Ada Admin <admin@acme.test>" in screen_text(app)
    assert (await sf.status())["status"] == "active"


async def test_a_refused_authorization_shows_the_reason(sf: Connected) -> None:
    sf.emu.emulator.set_api_enabled(False, sf.emu.emulator.default_user["Username"])
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("e")
        link = await authorize_link(pilot)
        await sf.browser.get(text_of(link))
        state = app.screen.query_one("#enable-state", Static)
        await until(pilot, lambda: "Not connected" in text_of(state), "the outcome")
        assert "API access is disabled" in text_of(state)
        await pilot.press("escape")
        await until(pilot, lambda: "lacks “API Enabled”" in screen_text(app), "the warning")
        assert "edition has no API access" in screen_text(app)


async def test_enable_offers_production_sandbox_or_a_my_domain(sf: Connected) -> None:
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("e")
        link = await authorize_link(pilot)
        assert text_of(link).startswith(sf.emu.login_url + "/services/oauth2/authorize?")
        assert "production" in text_of(app.screen.query_one("#environment", Static))

        await pilot.press("s")
        await until(
            pilot, lambda: text_of(link).startswith("https://test.salesforce.com/"), "sandbox"
        )

        await pilot.press("d")
        field = app.screen.query_one("#my-domain", Input)
        await until(pilot, lambda: field.has_focus, "the My Domain field")
        field.value = "https://acme.my.salesforce.com"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: text_of(link).startswith("https://acme.my.salesforce.com/services/oauth2/"),
            "the My Domain link",
        )

        await pilot.press("d")
        await until(pilot, lambda: bool(app.screen.query("#my-domain")), "the field again")
        field = app.screen.query_one("#my-domain", Input)
        field.value = "https://acme.example.com"
        await pilot.press("enter")
        state = app.screen.query_one("#enable-state", Static)
        await until(pilot, lambda: "My Domain URL" in text_of(state), "the refusal")
        assert not text_of(link).startswith("https://")


async def test_an_expired_link_is_reported(sf: Connected) -> None:
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("e")
        link = await authorize_link(pilot)
        await sf.world.services.store.oauth_states.update_many(
            {}, {"$set": {"expires_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}}
        )
        await sf.browser.get(text_of(link))
        state = app.screen.query_one("#enable-state", Static)
        await until(pilot, lambda: "Not connected" in text_of(state), "the outcome")
        assert "longer than ten minutes" in text_of(state)


async def active_opportunities(sf: Connected) -> set[str]:
    project = (await sf.status())["project_id"]
    folders = (await sf.admin.get(f"/api/v1/tasks/{project}/children")).body["items"]
    opportunities = next(f for f in folders if f["name"] == "Opportunities")
    active = (await sf.admin.get(f"/api/v1/tasks/{opportunities['id']}/children")).body["items"]
    return {t["source"]["id"] for t in active}


async def test_checking_two_opportunities_and_saving_imports_only_those(sf: Connected) -> None:
    await connect(sf)
    save_session(sf)
    before = await active_opportunities(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("2")
        catalog = app.screen.query_one("#catalog", SelectionList)
        await until(pilot, lambda: catalog.option_count == 5, "the catalog")
        catalog.focus()
        await pilot.press("space", "down", "space")
        chosen = set(catalog.selected)
        assert len(chosen) == 2
        assert "2 checked" in text_of(app.screen.query_one("#items-state", Static))
        await pilot.press("ctrl+s")
        state = app.screen.query_one("#items-state", Static)
        await until(pilot, lambda: "succeeded" in text_of(state), "the sync it started")
        assert f"{len(before - chosen)} archived" in text_of(state)

    selection = (await sf.status())["selection"]["objects"]["Opportunity"]
    assert (selection["enabled"], selection["mode"]) == (True, "selected")
    assert set(selection["ids"]) == chosen
    assert before - chosen
    assert await active_opportunities(sf) == before & chosen


async def test_the_items_tab_marks_checked_boxes_and_says_what_mode_all_imports(
    sf: Connected,
) -> None:
    await connect(sf)
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("2")
        catalog = app.screen.query_one("#catalog", SelectionList)
        state = app.screen.query_one("#items-state", Static)
        await until(pilot, lambda: catalog.option_count == 5, "the catalog")
        assert "5 items; all are imported." in text_of(state)
        assert "checked" not in text_of(state)  # no "0 checked" while everything is imported
        catalog.focus()
        await pilot.press("space")
        await until(pilot, lambda: "1 checked" in text_of(state), "the count")
        await pilot.pause()
        checked, unchecked = catalog.render_line(0).text, catalog.render_line(1).text
        assert "✓" in checked[:4]  # a mark, not only a colour
        assert "✓" not in unchecked and "X" not in unchecked[:4]
        name = str(catalog.get_option_at_index(0).prompt).split(" (")[0]
        await pilot.press("slash")
        await pilot.press(*name)
        await pilot.press("enter")
        await until(pilot, lambda: catalog.option_count == 1, "the one found")
        await until(pilot, lambda: "1 item;" in text_of(state), "one item, singular")


async def test_force_sync_shows_progress_counts_and_history(sf: Connected) -> None:
    await connect(sf)
    sf.emu.emulator.org.insert(
        "Opportunity", {"Name": "Fresh Deal", "StageName": "Prospecting", "CloseDate": "2027-01-01"}
    )
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("4")
        runs = app.screen.query_one("#runs", DataTable)
        await until(pilot, lambda: runs.row_count == 1, "the history")
        await pilot.press("s")
        line = app.screen.query_one("#run-progress", Static)
        await until(pilot, lambda: "Sync (force) succeeded" in text_of(line), "the run")
        assert "1 created" in text_of(line)
        await until(pilot, lambda: runs.row_count == 2, "the new run in the history")
        assert runs.get_row_at(0)[1:3] == ["force", "succeeded"]


async def test_the_sync_tab_shows_the_warnings_of_the_selected_run(sf: Connected) -> None:
    await connect(sf)
    account = await account_id(sf.admin)
    started = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    warnings = [
        {
            "object": "Case",
            "code": "INVALID_TYPE",
            "message": "sObject type 'Case' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        },
        {
            "object": "Task",
            "code": "INVALID_FIELD",
            "message": "No such column 'Subject' on entity 'Task'. If you are attempting to use "
            "a custom field, be sure to append the '__c' after the custom field name.",
        },
    ]
    await sf.world.services.store.sync_runs.insert_one(
        {
            "_id": new_id(),
            "account_id": account,
            "trigger": "schedule",
            "status": "succeeded",
            "started_at": started,
            "finished_at": started + dt.timedelta(seconds=2),
            "counts": {"created": 0, "updated": 1, "archived": 0, "restored": 0},
            "api_calls": 4,
            "error": None,
            "warnings": warnings,
        }
    )
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("4")
        runs = app.screen.query_one("#runs", DataTable)
        await until(pilot, lambda: runs.row_count == 2, "the history")
        header = [str(column.label) for column in runs.columns.values()]
        latest = dict(zip(header, runs.get_row_at(0), strict=True))
        assert (latest["Trigger"], latest["Warn"]) == ("schedule", "2")
        # At 80x24 every column is on the screen, Calls and Error included: nothing to scroll.
        assert {"Calls", "Error"} <= set(header)
        await pilot.pause()
        assert runs.virtual_size.width <= runs.scrollable_content_region.width
        assert dict(zip(header, runs.get_row_at(1), strict=True))["Warn"] == ""
        shown = app.screen.query_one("#run-warnings", Static)
        await until(pilot, lambda: "Warnings of the run" in text_of(shown), "the warnings")
        lines = text_of(shown).splitlines()
        assert "Case: INVALID_TYPE sObject type 'Case' is not supported." in lines
        assert "Task: INVALID_FIELD No such column 'Subject' on entity 'Task'." in lines
        # Every line fits the 80-column screen, below the table.
        assert shown.region.height == 3 and shown.region.bottom <= 24
        assert all(len(line) <= 78 for line in lines)

        runs.focus()
        await pilot.press("down")  # the first run, without warnings
        await until(pilot, lambda: "Warnings" not in text_of(shown), "none for the first run")
        assert text_of(shown).startswith("Run started")
        await pilot.press("up")
        await until(pilot, lambda: "Case: INVALID_TYPE" in text_of(shown), "the warnings again")


# Roles --------------------------------------------------------------------------------------


async def project_members(app: AdminApp, pilot: Pilot[None]) -> DataTable[Any]:
    """The Roles tab, once it shows the project's two members (the admin and Bob)."""
    await on_main(pilot)
    await pilot.press("3")
    members: DataTable[Any] = app.screen.query_one("#members", DataTable)
    await until(pilot, lambda: members.row_count == 2, "the project's members")
    return members


async def test_changing_a_role_on_the_project_reaches_the_api(sf: Connected) -> None:
    bob = await sf.admin.add_user("bob@acme.test", name="Bob")
    await connect(sf)
    save_session(sf)
    project = (await sf.status())["project_id"]
    async with console(sf) as (app, pilot):
        members = await project_members(app, pilot)
        title = text_of(app.screen.query_one("#node-title", Static))
        assert "🔒" in screen_text(app) or "locked" in title
        assert "Salesforce" in title
        members.focus()
        row = [r[0] for r in first_rows(members)].index("Bob")
        members.move_cursor(row=row)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("home", "enter")  # manager is the first choice
        await until_row(pilot, members, ["Bob", "manager", "this node"], "the new role")
    listed = (await sf.admin.get(f"/api/v1/tasks/{project}/members")).body["items"]
    assert {(m["user"]["id"], m["role"], m["inherited_from"]) for m in listed} >= {
        (bob.id, "manager", None)
    }


async def test_after_a_role_change_the_cursor_stays_and_unassign_asks_naming_whom(
    sf: Connected,
) -> None:
    bob = await sf.admin.add_user("bob@acme.test", name="Bob")
    await connect(sf)
    save_session(sf)
    project = (await sf.status())["project_id"]
    async with console(sf) as (app, pilot):
        members = await project_members(app, pilot)
        members.focus()
        row = [r[0] for r in first_rows(members)].index("Bob")
        members.move_cursor(row=row)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("home", "enter")  # manager
        await until_row(pilot, members, ["Bob", "manager", "this node"], "the new role")
        await pilot.pause()
        assert first_rows(members)[members.cursor_row][0] == "Bob"
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        question = screen_text(app)
        assert "Bob <bob@acme.test>" in question and "Salesforce" in question
        await pilot.press("n")
        await pilot.pause()
        assert members.row_count == 2
    listed = (await sf.admin.get(f"/api/v1/tasks/{project}/members")).body["items"]
    assert {m["user"]["id"] for m in listed} == {bob.id, sf.admin.id}


async def test_r_and_coming_back_to_the_tab_reload_the_members(sf: Connected) -> None:
    await connect(sf)
    save_session(sf)
    project = (await sf.status())["project_id"]
    carol = await sf.admin.add_user("carol@acme.test", name="Carol")
    dave = await sf.admin.add_user("dave@acme.test", name="Dave")
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("3")
        members: DataTable[Any] = app.screen.query_one("#members", DataTable)
        await until(pilot, lambda: members.row_count == 3, "the admin, Carol and Dave")
        path = f"/api/v1/tasks/{project}/members"
        await sf.admin.put(f"{path}/{carol.id}", json={"role": "guest"})
        await pilot.press("r")
        await until_row(pilot, members, ["Carol", "guest", "this node"], "Carol, r", among=3)
        await sf.admin.put(f"{path}/{dave.id}", json={"role": "guest"})
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("3")
        await until_row(pilot, members, ["Dave", "guest", "this node"], "Dave, back", among=3)


async def test_two_search_results_that_would_read_the_same_are_told_apart(
    sf: Connected,
) -> None:
    project = (await sf.admin.post("/api/v1/tasks", json={"name": "Website"})).body
    ids = set()
    for _ in range(2):
        task = {"name": "Design", "parent_id": project["id"]}
        ids.add((await sf.admin.post("/api/v1/tasks", json=task)).body["id"])
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("3", "slash", *"design", "enter")
        tree = app.screen.query_one("#tree", Tree)
        await until(pilot, lambda: len(tree.root.children) == 2, "the two results")
        labels = [str(node.label) for node in tree.root.children]
        assert labels[0] != labels[1], labels
        assert all(label.endswith("Design in Website") for label in labels)
        # The tag comes first, so a narrow tree shows it; it is the tail of the task's id.
        tags = [label.split(" ", 1)[0] for label in labels]
        assert all(tag.startswith("#") for tag in tags)
        assert len(set(tags)) == 2
        assert all(any(tag[1:] in (i, i[-6:]) for i in ids) for tag in tags), (tags, ids)


async def test_assigning_a_user_to_a_node(sf: Connected) -> None:
    await connect(sf)
    await sf.admin.add_user("bob@acme.test", name="Bob")
    save_session(sf)
    project = (await sf.status())["project_id"]
    folders = (await sf.admin.get(f"/api/v1/tasks/{project}/children")).body["items"]
    async with console(sf) as (app, pilot):
        members = await project_members(app, pilot)
        tree = app.screen.query_one("#tree", Tree)
        await pilot.press("space")
        await until(pilot, lambda: len(tree.root.children[0].children) == 2, "the folders")
        await pilot.press("down")  # Cases
        title = app.screen.query_one("#node-title", Static)
        await until(pilot, lambda: text_of(title).startswith("Cases"), "the folder")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the users")
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        options.highlighted = next(i for i, label in enumerate(labels) if label.startswith("Bob"))
        await pilot.press("enter")
        await until(pilot, lambda: "Role" in text_of(app.screen.query_one("#choice-title")), "")
        await pilot.press("end", "enter")  # guest is the last choice
        await until_row(pilot, members, ["Bob", "guest", "this node"], "Bob a guest here")
    cases = next(f for f in folders if f["name"] == "Cases")
    listed = (await sf.admin.get(f"/api/v1/tasks/{cases['id']}/members")).body["items"]
    assert ("Bob", "guest", None) in {
        (m["user"]["name"], m["role"], m["inherited_from"]) for m in listed
    }


async def test_a_sync_the_server_refuses_shows_its_message(sf: Connected) -> None:
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("4")
        await pilot.press("s")
        line = app.screen.query_one("#run-progress", Static)
        await until(pilot, lambda: "not connected" in text_of(line).lower(), "the refusal")
        assert any(n.severity == "error" for n in app._notifications)


async def test_unassigning_from_the_entire_project_from_a_task_below(sf: Connected) -> None:
    bob = await sf.admin.add_user("bob@acme.test", name="Bob")
    await connect(sf)
    save_session(sf)
    project = (await sf.status())["project_id"]
    async with console(sf) as (app, pilot):
        members = await project_members(app, pilot)
        tree = app.screen.query_one("#tree", Tree)
        await pilot.press("space")  # expand the project, then go down to its first folder
        await until(pilot, lambda: len(tree.root.children[0].children) == 2, "the folders")
        await pilot.press("down")
        title = app.screen.query_one("#node-title", Static)
        await until(pilot, lambda: "Cases" in text_of(title), "the folder's members")
        await until(pilot, lambda: members.row_count == 2, "the folder's members")
        rows = first_rows(members)
        assert ["Bob", "regular", "↑ Salesforce"] in rows
        members.focus()
        members.move_cursor(row=[r[0] for r in rows].index("Bob"))
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: members.row_count == 1, "Bob gone")
    assert (await bob.get(f"/api/v1/tasks/{project}")).status == 404
    assert (await bob.get("/api/v1/tasks")).body["items"] == []


# Users, owner left, unlink ------------------------------------------------------------------


async def test_d_on_a_deactivated_user_asks_to_reactivate_them(sf: Connected) -> None:
    bob = await sf.admin.add_user("bob@acme.test", name="Bob")
    await sf.admin.delete(f"/api/v1/users/{bob.id}")
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("5")
        users = app.screen.query_one("#users", DataTable)
        await until(pilot, lambda: users.row_count == 2, "the users")
        users.move_cursor(row=[r[0] for r in first_rows(users)].index("Bob"))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert "Reactivate Bob <bob@acme.test>" in screen_text(app)
        await pilot.press("y")
        await until_row(pilot, users, ["Bob", "bob@acme.test", "user", "yes", ""], "Bob active")
    assert (await sf.admin.get(f"/api/v1/users/{bob.id}")).body["active"] is True


async def test_deactivating_the_owner_warns_then_the_overview_recommends_re_enabling(
    sf: Connected,
) -> None:
    await connect(sf)
    eve = await sf.admin.add_user("eve@acme.test", role="administrator", name="Eve")
    save_session(sf, eve)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("5")
        users = app.screen.query_one("#users", DataTable)
        await until(pilot, lambda: users.row_count == 2, "the users")
        rows = first_rows(users)
        assert ["Ada Admin", "admin@acme.test", "administrator", "yes", "Salesforce owner"] in rows
        users.move_cursor(row=[r[0] for r in rows].index("Ada Admin"))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        warning = app.screen.query_one("#dialog-warning", Static)
        assert "owns the Salesforce integration" in text_of(warning)
        await pilot.press("y")
        await until_row(
            pilot,
            users,
            ["Ada Admin", "admin@acme.test", "administrator", "no", "Salesforce owner"],
            "Ada deactivated",
        )
        await pilot.press("1")
        await until(pilot, lambda: "owner_left" in screen_text(app), "the overview")
        assert "Press e to re-enable" in screen_text(app)
        status = (await eve.get(INTEGRATION)).body
        assert (status["status"], status["reason"]) == ("needs_reauth", "owner_left")

        # Re-enabling makes Eve the owner.
        await pilot.press("e")
        link = await authorize_link(pilot)
        await sf.browser.get(text_of(link))
        state = app.screen.query_one("#enable-state", Static)
        await until(pilot, lambda: "Connected" in text_of(state), "the outcome")
        await pilot.press("escape")
        await until(pilot, lambda: "Owner: Eve <eve@acme.test>" in screen_text(app), "Eve")
    assert (await eve.get(INTEGRATION)).body["status"] == "active"


async def test_re_enabling_an_active_integration_asks_first_and_reports_success(
    sf: Connected,
) -> None:
    await connect(sf)
    before = (await sf.status())["connected_at"]
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await until(pilot, lambda: "integration: active" in screen_text(app), "the overview")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        link = await authorize_link(pilot)
        state = app.screen.query_one("#enable-state", Static)
        await pilot.pause(1.5)  # still active meanwhile: that is not the outcome
        assert "Waiting" in text_of(state)
        await sf.browser.get(text_of(link))
        await until(pilot, lambda: "Connected" in text_of(state), "the outcome")
    assert (await sf.status())["connected_at"] != before


async def test_unlink_asks_first_then_unlinks(sf: Connected) -> None:
    await connect(sf)
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await until(pilot, lambda: "integration: active" in screen_text(app), "the overview")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("n")
        await pilot.pause()
        assert (await sf.status())["status"] == "active"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "integration: unlinked" in screen_text(app), "unlinked")
    assert (await sf.status())["status"] == "unlinked"


async def test_adding_a_user_and_making_them_an_administrator(sf: Connected) -> None:
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("5")
        users = app.screen.query_one("#users", DataTable)
        await until(pilot, lambda: users.row_count == 1, "the users")
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query_one("#new-email"), "the form")
        await pilot.press(*"carl@acme.test", "enter", *"Carl", "enter", *"long enough pw", "enter")
        await pilot.press("ctrl+s")  # not an administrator: the box stays unchecked
        await until(pilot, lambda: users.row_count == 2, "Carl in the list")
        rows = first_rows(users)
        assert ["Carl", "carl@acme.test", "user", "yes", ""] in rows
        users.focus()
        users.move_cursor(row=[r[0] for r in rows].index("Carl"))
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("home", "enter")  # administrator is the first choice
        await until_row(
            pilot,
            users,
            ["Carl", "carl@acme.test", "administrator", "yes", ""],
            "Carl an administrator",
        )
        # Adding an email that is taken shows the server's message.
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query_one("#new-email"), "the form")
        await pilot.press(*"carl@acme.test", "enter", *"Carl", "enter", *"long enough pw", "enter")
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: any("is already in use" in n.message for n in app._notifications),
            "the server's message",
        )
    listed = (await sf.admin.get("/api/v1/users")).body["items"]
    carl = next(u for u in listed if u["email"] == "carl@acme.test")
    assert carl["role"] == "administrator"


async def test_keys_act_on_the_tab_shown_when_the_first_tabs_activation_comes_late(
    sf: Connected,
) -> None:
    """A tab chosen while the console was still starting keeps the keys: the first tab's
    activation, arriving late, neither takes the focus back nor reloads the hidden tab."""
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("5")
        users = app.screen.query_one("#users", DataTable)
        await until(pilot, lambda: users.row_count == 1, "the users")
        tabs = app.screen.query_one(TabbedContent)
        late = tabs.get_tab("tab-overview")
        assert isinstance(late, ContentTab)
        tabs.post_message(TabbedContent.TabActivated(tabs, late))
        await pilot.pause(0.3)
        await pilot.press("a")  # Users' Add
        await until(pilot, lambda: app.screen.query_one("#new-email"), "the form")


def tree_labels(tree: Tree[Any]) -> list[str]:
    return [str(node.label) for node in tree.root.children]


async def test_searching_the_tree_shows_matches_with_their_path(sf: Connected) -> None:
    await connect(sf)
    save_session(sf)
    name = next(r for r in sf.emu.emulator.org.rows("Opportunity") if not r["IsClosed"])["Name"]
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("3")
        tree = app.screen.query_one("#tree", Tree)
        await until(pilot, lambda: len(tree.root.children) == 1, "the projects")
        await pilot.press("slash", *name.split()[0], "enter")
        await until(
            pilot, lambda: tree_labels(tree) and "🔒 Salesforce" not in tree_labels(tree), "matches"
        )
        labels = tree_labels(tree)
        assert any(name in label for label in labels), labels
        # The name first (what tells results apart in a narrow tree), then where it is.
        assert any(label.startswith(f"🔒 {name} in Salesforce > ") for label in labels), labels


async def test_the_tree_pages_in_more_projects_on_demand(sf: Connected) -> None:
    for n in range(55):  # a page of roots is 50
        await sf.admin.create_task(f"Project {n:02}")
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("3")
        tree = app.screen.query_one("#tree", Tree)
        await until(pilot, lambda: len(tree.root.children) == 51, "a page and a 'more' leaf")
        assert tree_labels(tree)[-1] == "… more (Enter)"
        tree.focus()
        tree.move_cursor(tree.root.children[-1])
        await pilot.press("enter")
        await until(pilot, lambda: len(tree.root.children) == 55, "the rest")
        assert tree_labels(tree)[-1] == "Project 54"


def test_the_overview_tells_a_server_without_salesforce_settings_apart() -> None:
    from tui.screens.overview import warnings

    message = "Salesforce is not configured on this server: set TIMETRAIL_SALESFORCE_CLIENT_ID …"
    status: Any = {
        "status": "error",
        "reason": "not_configured",
        "message": message,
        "owner": None,
    }
    assert warnings(status) == [message]  # not "Press e to try again": e cannot help


# Reports ------------------------------------------------------------------------------------


async def _entry(sf: Connected, task_id: str, start: dt.datetime, seconds: int) -> None:
    body = {"task_id": task_id, "start": start.isoformat(), "duration": seconds}
    r = await sf.admin.post("/api/v1/entries", body)
    assert r.status == 201, r.body


def report_rows(table: DataTable[Any]) -> list[list[Any]]:
    return [table.get_row_at(i) for i in range(table.row_count)]


async def test_the_reports_tab_shows_the_apis_numbers_and_a_bar_per_day(sf: Connected) -> None:
    web = await sf.admin.create_task("Website")
    build = await sf.admin.create_task("Build", web["id"])
    assert (await sf.admin.patch(f"/api/v1/tasks/{web['id']}", {"rate": "100"})).status == 200
    this_month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    await _entry(sf, build["id"], this_month, 60)
    await _entry(sf, build["id"], last_month.replace(day=3, hour=9), 2 * 3600)
    await _entry(sf, web["id"], last_month.replace(day=3, hour=13), 1800)
    await _entry(sf, build["id"], last_month.replace(day=5, hour=9), 3600)
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        await pilot.press("6")
        table = app.screen.query_one("#report", DataTable)
        title = app.screen.query_one("#reports-title", Static)
        # This month by default, by project: the minute's entry, priced at the project's rate.
        month = this_month.strftime("%B %Y")
        await until(pilot, lambda: "h in" in text_of(title), "this month's report")
        assert text_of(title) == f"{month}, by project: 0:01 h in 1 entry, 1.67 EUR billable"
        assert report_rows(table) == [["Website", "0:01", "1", "1.67"]]

        await pilot.press("p")
        before = last_month.strftime("%B %Y")
        await until(pilot, lambda: text_of(title).startswith(f"{before}, by project: "), "p")
        await until(pilot, lambda: "3:30 h" in text_of(title), "last month's report")
        assert text_of(title).endswith("3:30 h in 3 entries, 350.00 EUR billable")
        assert report_rows(table) == [["Website", "3:30", "3", "350.00"]]

        await pilot.press("g")
        await until(pilot, lambda: "by task: 3:30 h" in text_of(title), "by task")
        assert report_rows(table) == [
            ["Website / Build", "3:00", "2", "300.00"],
            ["Website", "0:30", "1", "50.00"],
        ]
        await pilot.press("g")
        await until(pilot, lambda: "by user: 3:30 h" in text_of(title), "by user")
        assert report_rows(table) == [["Ada Admin", "admin@acme.test", "3:30", "3", "350.00"]]

        # By day: one row and one bar per day with time, the longest day's bar the longest.
        await pilot.press("g")
        await until(pilot, lambda: "by day: 3:30 h" in text_of(title), "by day")
        rows = report_rows(table)
        third, fifth = last_month.replace(day=3), last_month.replace(day=5)
        assert [row[:4] for row in rows] == [
            [third.strftime("%a %Y-%m-%d"), "2:30", "2", "250.00"],
            [fifth.strftime("%a %Y-%m-%d"), "1:00", "1", "100.00"],
        ]
        bars = [str(row[4]) for row in rows]
        assert all(bar and set(bar) <= set("█▏▎▍▌▋▊▉") for bar in bars), bars
        assert len(bars[0]) > len(bars[1]) * 2 > 0
        assert [c.label.plain for c in table.columns.values()][-1] == "Time"

        # Back to this month: the same grouping, the other range.
        await pilot.press("n")
        await until(pilot, lambda: text_of(title).startswith(f"{month}, by day: 0:01 h"), "n")
        assert len(report_rows(table)) == 1


async def test_the_reports_tab_starts_on_this_month_of_the_accounts_time_zone(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 22:30 UTC on 31 March it is already 1 April in Tokyo: an account on Tokyo's time sees
    April, with the time tracked since its midnight, in the console as on the web page and in
    the API, wherever the console runs."""
    now = dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)
    assert (await sf.admin.patch("/api/v1/account", {"time_zone": "Asia/Tokyo"})).status == 200
    web = await sf.admin.create_task("Website")
    await _entry(sf, web["id"], dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC), 3600)  # 21:00 there
    await _entry(sf, web["id"], dt.datetime(2026, 3, 31, 20, tzinfo=dt.UTC), 1800)  # 05:00, 1 Apr
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        app.screen.query_one(ReportsPane).clock = lambda: now
        await pilot.press("6")
        title = app.screen.query_one("#reports-title", Static)
        await until(pilot, lambda: "h in" in text_of(title), "this month's report")
        assert text_of(title).startswith("April 2026, by project: 0:30 h in 1 entry")
        assert report_rows(app.screen.query_one("#report", DataTable))[0][:3] == [
            "Website",
            "0:30",
            "1",
        ]

    april = {"from": "2026-04-01", "to": "2026-05-01"}
    api = await sf.admin.get("/api/v1/reports/summary", **april)
    assert api.body["total_seconds"] == 1800
    monkeypatch.setattr(clock, "now", lambda: now)
    browser = Browser(sf.world.client)
    await browser.sign_in("admin@acme.test", PASSWORD)
    page = await browser.get("/reports")  # (this month by default)
    assert page.has("0:30 hours, 1 Apr 2026 to 30 Apr 2026")


async def test_a_busy_server_is_said_on_the_reports_tab_with_when_to_try_again(
    sf: Connected,
) -> None:
    queue = sf.world.services.reports.queue = ReportQueue(at_once=1, waiting=0, retry_after=7)
    save_session(sf)
    async with console(sf) as (app, pilot):
        await on_main(pilot)
        async with queue.turn():  # another report is being prepared
            await pilot.press("6")
            title = app.screen.query_one("#reports-title", Static)
            await until(pilot, lambda: "not loaded" in text_of(title), "the refusal")
        assert "Too many reports are being prepared" in text_of(title)
        assert text_of(title).endswith("Press r to try again in 7 s.")
        assert any("Too many reports" in n.message for n in app._notifications)
        await pilot.press("r")
        await until(pilot, lambda: "0:00 h in 0 entries" in text_of(title), "the report")
