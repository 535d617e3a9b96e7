"""Connecting an account to Salesforce, end to end over real HTTP: the server on a local port,
the Salesforce emulator on HTTPS, and the administrator's browser played by an HTTP client that
follows redirects."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import certifi
import httpx2
import pytest
from sf_support import (
    INTEGRATION,
    AiohttpClient,
    Connected,
    account_id,
    connected_world,
)
from support import World

from server.services import CALLBACK_PATH
from server.sync.client import (
    ApiDisabled,
    ApiUsage,
    SalesforceClient,
    SessionExpired,
    parse_api_usage,
)
from server.sync.integration import Integrations
from server.sync.oauth import OAuthFailure


@pytest.fixture
async def sf(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Connected]:
    async with connected_world(tmp_path, aiohttp_client) as connected:
        yield connected


# Enabling -----------------------------------------------------------------------------------


async def test_enabling_connects_the_account_and_records_owner_org_and_user(
    sf: Connected,
) -> None:
    assert (await sf.status())["status"] == "not_connected"

    page = await sf.authorize()

    assert page.status_code == 200
    assert "connected" in page.text.lower()
    status = await sf.status()
    default_user = sf.emu.emulator.default_user
    assert status["status"] == "active" and status["reason"] is None
    assert status["owner"]["email"] == "admin@acme.test"
    assert status["org"]["username"] == default_user["Username"]
    assert status["org"]["user_id"] == default_user["Id"]
    assert status["org"]["instance_url"] == sf.emu.instance_url
    assert status["api_usage"]["used"] >= 1


async def test_the_authorization_url_carries_state_and_pkce(sf: Connected) -> None:
    r = await sf.admin.post(f"{INTEGRATION}/connect")
    url = httpx2.URL(r.body["authorize_url"])
    assert url.params["client_id"] == sf.emu.client_id
    assert url.params["code_challenge_method"] == "S256"
    assert len(url.params["code_challenge"]) >= 43 and len(url.params["state"]) >= 32
    assert url.params["redirect_uri"].endswith(CALLBACK_PATH)
    assert (await sf.status())["status"] == "authorizing"


async def test_tokens_are_unreadable_in_the_store_and_never_in_responses(sf: Connected) -> None:
    await sf.authorize()
    raw = await sf.raw()
    cipher = sf.world.services.integrations._cipher
    access = cipher.decrypt(raw["tokens"]["access"])
    refresh = cipher.decrypt(raw["tokens"]["refresh"])
    stored = json.dumps(raw, default=str)
    assert access not in stored and refresh not in stored
    status_text = json.dumps(await sf.status())
    assert access not in status_text and refresh not in status_text
    # The decrypted token is the real one: Salesforce accepts it.
    client = SalesforceClient(
        sf.emu.instance_url, access, "66.0", sf.world.services.integrations._trust
    )
    assert (await client.query("SELECT Id FROM Opportunity LIMIT 1"))["totalSize"] == 1


async def test_a_non_administrator_cannot_connect(sf: Connected) -> None:
    bob = await sf.admin.add_user("bob@acme.test")
    r = await bob.post(f"{INTEGRATION}/connect")
    assert (r.status, r.code) == (403, "forbidden")
    assert (await bob.get(INTEGRATION)).status == 403


async def test_a_pkce_verifier_mismatch_is_rejected_by_salesforce(sf: Connected) -> None:
    r = await sf.admin.post(f"{INTEGRATION}/connect")
    store = sf.world.services.store
    cipher = sf.world.services.integrations._cipher
    await store.oauth_states.update_many({}, {"$set": {"verifier": cipher.encrypt("x" * 64)}})

    page = await sf.browser.get(r.body["authorize_url"])

    assert page.status_code == 400
    assert "invalid_grant" in page.text
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "token_error")


async def test_a_replayed_state_is_refused(sf: Connected) -> None:
    page = await sf.authorize()
    assert page.status_code == 200
    replay = await sf.browser.get(str(page.url))
    assert replay.status_code == 400
    assert "no longer valid" in replay.text
    assert (await sf.status())["status"] == "active"


async def test_an_expired_state_is_refused(sf: Connected) -> None:
    r = await sf.admin.post(f"{INTEGRATION}/connect")
    await sf.world.services.store.oauth_states.update_many(
        {}, {"$set": {"expires_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}}
    )
    page = await sf.browser.get(r.body["authorize_url"])
    assert page.status_code == 400
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "authorization_expired")


async def test_denied_consent_says_so(sf: Connected) -> None:
    sf.emu.emulator.deny_next_authorization()
    page = await sf.authorize()
    assert page.status_code == 400
    assert "did not authorize" in page.text
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "access_denied")


async def test_a_profile_without_api_access_is_refused_naming_the_cause(sf: Connected) -> None:
    user = sf.emu.emulator.default_user
    sf.emu.emulator.set_api_enabled(False, user["Username"])

    page = await sf.authorize()

    assert page.status_code == 400
    assert "API access" in page.text and "profile" in page.text
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "api_disabled")
    assert "API access is disabled" in status["message"]
    assert "tokens" not in await sf.raw()


@pytest.fixture
def unrelated(tmp_path: Path) -> Path:
    """A CA bundle that does not contain the emulator's CA."""
    path = tmp_path / "unrelated-ca.pem"
    path.write_text(Path(certifi.where()).read_text())
    return path


