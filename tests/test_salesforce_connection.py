"""Connecting an account to Salesforce, end to end over real HTTP: the server on a local port,
the Salesforce emulator on HTTPS, and the administrator's browser played by an HTTP client that
follows redirects."""

from __future__ import annotations

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
    AiohttpServer,
    Connected,
    account_id,
    connected_world,
)
from support import World

from server.services import CALLBACK_PATH
from server.sync.client import SalesforceClient
from server.sync.oauth import OAuthFailure


@pytest.fixture
async def sf(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> AsyncIterator[Connected]:
    async with connected_world(tmp_path, aiohttp_server, aiohttp_client) as connected:
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