async def test_the_trust_setting_wins_over_requests_ca_bundle(
    sf: Connected, monkeypatch: pytest.MonkeyPatch, unrelated: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated))
    monkeypatch.setenv("SSL_CERT_FILE", str(unrelated))
    page = await sf.authorize()
    assert page.status_code == 200, page.text
    assert (await sf.status())["status"] == "active"


async def test_connect_without_a_connected_app_configured_is_409(world: World) -> None:
    r = await world.admin.post(f"{INTEGRATION}/connect")
    assert (r.status, r.code) == (409, "salesforce_not_configured")


# Calls, refresh ----------------------------------------------------------------------------


async def _count_opportunities(client: SalesforceClient) -> int:
    return int((await client.query("SELECT Id FROM Opportunity"))["totalSize"])


async def test_an_expired_access_token_is_refreshed_and_the_call_retried(sf: Connected) -> None:
    await sf.authorize()
    before = (await sf.raw())["tokens"]["access"]
    sf.emu.emulator.expire_access_tokens()

    account = await account_id(sf.admin)
    count = await sf.world.services.integrations.call(account, _count_opportunities)

    assert count == sf.emu.emulator.org.count("Opportunity")
    assert (await sf.raw())["tokens"]["access"] != before
    assert (await sf.status())["status"] == "active"


async def test_a_refused_refresh_asks_for_re_authorization(sf: Connected) -> None:
    await sf.authorize()
    sf.emu.emulator.revoke_tokens()

    with pytest.raises(OAuthFailure):
        await sf.world.services.integrations.call(await account_id(sf.admin), _count_opportunities)

    status = await sf.status()
    assert (status["status"], status["reason"]) == ("needs_reauth", "refresh_refused")


def test_the_api_usage_is_read_among_other_segments_of_sforce_limit_info() -> None:
    # SALESFORCE.md §4.3: the org's api-usage anywhere in the value, extra segments tolerated,
    # used may pass the limit, the header may be absent.
    assert parse_api_usage("api-usage=18/15000") == ApiUsage(18, 15000)
    assert parse_api_usage("api-usage=110018/100000; api-bursts=1/750") == ApiUsage(110018, 100000)
    pilot = "per-app-api-usage=17/250(appName=My App); api-usage=25/5000"
    assert parse_api_usage(pilot) == ApiUsage(25, 5000)
    assert parse_api_usage("per-app-api-usage=17/250(appName=My App)") is None
    assert parse_api_usage(None) is None


# Unlink, re-enable, owner left --------------------------------------------------------------


async def test_unlink_revokes_forgets_tokens_and_keeps_tasks_and_entries(sf: Connected) -> None:
    await sf.authorize()
    project = await sf.world.imported_task(sf.admin, None, "Salesforce")
    await sf.admin.post(
        "/api/v1/entries",
        {"task_id": project["id"], "start": "2026-03-02T09:00:00Z", "duration": 600},
    )
    refresh = sf.world.services.integrations._cipher.decrypt((await sf.raw())["tokens"]["refresh"])

    r = await sf.admin.post(f"{INTEGRATION}/unlink")

    assert r.status == 200 and r.body["status"] == "unlinked" and r.body["owner"] is None
    assert "tokens" not in await sf.raw()
    assert await sf.refresh_is_refused(refresh)
    assert (await sf.admin.get(f"/api/v1/tasks/{project['id']}")).status == 200
    assert len((await sf.admin.get("/api/v1/entries")).body["items"]) == 1


async def test_unlink_with_salesforce_down_still_unlinks_locally(sf: Connected) -> None:
    await sf.authorize()
    sf.emu.emulator.inject_failures("drop", 5, scope="all")
    r = await sf.admin.post(f"{INTEGRATION}/unlink")
    assert r.status == 200 and r.body["status"] == "unlinked"
    assert "tokens" not in await sf.raw()


@pytest.mark.parametrize("start_from", ["unlinked", "needs_reauth", "active"])
async def test_re_enabling_makes_the_re_enabling_administrator_the_owner(
    sf: Connected, start_from: str
) -> None:
    await sf.authorize()
    bea = await sf.admin.add_user("bea@acme.test", role="administrator")
    if start_from == "unlinked":
        await sf.admin.post(f"{INTEGRATION}/unlink")
    elif start_from == "needs_reauth":
        sf.emu.emulator.revoke_tokens()
        with pytest.raises(OAuthFailure):
            await sf.world.services.integrations.call(
                await account_id(sf.admin), _count_opportunities
            )
    assert (await sf.status())["status"] == start_from

    r = await bea.post(f"{INTEGRATION}/connect")
    page = await sf.browser.get(r.body["authorize_url"])

    assert page.status_code == 200
    status = await sf.status()
    assert status["status"] == "active" and status["owner"]["email"] == "bea@acme.test"
    count = await sf.world.services.integrations.call(
        await account_id(sf.admin), _count_opportunities
    )
    assert count > 0


async def test_deactivating_the_owner_asks_for_re_enabling(sf: Connected) -> None:
    await sf.authorize()
    bea = await sf.admin.add_user("bea@acme.test", role="administrator")
    assert (await bea.delete(f"/api/v1/users/{sf.admin.id}")).status == 204
    r = await bea.get(INTEGRATION)
    assert (r.body["status"], r.body["reason"]) == ("needs_reauth", "owner_left")
    assert "Ada Admin" in r.body["message"]


async def test_re_enabling_revokes_the_grant_it_replaces(sf: Connected) -> None:
    await sf.authorize()
    cipher = sf.world.services.integrations._cipher
    old_refresh = cipher.decrypt((await sf.raw())["tokens"]["refresh"])
    await sf.authorize()
    assert cipher.decrypt((await sf.raw())["tokens"]["refresh"]) != old_refresh
    assert await sf.refresh_is_refused(old_refresh)
    assert (await sf.status())["status"] == "active"


# A real org: rotation, instance moves, refused sessions, API access ------------------------


async def _stored_refresh(sf: Connected) -> str:
    return sf.world.services.integrations._cipher.decrypt((await sf.raw())["tokens"]["refresh"])


async def test_with_rotation_two_refreshes_in_a_row_both_succeed(sf: Connected) -> None:
    sf.emu.emulator.set_refresh_rotation(True)
    await sf.authorize()
    await sf.world.services.syncs.wait()
    account = await account_id(sf.admin)
    issued = await _stored_refresh(sf)

    sf.emu.emulator.expire_access_tokens()
    assert await sf.world.services.integrations.call(account, _count_opportunities) > 0
    rotated = await _stored_refresh(sf)
    sf.emu.emulator.expire_access_tokens()
    assert await sf.world.services.integrations.call(account, _count_opportunities) > 0

    assert len({issued, rotated, await _stored_refresh(sf)}) == 3
    assert await sf.refresh_is_refused(issued) and await sf.refresh_is_refused(rotated)
    assert (await sf.status())["status"] == "active"


async def test_concurrent_calls_in_two_processes_refresh_once_with_rotation(
    sf: Connected,
) -> None:
    sf.emu.emulator.set_refresh_rotation(True)
    await sf.authorize()
    await sf.world.services.syncs.wait()
    account = await account_id(sf.admin)
    here = sf.world.services.integrations
    # Another server process on the same database: its own locks, the same store and key.
    there = Integrations(here._store, here._oauth, here._cipher, here._trust, here.api_version)
    sf.emu.emulator.expire_access_tokens()

    counts = await asyncio.gather(
        *(i.call(account, _count_opportunities) for i in (here, there, here, there))
    )

    assert len(set(counts)) == 1 and counts[0] > 0
    assert (await sf.status())["status"] == "active"
    # The stored refresh token is the live one: the next expiry refreshes fine.
    assert not await sf.refresh_is_refused(await _stored_refresh(sf))


async def test_an_instance_move_is_followed_and_stored(sf: Connected) -> None:
    await sf.authorize()
    await sf.world.services.syncs.wait()
    moved = sf.emu.emulator.move_instance()

    count = await sf.world.services.integrations.call(
        await account_id(sf.admin), _count_opportunities
    )

    assert count == sf.emu.emulator.org.count("Opportunity")
    status = await sf.status()
    assert status["status"] == "active"
    assert status["org"]["instance_url"] == moved != sf.emu.instance_url


async def test_a_session_refused_right_after_a_refresh_asks_for_re_authorization(
    sf: Connected,
) -> None:
    await sf.authorize()
    await sf.world.services.syncs.wait()
    sf.emu.emulator.refuse_new_sessions()
    sf.emu.emulator.expire_access_tokens()

    with pytest.raises(SessionExpired):
        await sf.world.services.integrations.call(await account_id(sf.admin), _count_opportunities)

    status = await sf.status()
    assert (status["status"], status["reason"]) == ("needs_reauth", "session_refused")
    assert "refused the session it had just renewed" in status["message"]


async def test_api_access_withdrawn_stops_the_syncs_and_names_both_causes(sf: Connected) -> None:
    await sf.authorize()
    services = sf.world.services
    await services.syncs.wait()
    account = await account_id(sf.admin)
    runs_before = len((await sf.admin.get(f"{INTEGRATION}/runs")).body["items"])
    sf.emu.emulator.set_api_enabled(False)

    with pytest.raises(ApiDisabled):
        await services.integrations.call(account, _count_opportunities)

    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "api_disabled")
    assert "edition has no API access" in status["message"]
    assert "“API Enabled”" in status["message"]
    await services.scheduler.tick()
    await services.syncs.wait()
    assert len((await sf.admin.get(f"{INTEGRATION}/runs")).body["items"]) == runs_before


# Environments: production, sandbox, My Domain -----------------------------------------------


@pytest.mark.parametrize(
    "environment",
    [
        "staging",
        "http://acme.my.salesforce.com",
        "https://acme.my.salesforce.com/path",
        "https://acme.my.salesforce.com?x=1",
        "https://acme.my.salesforce.com:8443",
        "https://user@acme.my.salesforce.com",
        "https://acme.salesforce.com",
        "https://evil.com/.my.salesforce.com",
        "https://-acme.my.salesforce.com",
        "https://a.b.my.salesforce.com",
        "",
        42,
    ],
)
async def test_an_environment_that_is_no_login_host_is_400_naming_the_field(
    sf: Connected, environment: object
) -> None:
    r = await sf.admin.post(f"{INTEGRATION}/connect", {"environment": environment})
    assert (r.status, r.code) == (400, "invalid_request")
    assert "environment" in r.body["error"]["message"]
    assert (await sf.status())["status"] == "not_connected"


async def test_the_environment_says_where_the_authorization_goes(sf: Connected) -> None:
    async def authorize_url(body: object) -> httpx2.URL:
        r = await sf.admin.post(f"{INTEGRATION}/connect", body)
        assert r.status == 200, r.body
        return httpx2.URL(r.body["authorize_url"])

    production = await authorize_url(None)
    assert production.host == "localhost" and production.port == httpx2.URL(sf.emu.login_url).port
    assert production.params["scope"] == "api refresh_token"
    assert (await authorize_url({"environment": "production"})).port == production.port
    my_domain = await authorize_url({"environment": "https://Acme--Dev.sandbox.my.salesforce.com/"})
    assert str(my_domain).startswith(
        "https://acme--dev.sandbox.my.salesforce.com/services/oauth2/authorize?"
    )
    sandbox = await authorize_url({"environment": "sandbox"})
    assert str(sandbox).startswith("https://test.salesforce.com/services/oauth2/authorize?")


@pytest.fixture
async def sandbox(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Connected]:
    async with connected_world(tmp_path, aiohttp_client, sandbox=True) as world:
        yield world


async def test_a_sandbox_connection_logs_in_refreshes_and_revokes_at_the_sandbox_host(
    sandbox: Connected,
) -> None:
    sf = sandbox
    assert sf.emu.sandbox_login_url is not None
    r = await sf.admin.post(f"{INTEGRATION}/connect", {"environment": "sandbox"})
    assert r.body["authorize_url"].startswith(sf.emu.sandbox_login_url)

    page = await sf.browser.get(r.body["authorize_url"])

    assert page.status_code == 200, page.text
    status = await sf.status()
    assert (status["status"], status["environment"]) == ("active", "sandbox")
    await sf.world.services.syncs.wait()
    # The production login host refuses sandbox tokens: the refresh went to the sandbox host.
    refresh = await _stored_refresh(sf)
    assert await sf.refresh_is_refused(refresh)
    sf.emu.emulator.expire_access_tokens()
    count = await sf.world.services.integrations.call(
        await account_id(sf.admin), _count_opportunities
    )
    assert count == sf.emu.emulator.org.count("Opportunity")

    await sf.admin.post(f"{INTEGRATION}/unlink")

    assert await sf.refresh_is_refused(refresh, sf.emu.sandbox_login_url)


# Another org -------------------------------------------------------------------------------


async def _imported(sf: Connected) -> dict[str, bool]:
    """Salesforce id → archived, for every imported record."""
    tasks = await sf.world.services.store.tasks.find({"source.system": "salesforce"})
    return {t["source"]["id"]: t["archived"] for t in tasks}


async def test_another_org_starts_the_sync_afresh_and_archives_the_old_orgs_records(
    sf: Connected,
) -> None:
    await sf.authorize()
    await sf.world.services.syncs.wait()
    old = await _imported(sf)
    assert old and "cursors" in await sf.raw()
    project = await sf.world.imported_task(sf.admin, None, "Salesforce")
    old_task = await sf.world.services.store.tasks.find_one(
        {"source.id": next(iter(old)), "archived": False}
    )
    assert old_task is not None
    entry = await sf.admin.post(
        "/api/v1/entries",
        {"task_id": old_task["_id"], "start": "2026-03-02T09:00:00Z", "duration": 600},
    )
    assert entry.status == 201, entry.body
    reset = await sf.browser.post(f"{sf.emu.control_url}/reset", json={"seed": "demo"})
    new_org = reset.json()["org"]["id"]
    # The new org's records are older than the old org's sync cursors: only a sync that
    # starts afresh reads them.

    page = await sf.authorize()
    await sf.world.services.syncs.wait()

    assert page.status_code == 200
    status = await sf.status()
    assert status["status"] == "active" and status["org"]["org_id"] == new_org
    imported = await _imported(sf)
    assert all(imported[record_id] for record_id in old)  # archived, not deleted
    org = sf.emu.emulator.org
    live = {r["Id"] for r in org.rows("Opportunity") if not r["IsDeleted"]}
    assert live and live <= set(imported)
    assert (await sf.admin.get(f"/api/v1/tasks/{project['id']}")).status == 200
    assert len((await sf.admin.get("/api/v1/entries")).body["items"]) == 1


async def test_every_failed_connect_revokes_the_grant_it_got(sf: Connected) -> None:
    emulator = sf.emu.emulator

    async def issued_refresh_tokens() -> list[str]:
        return list(emulator.sessions._refresh)

    emulator.set_api_enabled(False, emulator.default_user["Username"])
    assert (await sf.authorize()).status_code == 400
    emulator.set_api_enabled(True, emulator.default_user["Username"])
    emulator.inject_failures("unavailable", 1, scope="rest")  # the probe fails
    assert (await sf.authorize()).status_code == 400
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "salesforce_error")
    # The identity URL fails: the authorize page and the code exchange pass first.
    emulator.inject_failures("delay", 2, seconds=0, scope="oauth")
    emulator.inject_failures("unavailable", 1, scope="oauth")
    assert (await sf.authorize()).status_code == 400
    status = await sf.status()
    assert (status["status"], status["reason"]) == ("error", "identity_failed")

    tokens = await issued_refresh_tokens()
    assert len(tokens) == 3
    for token in tokens:
        assert await sf.refresh_is_refused(token)


async def test_a_grant_without_a_refresh_token_is_refused_and_revoked(sf: Connected) -> None:
    emulator = sf.emu.emulator
    emulator.app.scopes = ("api", "id")  # the app does not allow refresh tokens

    page = await sf.authorize()

    assert page.status_code == 400 and "refresh token" in page.text
    assert not [a for a in emulator.sessions._access.values() if not a.ended]


async def test_a_selection_saved_before_any_connect_breaks_nothing(sf: Connected) -> None:
    """Choosing what to import first, then connecting, is a natural order: the integration
    stays readable, connectable, syncable and unlinkable."""
    selection = {"objects": {"Case": {"enabled": False}}, "activities": False}
    r = await sf.admin.put(f"{INTEGRATION}/selection", selection)
    assert r.status in (200, 409), r.body
    status = await sf.status()
    assert status["status"] == "not_connected"
    assert status["selection"]["objects"]["Case"]["enabled"] is False
    r = await sf.admin.post(f"{INTEGRATION}/sync")
    assert (r.status, r.code) == (409, "not_connected")
    r = await sf.admin.post(f"{INTEGRATION}/unlink")
    assert r.status == 200, r.body
    answer = await sf.authorize()
    assert answer.status_code == 200, answer.text
    await sf.world.services.syncs.wait()
    status = await sf.status()
    assert status["status"] == "active"
    assert status["selection"]["objects"]["Case"]["enabled"] is False
    assert status["last_run"]["status"] == "succeeded"


async def test_an_incomplete_integration_document_reads_as_never_connected(sf: Connected) -> None:
    """A document an older version left without its status must not turn every call into 500."""
    account = (await sf.admin.get("/api/v1/me")).body["account"]["id"]
    await sf.world.services.store.integrations.insert_one({"_id": account, "selection": None})
    status = await sf.status()
    assert status["status"] == "not_connected"
    r = await sf.admin.post(f"{INTEGRATION}/sync")
    assert (r.status, r.code) == (409, "not_connected")
    r = await sf.admin.post(f"{INTEGRATION}/connect")
    assert r.status == 200, r.body


async def test_a_connection_the_server_cannot_serve_says_not_configured(world: World) -> None:
    """The store holds an active connection (made by another server, or a demo) but this server
    has no connected app: the status says so instead of "active"."""
    account = (await world.admin.get("/api/v1/me")).body["account"]["id"]
    integration = {"_id": account, "status": "active", "reason": None, "message": None}
    await world.services.store.integrations.insert_one(integration)
    status = (await world.admin.get(INTEGRATION)).body
    assert (status["status"], status["reason"]) == ("error", "not_configured")
    assert "TIMETRAIL_SALESFORCE_CLIENT_ID" in status["message"]
    assert "TIMETRAIL_SALESFORCE_CLIENT_SECRET" in status["message"]


async def test_a_server_without_a_connected_app_says_so_before_enabling(world: World) -> None:
    status = (await world.admin.get(INTEGRATION)).body
    assert (status["status"], status["reason"]) == ("not_connected", "not_configured")
    assert "TIMETRAIL_SALESFORCE_CLIENT_ID" in status["message"]
