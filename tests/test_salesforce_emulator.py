"""The Salesforce emulator, driven by the real clients (authlib over httpx, simple-salesforce over
requests) through real HTTPS, plus its pure parts (ids, SOQL, the org's record rules)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import requests  # noqa: TID251 - simple-salesforce runs on a requests.Session
import trustme
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from salesforce_emulator import Emulator, RunningEmulator, SeedSpec, errors, running_emulator
from salesforce_emulator.__main__ import parse_seed
from salesforce_emulator.ids import IdFactory, to_18
from salesforce_emulator.org import RecordError
from salesforce_emulator.schema import format_datetime
from salesforce_emulator.seeding import NO_API_USERNAME
from salesforce_emulator.soql import SoqlError, prepare
from server.salesforce_ids import to_18 as server_to_18

REDIRECT_URI = "http://127.0.0.1:9/oauth/salesforce/callback"
VERSION = "66.0"

P = ParamSpec("P")
T = TypeVar("T")


async def blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """simple-salesforce is synchronous; the emulator serves from this test's event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(tmp_path, seed="demo", api_disabled_user=True) as running:
        yield running


@pytest.fixture
def ssl_context(emu: RunningEmulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(emu.ca_file))


@pytest.fixture
def requests_session(emu: RunningEmulator) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # or REQUESTS_CA_BUNDLE would replace `verify`
    session.verify = str(emu.ca_file)
    yield session
    session.close()


def connect(
    emu: RunningEmulator, session: requests.Session, username: str | None = None
) -> Salesforce:
    tokens = emu.emulator.issue_tokens(username)
    return Salesforce(
        instance_url=tokens["instance_url"],
        session_id=tokens["access_token"],
        session=session,
        version=VERSION,
    )


@pytest.fixture
def sf(emu: RunningEmulator, requests_session: requests.Session) -> Salesforce:
    return connect(emu, requests_session)


async def rest(sf: Salesforce, path: str, **kwargs: Any) -> Any:
    """A REST call by path (simple-salesforce's ``restful``), which must answer a body."""
    body = await blocking(sf.restful, path, **kwargs)
    assert body is not None
    return body


def error_code(error: SalesforceError) -> str:
    content: Any = error.content
    return str(content[0]["errorCode"])


def rest_client(emu: RunningEmulator, context: ssl.SSLContext) -> httpx.AsyncClient:
    """A client of the org's REST API at `VERSION`, signed in with fresh tokens."""
    tokens = emu.emulator.issue_tokens()
    return httpx.AsyncClient(
        base_url=f"{emu.instance_url}/services/data/v{VERSION}",
        verify=context,
        trust_env=False,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )


def oauth_client(emu: RunningEmulator, context: ssl.SSLContext) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        emu.client_id,
        emu.client_secret,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        verify=context,
        trust_env=False,
    )


async def authorize(
    emu: RunningEmulator,
    client: AsyncOAuth2Client,
    context: ssl.SSLContext,
    verifier: str,
    **params: str,
) -> dict[str, list[str]]:
    """Visit the authorize URL as a browser would, stopping at the redirect to the app."""
    url, _state = client.create_authorization_url(
        emu.authorize_url, code_verifier=verifier, **params
    )
    async with httpx.AsyncClient(verify=context, trust_env=False) as browser:
        response = await browser.get(url, follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


async def code_for(
    emu: RunningEmulator, client: AsyncOAuth2Client, context: ssl.SSLContext, verifier: str
) -> str:
    return (await authorize(emu, client, context, verifier))["code"][0]


# --- ids -------------------------------------------------------------------------------


def test_new_ids_have_the_key_prefix_and_the_case_suffix() -> None:
    factory = IdFactory()
    ids = {name: factory.new(name) for name in ("Opportunity", "Case", "Task", "Account", "User")}
    assert {name: value[:3] for name, value in ids.items()} == {
        "Opportunity": "006",
        "Case": "500",
        "Task": "00T",
        "Account": "001",
        "User": "005",
    }
    for value in ids.values():
        assert len(value) == 18
        assert server_to_18(value[:15]) == value
        assert to_18(value[:15]) == value
        assert to_18(value.lower()) == value  # the suffix restores the letters' case
    assert len({factory.new("Opportunity") for _ in range(1000)}) == 1000


def test_an_id_whose_suffix_does_not_match_is_no_id() -> None:
    value = IdFactory().new("Case")
    assert to_18(value[:15] + "AAA" if value[15:] != "AAA" else value[:15] + "BBB") is None
    assert to_18("not an id") is None


# --- the OAuth 2.0 web-server flow ---------------------------------------------------------


async def test_the_web_server_flow_with_pkce_gives_tokens_and_an_identity(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        answer = await authorize(emu, client, ssl_context, verifier, state="state-123")
        assert answer["state"] == ["state-123"]
        token = await client.fetch_token(
            emu.token_url, code=answer["code"][0], code_verifier=verifier
        )
        response = await client.get(token["id"])

    user = emu.emulator.default_user
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == emu.instance_url
    assert token["instance_url"].startswith("https://127.0.0.1:")
    assert token["id"] == f"{emu.login_url}/id/{emu.emulator.org.id}/{user['Id']}"
    assert emu.login_url.startswith("https://localhost:")
    assert token["refresh_token"]
    assert set(token["scope"].split()) == {"api", "refresh_token", "id"}
    assert "expires_in" not in token
    expected = hmac.new(
        emu.client_secret.encode(), (token["id"] + token["issued_at"]).encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(token["signature"]) == expected
    assert abs(int(token["issued_at"]) / 1000 - time.time()) < 60

    assert response.status_code == 200
    identity = response.json()
    assert identity["user_id"] == user["Id"]
    assert identity["organization_id"] == emu.emulator.org.id
    assert identity["username"] == user["Username"]
    assert identity["email"] == user["Email"]
    assert identity["display_name"] == user["Name"]


async def test_a_wrong_pkce_verifier_is_refused(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        code = await code_for(emu, client, ssl_context, verifier)
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(emu.token_url, code=code, code_verifier=generate_token(64))
    assert refused.value.error == "invalid_grant"
    assert refused.value.description == "authentication failure"


async def test_an_authorization_code_works_once(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        code = await code_for(emu, client, ssl_context, verifier)
        await client.fetch_token(emu.token_url, code=code, code_verifier=verifier)
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(emu.token_url, code=code, code_verifier=verifier)
    assert refused.value.error == "invalid_grant"


async def test_a_refresh_gives_a_new_access_token_and_no_refresh_token(
    emu: RunningEmulator, ssl_context: ssl.SSLContext, requests_session: requests.Session
) -> None:
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        code = await code_for(emu, client, ssl_context, verifier)
        first = dict(await client.fetch_token(emu.token_url, code=code, code_verifier=verifier))
        emu.emulator.expire_access_tokens()
    async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as http:
        response = await http.post(
            emu.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
            },
        )
    assert response.status_code == 200
    refreshed = response.json()
    assert "refresh_token" not in refreshed
    assert refreshed["access_token"] != first["access_token"]
    sf = Salesforce(
        instance_url=refreshed["instance_url"],
        session_id=refreshed["access_token"],
        session=requests_session,
        version=VERSION,
    )
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5


async def test_a_revoked_refresh_token_no_longer_refreshes_nor_its_access_tokens_work(
    emu: RunningEmulator, ssl_context: ssl.SSLContext, requests_session: requests.Session
) -> None:
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        code = await code_for(emu, client, ssl_context, verifier)
        token = dict(await client.fetch_token(emu.token_url, code=code, code_verifier=verifier))
        revoked = await client.revoke_token(emu.revoke_url, token=token["refresh_token"])
        assert revoked.status_code == 200
        with pytest.raises(OAuthError) as refused:
            await client.refresh_token(emu.token_url, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert refused.value.description == "expired access/refresh token"
    sf = Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=requests_session,
        version=VERSION,
    )
    with pytest.raises(SalesforceExpiredSession) as expired:
        await blocking(sf.query, "SELECT Id FROM Account")
    assert error_code(expired.value) == "INVALID_SESSION_ID"


async def refresh_at(
    emu: RunningEmulator, context: ssl.SSLContext, token_url: str, refresh_token: str
) -> httpx.Response:
    async with httpx.AsyncClient(verify=context, trust_env=False) as http:
        return await http.post(
            token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
            },
        )


async def test_with_rotation_each_refresh_gives_a_new_refresh_token_and_ends_the_old_one(
    emu: RunningEmulator, ssl_context: ssl.SSLContext, requests_session: requests.Session
) -> None:
    emu.emulator.set_refresh_rotation(True)
    first = emu.emulator.issue_tokens()

    second = (await refresh_at(emu, ssl_context, emu.token_url, first["refresh_token"])).json()
    third = (await refresh_at(emu, ssl_context, emu.token_url, second["refresh_token"])).json()
    replayed = await refresh_at(emu, ssl_context, emu.token_url, first["refresh_token"])

    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    assert replayed.status_code == 400
    assert replayed.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    # Access tokens issued before a rotation keep working until their own timeout.
    for tokens in (first, second, third):
        sf = Salesforce(
            instance_url=tokens["instance_url"],
            session_id=tokens["access_token"],
            session=requests_session,
            version=VERSION,
        )
        assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5


async def test_a_moved_instance_is_in_the_next_token_response_and_the_old_host_refuses(
    emu: RunningEmulator, ssl_context: ssl.SSLContext, requests_session: requests.Session
) -> None:
    before = emu.emulator.issue_tokens()
    old_host = before["instance_url"]

    moved = emu.emulator.move_instance()
    after = (await refresh_at(emu, ssl_context, emu.token_url, before["refresh_token"])).json()

    assert moved != old_host and after["instance_url"] == moved
    assert urlsplit(moved).port == urlsplit(old_host).port
    stale = Salesforce(
        instance_url=old_host,
        session_id=after["access_token"],
        session=requests_session,
        version=VERSION,
    )
    with pytest.raises(SalesforceExpiredSession) as refused:
        await blocking(stale.query, "SELECT Id FROM Account")
    assert error_code(refused.value) == "INVALID_SESSION_ID"
    for token in (before, after):  # the session is fine at the new host
        sf = Salesforce(
            instance_url=moved,
            session_id=token["access_token"],
            session=requests_session,
            version=VERSION,
        )
        assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5


async def test_refusing_new_sessions_makes_rest_refuse_every_token_issued_afterwards(
    emu: RunningEmulator, ssl_context: ssl.SSLContext, requests_session: requests.Session
) -> None:
    before = emu.emulator.issue_tokens()
    emu.emulator.refuse_new_sessions()
    after = (await refresh_at(emu, ssl_context, emu.token_url, before["refresh_token"])).json()

    def client(tokens: dict[str, Any]) -> Salesforce:
        return Salesforce(
            instance_url=tokens["instance_url"],
            session_id=tokens["access_token"],
            session=requests_session,
            version=VERSION,
        )

    with pytest.raises(SalesforceExpiredSession) as refused:
        await blocking(client(after).query, "SELECT Id FROM Account")
    content: Any = refused.value.content
    assert content == [
        {
            "message": "This session is not valid for use with the REST API",
            "errorCode": "INVALID_SESSION_ID",
        }
    ]
    assert (await blocking(client(before).query, "SELECT Id FROM Account"))["totalSize"] == 5


async def test_sandbox_tokens_refresh_and_revoke_only_at_the_sandbox_login_host(
    tmp_path: Path,
) -> None:
    async with running_emulator(tmp_path, sandbox=True) as emu:
        assert emu.sandbox_login_url and emu.sandbox_login_url != emu.login_url
        context = ssl.create_default_context(cafile=str(emu.ca_file))
        verifier = generate_token(64)
        sandbox_token_url = f"{emu.sandbox_login_url}/services/oauth2/token"
        async with oauth_client(emu, context) as client:
            url, _ = client.create_authorization_url(
                f"{emu.sandbox_login_url}/services/oauth2/authorize", code_verifier=verifier
            )
            async with httpx.AsyncClient(verify=context, trust_env=False) as browser:
                location = (await browser.get(url)).headers["Location"]
            code = parse_qs(urlsplit(location).query)["code"][0]
            with pytest.raises(OAuthError) as wrong_host:
                await client.fetch_token(emu.token_url, code=code, code_verifier=verifier)
            assert wrong_host.value.error == "invalid_grant"
            sandbox = dict(
                await client.fetch_token(sandbox_token_url, code=code, code_verifier=verifier)
            )
            verifier = generate_token(64)
            code = (await authorize(emu, client, context, verifier))["code"][0]
            production = dict(
                await client.fetch_token(emu.token_url, code=code, code_verifier=verifier)
            )
        assert sandbox["id"].startswith(emu.sandbox_login_url + "/id/")
        assert production["id"].startswith(emu.login_url + "/id/")

        at_production = await refresh_at(emu, context, emu.token_url, sandbox["refresh_token"])
        at_sandbox = await refresh_at(emu, context, sandbox_token_url, sandbox["refresh_token"])
        crossed = await refresh_at(emu, context, sandbox_token_url, production["refresh_token"])
        # The org's own host (its My Domain) serves both families.
        my_domain = await refresh_at(
            emu, context, f"{emu.instance_url}/services/oauth2/token", sandbox["refresh_token"]
        )
        async with httpx.AsyncClient(verify=context, trust_env=False) as http:
            revoke_wrong = await http.post(emu.revoke_url, data={"token": sandbox["refresh_token"]})
            revoke_right = await http.post(
                f"{emu.sandbox_login_url}/services/oauth2/revoke",
                data={"token": sandbox["refresh_token"]},
            )

    assert (at_production.status_code, at_production.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
    )
    assert (crossed.status_code, crossed.json()["error"]) == (400, "invalid_grant")
    assert at_sandbox.status_code == 200 and my_domain.status_code == 200
    assert (revoke_wrong.status_code, revoke_wrong.json()["error"]) == (400, "invalid_token")
    assert revoke_right.status_code == 200


async def test_the_control_api_turns_rotation_moves_the_instance_and_refuses_new_sessions(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    async with httpx.AsyncClient(
        base_url=emu.control_url, verify=ssl_context, trust_env=False
    ) as http:
        rotation = await http.put("/connected-app/rotation", json={"enabled": True})
        moved = await http.post("/instance/move")
        refused = await http.put("/tokens/refuse-new", json={"enabled": True})
        state = (await http.get("/state")).json()
    assert rotation.json() == {"rotate_refresh_tokens": True}
    assert moved.json()["instance_url"] == state["instance_url"] != emu.instance_url
    assert refused.json() == {"refuse_new": True}
    assert state["rotate_refresh_tokens"] is True
    tokens = emu.emulator.issue_tokens()
    assert tokens["instance_url"] == state["instance_url"]
    with pytest.raises(errors.SalesforceError):
        emu.emulator.authenticate(f"Bearer {tokens['access_token']}")


async def test_the_granted_scopes_are_the_requested_ones_the_app_allows(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    emu.emulator.app.scopes = ("api", "id")  # no refresh_token on the app
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        code = (await authorize(emu, client, ssl_context, verifier, scope="api refresh_token"))[
            "code"
        ][0]
        token = dict(await client.fetch_token(emu.token_url, code=code, code_verifier=verifier))
    assert token["scope"] == "api" and "refresh_token" not in token


async def test_client_credentials_are_checked_in_the_body_and_with_basic_auth(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as http:
        wrong_secret = await http.post(
            emu.token_url,
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            auth=(emu.client_id, "not-the-secret"),
        )
        unknown_grant = await http.post(
            emu.token_url,
            data={"grant_type": "password", "client_id": emu.client_id},
        )
        refresh = emu.emulator.issue_tokens()["refresh_token"]
        basic = await http.post(
            emu.token_url,
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=(emu.client_id, emu.client_secret),
        )
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (400, "invalid_client")
    assert (unknown_grant.status_code, unknown_grant.json()["error"]) == (
        400,
        "unsupported_grant_type",
    )
    assert basic.status_code == 200
    assert basic.json()["access_token"]


async def test_a_denied_authorization_redirects_with_access_denied(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    emu.emulator.deny_next_authorization()
    async with oauth_client(emu, ssl_context) as client:
        answer = await authorize(emu, client, ssl_context, generate_token(64), state="s1")
        again = await authorize(emu, client, ssl_context, generate_token(64), state="s2")
    assert answer == {
        "error": ["access_denied"],
        "error_description": ["end-user denied authorization"],
        "state": ["s1"],
    }
    assert "code" in again  # only the next authorization is denied


async def test_login_hint_or_the_control_api_choose_who_signs_in(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    verifier = generate_token(64)
    async with oauth_client(emu, ssl_context) as client:
        code = (await authorize(emu, client, ssl_context, verifier, login_hint=NO_API_USERNAME))[
            "code"
        ][0]
        hinted = await client.fetch_token(emu.token_url, code=code, code_verifier=verifier)
        emu.emulator.authorize_next_as("sam.seller@acme-demo.example")
        code = await code_for(emu, client, ssl_context, verifier)
        chosen = await client.fetch_token(emu.token_url, code=code, code_verifier=verifier)
    assert hinted["id"].endswith(emu.emulator.user(NO_API_USERNAME)["Id"])
    assert chosen["id"].endswith(emu.emulator.user("sam.seller@acme-demo.example")["Id"])


async def test_the_authorize_page_refuses_an_unknown_client_or_callback(
    emu: RunningEmulator, ssl_context: ssl.SSLContext, tmp_path: Path
) -> None:
    emu.emulator.app.redirect_uris = [REDIRECT_URI]
    async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as browser:
        unknown_client = await browser.get(
            emu.authorize_url,
            params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT_URI},
        )
        other_callback = await browser.get(
            emu.authorize_url,
            params={
                "response_type": "code",
                "client_id": emu.client_id,
                "redirect_uri": "https://evil.example/cb",
            },
        )
    assert unknown_client.status_code == 400
    assert "invalid_client_id" in unknown_client.text
    assert other_callback.status_code == 400
    assert "redirect_uri_mismatch" in other_callback.text


async def test_the_identity_url_refuses_a_bad_token(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    tokens = emu.emulator.issue_tokens()
    emu.emulator.expire_access_tokens()
    async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as http:
        response = await http.get(
            tokens["id"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert (response.status_code, response.text) == (403, "Bad_OAuth_Token")


# --- REST: sessions, limits, access ------------------------------------------------------


async def test_an_expired_access_token_answers_401_invalid_session_id(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    await blocking(sf.query, "SELECT Id FROM Account")
    emu.emulator.expire_access_tokens()
    with pytest.raises(SalesforceExpiredSession) as expired:
        await blocking(sf.query, "SELECT Id FROM Account")
    assert expired.value.status == 401
    assert error_code(expired.value) == "INVALID_SESSION_ID"


async def test_an_access_token_expires_after_the_session_timeout(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.advance_clock(emu.emulator.org.session_timeout.total_seconds() + 1)
    with pytest.raises(SalesforceExpiredSession):
        await blocking(sf.query, "SELECT Id FROM Account")


async def test_a_counted_success_carries_the_api_usage_and_nothing_else_does(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    # SALESFORCE.md §4.3, §9: on counted 2xx answers; whether errors carry it is unverified, so
    # the emulator sends it with none (a client must not need it there).
    async with rest_client(emu, ssl_context) as http:
        ok = await http.get("/query", params={"q": "SELECT Id FROM Case"})
        missing = await http.get("/sobjects/Case/500000000000000AAA")
        unauthenticated = await http.get("/limits", headers={"Authorization": "Bearer nope"})
        emu.emulator.inject_failures("unavailable")
        outage = await http.get("/limits")
    assert ok.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert (missing.status_code, missing.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    assert unauthenticated.status_code == 401
    assert outage.status_code == 503
    for answer in (missing, unauthenticated, outage):
        assert "Sforce-Limit-Info" not in answer.headers
        assert "Date" in answer.headers
    assert emu.api_calls == 2


async def test_the_versions_list_is_free_and_carries_no_api_usage(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as http:
        versions = await http.get(f"{emu.instance_url}/services/data/")
    assert versions.status_code == 200
    assert "Sforce-Limit-Info" not in versions.headers
    assert emu.api_calls == 0
    listed = versions.json()
    assert listed[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert listed[-1] == {
        "label": "Winter '27",
        "url": "/services/data/v68.0",
        "version": "68.0",
    }


async def test_versions_past_the_latest_are_not_found_and_retired_ones_gone(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    tokens = emu.emulator.issue_tokens()
    async with httpx.AsyncClient(
        verify=ssl_context,
        trust_env=False,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ) as http:
        base = f"{emu.instance_url}/services/data"
        latest = await http.get(f"{base}/v68.0/limits")
        future = await http.get(f"{base}/v69.0/limits")
        retired = await http.get(f"{base}/v30.0/limits")
    assert latest.status_code == 200
    assert (future.status_code, future.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    assert retired.status_code == 410
    assert [set(error) for error in retired.json()] == [{"message"}]  # (no errorCode: §4.2)
    # SALESFORCE.md §4.1, as Salesforce writes it (a client comparing it to aiohttp's or
    # requests' own spelling would break on a real org)
    for answer in (latest, future, retired):
        assert answer.headers["Content-Type"] == "application/json;charset=UTF-8"


async def test_a_user_without_api_access_is_refused_403_api_disabled_for_org(
    emu: RunningEmulator, requests_session: requests.Session
) -> None:
    # REST answers a profile without "API Enabled" as it answers an org without the API.
    sf = connect(emu, requests_session, NO_API_USERNAME)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        await blocking(sf.query, "SELECT Id FROM Account")
    assert refused.value.status == 403
    content: Any = refused.value.content
    assert content == [
        {
            "message": "The REST API is not enabled for this Organization.",
            "errorCode": "API_DISABLED_FOR_ORG",
        }
    ]


async def test_an_org_without_api_access_is_refused_403_api_disabled_for_org(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.set_api_enabled(False)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        await blocking(sf.query, "SELECT Id FROM Account")
    assert error_code(refused.value) == "API_DISABLED_FOR_ORG"
    emu.emulator.set_api_enabled(True)
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5


async def test_the_daily_limit_used_up_answers_403_request_limit_exceeded(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.set_api_limit(10, used=9)
    await blocking(sf.query, "SELECT Id FROM Account")
    assert sf.api_usage["api-usage"] == (10, 10)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        await blocking(sf.query, "SELECT Id FROM Account")
    assert error_code(refused.value) == "REQUEST_LIMIT_EXCEEDED"
    assert emu.api_calls == 10


# --- REST: injected failures --------------------------------------------------------------


async def test_injected_outages_answer_503_for_the_next_calls_then_recover(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.inject_failures("unavailable", 2)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as outage:
            await blocking(sf.query, "SELECT Id FROM Account")
        assert outage.value.status == 503
        # The edge's maintenance page, not JSON (SALESFORCE.md §8.12, §9)
        assert str(outage.value.content).startswith("<!DOCTYPE html>")
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5
    assert emu.api_calls == 1


async def test_an_injected_server_error_answers_500_unknown_exception(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.inject_failures("server_error")
    with pytest.raises(SalesforceGeneralError) as failed:
        await blocking(sf.query, "SELECT Id FROM Account")
    assert (failed.value.status, error_code(failed.value)) == (500, "UNKNOWN_EXCEPTION")
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5
    assert emu.api_calls == 1


async def test_a_dropped_connection_gives_no_answer_then_calls_recover(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    await blocking(sf.query, "SELECT Id FROM Account")  # a kept-alive connection gets cut too
    emu.emulator.inject_failures("drop", 2)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            await blocking(sf.query, "SELECT Id FROM Account")
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5


async def test_an_injected_delay_slows_the_next_call(emu: RunningEmulator, sf: Salesforce) -> None:
    emu.emulator.inject_failures("delay", 1, seconds=0.3)
    started = time.perf_counter()
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5
    assert time.perf_counter() - started >= 0.3


async def test_an_injected_token_endpoint_outage(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    emu.emulator.inject_failures("unavailable", 1, scope="oauth")
    refresh = emu.emulator.issue_tokens()["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
    }
    async with httpx.AsyncClient(verify=ssl_context, trust_env=False) as http:
        down = await http.post(emu.token_url, data=form)
        up = await http.post(emu.token_url, data=form)
    assert (down.status_code, up.status_code) == (503, 200)


# --- REST: queries -------------------------------------------------------------------------


async def test_query_all_reads_4500_opportunities_in_three_pages(
    tmp_path: Path, requests_session: requests.Session
) -> None:
    async with running_emulator(tmp_path, seed=SeedSpec(opportunities=4500)) as big:
        requests_session.verify = str(big.ca_file)
        sf = connect(big, requests_session)
        first = await blocking(sf.query, "SELECT Id, Name FROM Opportunity")
        result = await blocking(sf.query_all, "SELECT Id, Name, StageName FROM Opportunity")
        calls = big.api_calls
    assert (first["totalSize"], first["done"], len(first["records"])) == (4500, False, 2000)
    locator, offset = first["nextRecordsUrl"].rsplit("/", 1)[1].split("-")
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/0r8")
    assert (len(locator), to_18(locator), offset) == (18, locator, "2000")
    assert len(result["records"]) == 4500
    assert len({r["Id"] for r in result["records"]}) == 4500
    assert result["records"][0]["attributes"]["type"] == "Opportunity"
    assert calls == 1 + 3


async def test_query_all_with_deleted_records_shows_them_with_is_deleted(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    victim = next(r for r in org.rows("Opportunity") if not r["IsClosed"])
    org.delete(victim["Id"])
    live = await blocking(sf.query_all, "SELECT Id, IsDeleted FROM Opportunity")
    everything = await blocking(
        sf.query_all, "SELECT Id, IsDeleted FROM Opportunity", include_deleted=True
    )
    assert victim["Id"] not in {r["Id"] for r in live["records"]}
    deleted = [r for r in everything["records"] if r["Id"] == victim["Id"]]
    assert deleted and deleted[0]["IsDeleted"] is True
    assert len(everything["records"]) == len(live["records"]) + 1
    org.purge(victim["Id"])
    purged = await blocking(sf.query_all, "SELECT Id FROM Opportunity", include_deleted=True)
    assert victim["Id"] not in {r["Id"] for r in purged["records"]}


async def test_later_query_all_pages_follow_next_records_url_and_keep_deleted_rows(
    tmp_path: Path, requests_session: requests.Session
) -> None:
    async with running_emulator(tmp_path, seed=SeedSpec(opportunities=2100)) as big:
        requests_session.verify = str(big.ca_file)
        rows = list(big.emulator.org.rows("Opportunity"))
        big.emulator.org.delete(rows[-1]["Id"])  # lands on the second page
        sf = connect(big, requests_session)
        result = await blocking(
            sf.query_all, "SELECT Id, IsDeleted FROM Opportunity", include_deleted=True
        )
    assert len(result["records"]) == 2100
    assert result["records"][-1] == {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v{VERSION}/sobjects/Opportunity/{rows[-1]['Id']}",
        },
        "Id": rows[-1]["Id"],
        "IsDeleted": True,
    }


def query_more(sf: Salesforce, url: str) -> Any:
    return sf.query_more(url, identifier_is_url=True)


async def invalid_locator(sf: Salesforce, url: str) -> bool:
    """Whether a nextRecordsUrl now answers 400 INVALID_QUERY_LOCATOR."""
    with pytest.raises(SalesforceMalformedRequest) as refused:
        await blocking(query_more, sf, url)
    return error_code(refused.value) == "INVALID_QUERY_LOCATOR"


async def test_each_locator_answers_its_next_page_once_in_order(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.set_page_size(2)  # Salesforce may answer fewer rows than asked
    first = await blocking(sf.query, "SELECT Id FROM Account ORDER BY Name")
    second_url = first["nextRecordsUrl"]
    assert (first["totalSize"], len(first["records"]), second_url[-2:]) == (5, 2, "-2")
    skipping = second_url[: -len("-2")] + "-4"
    assert await invalid_locator(sf, skipping)  # not the page it answers next

    # Asked under another version, the page still speaks the query's (SALESFORCE.md §2.2).
    second = await blocking(query_more, sf, second_url.replace(f"v{VERSION}", "v60.0"))
    assert len(second["records"]) == 2
    assert second["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/")
    assert second["records"][0]["attributes"]["url"].startswith(f"/services/data/v{VERSION}/")
    assert await invalid_locator(sf, second_url)  # read once
    third = await blocking(query_more, sf, second["nextRecordsUrl"])
    assert (third["done"], len(third["records"]), "nextRecordsUrl" in third) == (True, 1, False)
    assert await invalid_locator(sf, second["nextRecordsUrl"])  # the last page: gone
    unknown = second_url.replace(second_url.rsplit("/", 1)[1], "0r88d000000000AAAA-2")
    assert await invalid_locator(sf, unknown)
    assert await invalid_locator(sf, second_url.replace("/0r8", "/nonsense"))
    ids = [r["Id"] for r in first["records"] + second["records"] + third["records"]]
    assert len(set(ids)) == 5
    assert emu.api_calls == 1 + 2 + 2 + 3  # a refused query-more is a call too


async def test_a_locator_lives_two_days_since_v56_and_15_idle_minutes_before(
    emu: RunningEmulator, requests_session: requests.Session
) -> None:
    emu.emulator.set_page_size(2)
    sf = connect(emu, requests_session)
    old = Salesforce(
        instance_url=emu.instance_url,
        session_id=emu.emulator.issue_tokens()["access_token"],
        session=requests_session,
        version="55.0",
    )
    current = await blocking(sf.query, "SELECT Id FROM Account")
    older = await blocking(old.query, "SELECT Id FROM Account")
    emu.emulator.advance_clock(16 * 60)
    assert (await blocking(query_more, sf, current["nextRecordsUrl"]))["records"]
    assert await invalid_locator(old, older["nextRecordsUrl"])

    current = await blocking(sf.query, "SELECT Id FROM Account")
    emu.emulator.advance_clock(2 * 24 * 3600 + 1)
    sf = connect(emu, requests_session)  # (the session timed out long ago)
    assert await invalid_locator(sf, current["nextRecordsUrl"])


async def test_an_injected_expired_locator_fails_the_next_query_more_only(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.set_page_size(2)
    emu.emulator.inject_failures("expired_locator")
    first = await blocking(sf.query, "SELECT Id FROM Account")  # a first page is not affected
    assert await invalid_locator(sf, first["nextRecordsUrl"])
    assert await invalid_locator(sf, first["nextRecordsUrl"])  # expired for good
    again = await blocking(sf.query, "SELECT Id FROM Account")
    assert (await blocking(query_more, sf, again["nextRecordsUrl"]))["records"]
    assert len(emu.emulator.faults) == 0


async def test_soql_filters_on_system_modstamp_in_lists_and_or_order_and_limit(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    before = datetime.now(UTC) - timedelta(seconds=1)
    changed = org.update(next(iter(org.rows("Opportunity")))["Id"], {"Amount": 1.0})
    since = before.strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = await blocking(sf.query, f"SELECT Id FROM Opportunity WHERE SystemModstamp > {since}")
    assert [r["Id"] for r in recent["records"]] == [changed["Id"]]
    with_offset = before.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    again = await blocking(
        sf.query, f"SELECT Id FROM Opportunity WHERE SystemModstamp >= {with_offset}"
    )
    assert again["totalSize"] == 1

    closed = await blocking(
        sf.query,
        "SELECT Name, StageName, IsClosed, IsWon FROM Opportunity "
        "WHERE StageName IN ('Closed Won', 'Closed Lost', 'Closed - Duplicate') "
        "AND (IsWon = false OR Amount > 50000) ORDER BY Name DESC LIMIT 2",
    )
    assert [(r["Name"], r["StageName"], r["IsWon"]) for r in closed["records"]] == [
        ("Umbrella - lab integration", "Closed Lost", False),
        ("Initech - office expansion", "Closed - Duplicate", False),
    ]
    assert closed["totalSize"] == 2

    with_parent = await blocking(
        sf.query,
        "SELECT Subject, What.Name, What.Type FROM Task "
        "WHERE WhatId IN (SELECT_ME) ORDER BY Subject LIMIT 1".replace(
            "SELECT_ME", f"'{changed['Id'][:15]}'"
        ),
    )
    task = with_parent["records"][0]
    assert task["What"]["Name"] == changed["Name"]
    assert task["What"]["Type"] == "Opportunity"
    assert task["What"]["attributes"]["type"] == "Name"


async def test_malformed_soql_raises_malformed_query(sf: Salesforce) -> None:
    for text in (
        "SELECT Id FROM Opportunity WHERE",
        "SELECT Id FROM Opportunity WHERE IsWon = true AND IsClosed = true OR Amount > 5",
        "SELECT Id, FROM Opportunity",
        "SELECT Id FROM Opportunity LIMIT ten",
    ):
        with pytest.raises(SalesforceMalformedRequest) as malformed:
            await blocking(sf.query, text)
        assert malformed.value.status == 400
        assert error_code(malformed.value) == "MALFORMED_QUERY", text


async def test_unknown_fields_and_objects_are_invalid_field_and_invalid_type(
    sf: Salesforce,
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as field:
        await blocking(sf.query, "SELECT Id, Colour FROM Opportunity")
    with pytest.raises(SalesforceMalformedRequest) as sobject:
        await blocking(sf.query, "SELECT Id FROM Invoice__c")
    assert error_code(field.value) == "INVALID_FIELD"
    assert error_code(sobject.value) == "INVALID_TYPE"


# --- REST: replication ----------------------------------------------------------------------


def soql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


async def test_updated_and_deleted_list_changes_in_whole_minutes(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    start = emu.emulator.clock.now() - timedelta(minutes=1)
    case = next(iter(org.rows("Case")))
    org.close(case["Id"])
    task = next(iter(org.rows("Task")))
    org.delete(task["Id"])
    emu.emulator.advance_clock(120)
    end = emu.emulator.clock.now()
    params = {"start": soql_time(start), "end": soql_time(end)}

    updated = await rest(sf, "sobjects/Case/updated/", params=params)
    deleted = await rest(sf, "sobjects/Task/deleted/", params=params)

    assert updated["ids"] == [case["Id"]]
    assert updated["latestDateCovered"] == format_datetime(end.replace(second=0, microsecond=0))
    assert [d["id"] for d in deleted["deletedRecords"]] == [task["Id"]]
    assert deleted["deletedRecords"][0]["deletedDate"].endswith("+0000")
    assert "earliestDateAvailable" in deleted


async def test_replication_windows_older_than_allowed_are_invalid_replication_date(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    now = emu.emulator.clock.now()
    too_old_for_updated = {"start": soql_time(now - timedelta(days=31)), "end": soql_time(now)}
    too_old_for_deleted = {"start": soql_time(now - timedelta(days=16)), "end": soql_time(now)}
    fine_for_updated = {"start": soql_time(now - timedelta(days=29)), "end": soql_time(now)}
    for path, params in (
        ("sobjects/Opportunity/updated/", too_old_for_updated),
        ("sobjects/Opportunity/deleted/", too_old_for_deleted),
    ):
        with pytest.raises(SalesforceMalformedRequest) as invalid:
            await rest(sf, path, params=params)
        assert error_code(invalid.value) == "INVALID_REPLICATION_DATE"
    result = await rest(sf, "sobjects/Opportunity/updated/", params=fine_for_updated)
    assert len(result["ids"]) == 12


async def test_a_plus_sent_unencoded_reads_as_a_space_and_is_refused(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    # SALESFORCE.md §2.1, §3.1, §8.8: a literal '+' (a datetime's offset) must go as %2B; sent
    # raw it arrives as a space, which Salesforce does not read back as '+'.
    now = emu.emulator.clock.now()
    start, end = soql_time(now - timedelta(minutes=10)), soql_time(now)
    async with rest_client(emu, ssl_context) as http:

        async def get(path: str, query: str) -> httpx.Response:
            # The query string as given: httpx leaves a '+' alone there.
            return await http.get(f"{path}?{query}")

        raw = f"start={start}&end={end}"
        updated_raw = await get("/sobjects/Case/updated/", raw)
        updated = await get("/sobjects/Case/updated/", raw.replace("+", "%2B"))
        soql = "q=SELECT+Id+FROM+Case+WHERE+SystemModstamp+>=+"  # '+' for the spaces
        query_raw = await get("/query/", soql + start)
        query = await get("/query/", soql + start.replace("+", "%2B"))
    assert "+00:00" in updated_raw.request.url.query.decode()
    assert (updated_raw.status_code, updated_raw.json()[0]["errorCode"]) == (
        400,
        "INVALID_REPLICATION_DATE",
    )
    assert updated.status_code == 200, updated.text
    assert (query_raw.status_code, query_raw.json()[0]["errorCode"]) == (400, "MALFORMED_QUERY")
    assert query.status_code == 200, query.text


async def test_a_purged_record_stays_in_deleted_until_the_log_forgets_it(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    start = emu.emulator.clock.now() - timedelta(minutes=1)
    account = next(iter(org.rows("Account")))
    org.purge(account["Id"])
    emu.emulator.advance_clock(60)
    params = {"start": soql_time(start), "end": soql_time(emu.emulator.clock.now())}
    deleted = await rest(sf, "sobjects/Account/deleted/", params=params)
    assert [d["id"] for d in deleted["deletedRecords"]] == [account["Id"]]
    emu.emulator.advance_clock(16 * 86400)
    assert org.deleted_records("Account", start, emu.emulator.clock.now()) == []


# --- REST: composite -----------------------------------------------------------------------


async def test_composite_batch_runs_several_queries_for_one_api_call(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    body = {
        "batchRequests": [
            {"method": "GET", "url": f"v{VERSION}/query?q=SELECT+Id+FROM+Opportunity"},
            {"method": "GET", "url": f"v{VERSION}/query?q=SELECT+Id+FROM+Case+WHERE+IsClosed=true"},
            {"method": "GET", "url": f"v{VERSION}/query?q=SELECT+Nope+FROM+Case"},
        ]
    }
    result = await rest(sf, "composite/batch", method="POST", json=body)
    assert result["hasErrors"] is True
    assert [r["statusCode"] for r in result["results"]] == [200, 200, 400]
    assert result["results"][0]["result"]["totalSize"] == 12
    assert result["results"][1]["result"]["totalSize"] == 2
    assert result["results"][2]["result"][0]["errorCode"] == "INVALID_FIELD"
    assert emu.api_calls == 3  # composite/batch bills every subrequest


def composite_body(urls: list[str]) -> dict[str, Any]:
    return {
        "allOrNone": False,
        "compositeRequest": [
            {"method": "GET", "url": f"/services/data/v{VERSION}/{u}", "referenceId": f"r{i}"}
            for i, u in enumerate(urls)
        ],
    }


async def test_composite_counts_one_call_for_five_queries_and_refuses_a_sixth(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    now = emu.emulator.clock.now()
    window = {"start": soql_time(now - timedelta(days=1)), "end": soql_time(now)}
    deleted = f"sobjects/Case/deleted/?start={quote(window['start'])}&end={quote(window['end'])}"
    queries = [
        "query?q=SELECT+Id+FROM+Opportunity",
        "queryAll?q=SELECT+Id+FROM+Case",
        "query/?q=SELECT+Id+FROM+Task",
        "queryAll/?q=SELECT+Id+FROM+Account",
        "query?q=SELECT+Id+FROM+Case+WHERE+IsClosed=true",
    ]
    result = await rest(sf, "composite", method="POST", json=composite_body([*queries, deleted]))
    assert [r["httpStatusCode"] for r in result["compositeResponse"]] == [200] * 6
    assert result["compositeResponse"][0]["body"]["totalSize"] == 12
    assert "earliestDateAvailable" in result["compositeResponse"][5]["body"]
    assert emu.api_calls == 1  # the whole composite is one call

    for urls in ([*queries, queries[0]], [deleted] * 26):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            await rest(sf, "composite", method="POST", json=composite_body(urls))
        assert error_code(refused.value) == "LIMIT_EXCEEDED"


async def test_rest_answers_carry_the_orgs_time_in_the_date_header(
    emu: RunningEmulator, requests_session: requests.Session
) -> None:
    emu.emulator.advance_clock(3 * 86400)
    tokens = emu.emulator.issue_tokens()
    answer = await blocking(
        requests_session.get,
        f"{emu.instance_url}/services/data/v{VERSION}/limits",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert answer.status_code == 200
    stamped = parsedate_to_datetime(answer.headers["Date"])
    assert abs(stamped - emu.emulator.clock.now()) < timedelta(minutes=1)
    assert abs(stamped - datetime.now(UTC)) > timedelta(days=2)


async def test_emptying_the_recycle_bin_moves_earliest_date_available_to_now(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    start = emu.emulator.clock.now() - timedelta(minutes=2)
    opportunity = next(iter(org.rows("Opportunity")))
    org.delete(opportunity["Id"])
    assert emu.emulator.empty_recycle_bin() >= 1  # with its activities
    emu.emulator.advance_clock(120)
    params = {"start": soql_time(start), "end": soql_time(emu.emulator.clock.now())}

    deleted = await rest(sf, "sobjects/Opportunity/deleted/", params=params)

    assert deleted["deletedRecords"] == []  # the log forgot it
    assert deleted["earliestDateAvailable"] > format_datetime(start)
    everything = await blocking(sf.query_all, "SELECT Id FROM Opportunity", include_deleted=True)
    assert opportunity["Id"] not in {r["Id"] for r in everything["records"]}


async def test_composite_subrequests_can_use_earlier_answers(sf: Salesforce) -> None:
    body = {
        "compositeRequest": [
            {
                "method": "GET",
                "url": f"/services/data/v{VERSION}/query?q=SELECT+Id+FROM+Account+ORDER+BY+Name",
                "referenceId": "accounts",
            },
            {
                "method": "GET",
                "url": f"/services/data/v{VERSION}/sobjects/Account/@{{accounts.records[0].Id}}",
                "referenceId": "first",
            },
        ]
    }
    result = await rest(sf, "composite", method="POST", json=body)
    first = result["compositeResponse"][1]
    assert first["httpStatusCode"] == 200
    assert first["body"]["Name"] == "Acme Corporation"


# --- TLS trust -----------------------------------------------------------------------------


async def test_trust_holds_with_an_unrelated_requests_ca_bundle_in_the_environment(
    emu: RunningEmulator,
    requests_session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unrelated = tmp_path / "unrelated-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(unrelated))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated))
    sf = connect(emu, requests_session)
    assert (await blocking(sf.query, "SELECT Id FROM Account"))["totalSize"] == 5

    # What trust_env=False protects from: the variable silently replaces `verify`.
    naive = requests.Session()
    naive.verify = str(emu.ca_file)
    try:
        with pytest.raises(requests.exceptions.SSLError):
            await blocking(naive.get, f"{emu.instance_url}/services/data/")
    finally:
        naive.close()


# --- the control API over HTTP ----------------------------------------------------------------


async def test_the_control_api_drives_the_org_over_http(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    async with httpx.AsyncClient(
        base_url=emu.control_url, verify=ssl_context, trust_env=False
    ) as control:
        reset = await control.post(
            "/reset",
            json={"seed": {"opportunities": 30, "cases": 5, "activities": 40}},
        )
        assert reset.status_code == 200
        assert reset.json()["counts"]["Opportunity"] == {"live": 30, "stored": 30}

        created = await control.post(
            "/records/Opportunity",
            json={"Name": "Big deal", "StageName": "Prospecting", "CloseDate": "2027-01-31"},
        )
        assert created.status_code == 201
        opportunity = created.json()
        assert opportunity["IsClosed"] is False
        closed = await control.post(
            f"/records/{opportunity['Id']}/close", json={"status": "Closed - Duplicate"}
        )
        assert (closed.json()["IsClosed"], closed.json()["IsWon"]) == (True, False)
        reopened = await control.post(f"/records/{opportunity['Id']}/reopen", json={})
        assert reopened.json()["StageName"] == "Negotiation/Review"
        renamed = await control.patch(f"/records/{opportunity['Id']}", json={"Name": "Bigger"})
        assert renamed.json()["Name"] == "Bigger"
        late = await control.patch(
            f"/records/{opportunity['Id']}?stamped_seconds_ago=600", json={"Name": "Late"}
        )
        late_stamp = datetime.fromisoformat(
            late.json()["SystemModstamp"].replace("+0000", "+00:00")
        )
        assert emu.emulator.clock.now() - late_stamp >= timedelta(seconds=599)
        emptied = await control.post("/recycle-bin/empty")
        assert emptied.status_code == 200
        assert renamed.json()["SystemModstamp"] >= opportunity["SystemModstamp"]
        deleted = await control.post(f"/records/{opportunity['Id']}/delete")
        assert deleted.json()["IsDeleted"] is True
        undeleted = await control.post(f"/records/{opportunity['Id']}/undelete")
        assert undeleted.json()["IsDeleted"] is False
        purged = await control.post(f"/records/{opportunity['Id']}/purge")
        assert purged.status_code == 204
        gone = await control.get(f"/records/{opportunity['Id']}")
        assert gone.status_code == 404
        bad = await control.post("/records/Opportunity", json={"Colour": "red"})
        assert bad.status_code == 400

        assert (await control.put("/api-limit", json={"limit": 50, "used": 7})).json() == {
            "api_calls": 7,
            "limit": 50,
        }
        failures = await control.post("/failures", json={"mode": "drop", "count": 3})
        assert failures.json() == {"pending": 3}
        assert (await control.delete("/failures")).json() == {"pending": 0}
        locator = await control.post("/failures", json={"mode": "expired_locator"})
        assert locator.json() == {"pending": 1}
        assert (await control.delete("/failures")).json() == {"pending": 0}
        assert (await control.put("/page-size", json={"size": 200})).json() == {"size": 200}
        assert emu.emulator.page_size == 200
        assert (await control.put("/page-size", json={"size": 2001})).status_code == 400
        assert (await control.post("/authorization/next", json={"deny": True})).status_code == 204
        assert emu.emulator.next_authorization is not None
        off = await control.put(
            "/api-access", json={"enabled": False, "username": "admin@acme-demo.example"}
        )
        assert off.json()["users"][0]["api_enabled"] is False
        expired = await control.post("/tokens/expire")
        assert expired.json() == {"expired": 0}
        state = await control.get("/state")
        assert state.json()["org"]["api_calls"] == 7


# --- the org's record rules (in memory) -------------------------------------------------------


def test_opportunity_stages_decide_is_closed_and_is_won() -> None:
    org = Emulator("empty").org
    with pytest.raises(RecordError, match=r"missing: \[CloseDate\]"):  # required, as in an org
        org.insert("Opportunity", {"Name": "Deal", "StageName": "Prospecting"})
    opportunity = org.insert(
        "Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2027-01-01"}
    )
    assert (opportunity["IsClosed"], opportunity["IsWon"]) == (False, False)
    won = org.close(opportunity["Id"])
    assert (won["StageName"], won["IsClosed"], won["IsWon"]) == ("Closed Won", True, True)
    duplicate = org.update(opportunity["Id"], {"stagename": "Closed - Duplicate"})
    assert (duplicate["IsClosed"], duplicate["IsWon"]) == (True, False)
    with pytest.raises(RecordError):
        org.update(opportunity["Id"], {"StageName": "Maybe"})
    with pytest.raises(RecordError):
        org.update(opportunity["Id"], {"IsClosed": False})


def test_deleting_a_record_takes_its_activities_and_undelete_brings_them_back() -> None:
    org = Emulator("empty").org
    case = org.insert("Case", {"Subject": "Broken"})
    tasks = [org.insert("Task", {"Subject": f"Call {i}", "WhatId": case["Id"]}) for i in range(2)]
    org.delete(case["Id"])
    assert all(org.require(t["Id"])["IsDeleted"] for t in tasks)
    org.undelete(case["Id"])
    assert not any(org.require(t["Id"])["IsDeleted"] for t in tasks)
    closed = org.close(tasks[0]["Id"])
    assert (closed["Status"], closed["IsClosed"]) == ("Completed", True)
    assert closed["CompletedDateTime"] is not None


def test_generated_orgs_are_the_same_for_the_same_seed() -> None:
    spec = SeedSpec(opportunities=50, cases=20, activities=100)
    first, second = Emulator(spec).org, Emulator(spec).org
    names = [[r["Name"] for r in org.rows("Opportunity")] for org in (first, second)]
    assert names[0] == names[1]
    stages = {r["StageName"] for r in first.rows("Opportunity")}
    assert "Closed - Duplicate" in stages or len(stages) > 3


def test_the_demo_org_has_a_custom_closed_stage_cases_and_activities() -> None:
    org = Emulator("demo").org
    opportunities = list(org.rows("Opportunity"))
    assert len(opportunities) == 12
    duplicate = [o for o in opportunities if o["StageName"] == "Closed - Duplicate"]
    assert duplicate and duplicate[0]["IsClosed"] and not duplicate[0]["IsWon"]
    assert len(list(org.rows("Case"))) == 8
    assert all(t["WhatId"] for t in org.rows("Task"))
    assert len(list(org.rows("Task"))) == 30


# --- SOQL (pure) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT FROM Case", "MALFORMED_QUERY"),
        ("SELECT Id FROM Case WHERE Subject = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Case ORDER Subject", "MALFORMED_QUERY"),
        ("SELECT Id FROM Case WHERE IsClosed > true", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Case WHERE CreatedDate > 2026-01-01", "INVALID_FIELD"),
        ("SELECT Id FROM Case WHERE Description = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Case WHERE Id = '123'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id, Id FROM Case", "MALFORMED_QUERY"),
        ("SELECT Id FROM Case OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
    ],
)
def test_soql_errors(text: str, code: str) -> None:
    with pytest.raises(SoqlError) as error:
        prepare(text, datetime.now(UTC))
    assert error.value.error_code == code


def test_soql_literals_and_operators() -> None:
    org = Emulator("demo").org
    now = datetime.now(UTC)

    def names(text: str) -> list[str]:
        query = prepare(text, now)
        rows = (r for r in org.rows(query.sobject.name) if not r["IsDeleted"])
        return [str(r.get("Name") or r.get("Subject")) for r in query.run(rows, org.get)]

    assert names("SELECT Name FROM Account WHERE Name LIKE 'g%' ") == ["Globex Industries"]
    assert names("select name from account where NOT Name < 'S' order by name asc") == [
        "Stark Logistics",
        "Umbrella Health",
    ]
    assert names("SELECT Name FROM Account WHERE Name IN ('initech', 'ACME CORPORATION')") == [
        "Acme Corporation",
        "Initech",
    ]
    assert len(names("SELECT Id FROM Task WHERE CreatedDate = LAST_N_DAYS:30")) == 30
    assert names("SELECT Id FROM Task WHERE CreatedDate > TODAY") == []
    assert len(names("SELECT Id FROM Opportunity WHERE CloseDate < 2000-01-01")) == 0
    assert len(names("SELECT Id FROM Opportunity WHERE Account.Name = 'Initech'")) == 2
    assert len(names("SELECT Id FROM Opportunity WHERE AccountId != null")) == 12
    first_two = names("SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST LIMIT 2")
    assert first_two == ["Acme - plant rollout phase 2", "Stark - fleet tracking"]
    assert names("SELECT Name FROM Opportunity ORDER BY Amount DESC LIMIT 1 OFFSET 1") == [
        "Stark - fleet tracking"
    ]
    count = prepare("SELECT COUNT() FROM Case WHERE IsClosed = false", now)
    assert count.count_only


def test_soql_like_escapes_match_a_literal_backslash_percent_and_underscore() -> None:
    org = Emulator(SeedSpec(accounts=0)).org
    for name in ("C:\\temp", "C:temp", "50% off", "50 off", "a_b", "axb"):
        org.load("Account", {"Name": name})
    now = datetime.now(UTC)

    def names(pattern: str) -> list[str]:
        query = prepare(f"SELECT Name FROM Account WHERE Name LIKE '{pattern}'", now)
        return [r["Name"] for r in query.run(org.rows("Account"), org.get)]

    assert names("%:\\\\t%") == ["C:\\temp"]
    assert names("%0\\% o%") == ["50% off"]
    assert names("a\\_b") == ["a_b"]


def test_soql_orders_text_case_insensitively_as_its_comparisons_do() -> None:
    """ORDER BY on text and `>`/`=` on text use one case-insensitive collation (ties by Id), so
    a keyset walk over names that differ only in case meets every row once."""
    org = Emulator(SeedSpec(accounts=0)).org
    for name in ("beta", "Alpha", "BETA", "alpha", "Beta", "ALPHA", "gamma"):
        org.load("Account", {"Name": name})
    now = datetime.now(UTC)
    order = " ORDER BY Name ASC, Id ASC LIMIT 2"
    rows = list(org.rows("Account"))
    first = prepare("SELECT Id, Name FROM Account" + order, now).run(rows, org.get)
    walked = list(first)
    while True:
        name, last = walked[-1]["Name"], walked[-1]["Id"]
        after = f"WHERE Name > '{name}' OR (Name = '{name}' AND Id > '{last}')"
        page = prepare(f"SELECT Id, Name FROM Account {after}" + order, now).run(rows, org.get)
        if not page:
            break
        walked += page
    assert [r["Name"].lower() for r in walked] == ["alpha"] * 3 + ["beta"] * 3 + ["gamma"]
    assert [r["Id"] for r in walked] == [
        r["Id"] for r in sorted(rows, key=lambda r: (r["Name"].lower(), r["Id"]))
    ]
    assert len(prepare("SELECT Id FROM Account OFFSET 2000", now).run(rows, org.get)) == 0


# --- Events ---------------------------------------------------------------------------------


async def test_events_are_queried_like_tasks_with_their_parent_and_have_no_status(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    result = await blocking(
        sf.query,
        "SELECT Id, Subject, What.Type, What.Name, StartDateTime, EndDateTime, "
        "ActivityDateTime, DurationInMinutes, IsAllDayEvent, IsArchived, SystemModstamp "
        "FROM Event ORDER BY StartDateTime",
    )
    assert result["totalSize"] == 6
    first = result["records"][0]
    assert first["Id"].startswith("00U") and len(first["Id"]) == 18
    assert to_18(first["Id"][:15]) == first["Id"]
    assert first["attributes"]["type"] == "Event"
    assert first["What"]["Type"] == "Opportunity"
    assert first["What"]["Name"] == "Acme - 200 seat renewal"
    assert first["ActivityDateTime"] == first["StartDateTime"]
    assert first["DurationInMinutes"] == 60
    assert (first["IsAllDayEvent"], first["IsArchived"]) == (False, False)
    assert {r["What"]["Type"] for r in result["records"]} == {"Opportunity", "Case"}
    for column in ("Status", "IsClosed"):
        with pytest.raises(SalesforceMalformedRequest) as invalid:
            await blocking(sf.query, f"SELECT Id, {column} FROM Event")
        assert error_code(invalid.value) == "INVALID_FIELD"
        content: Any = invalid.value.content
        assert content[0]["message"].startswith(f"No such column '{column}' on entity 'Event'.")

    one = await rest(sf, f"sobjects/Event/{first['Id'][:15]}")
    assert (one["Id"], one["Subject"]) == (first["Id"], "Kick-off meeting")
    assert "Status" not in one


async def test_a_meeting_that_ends_changes_no_field(emu: RunningEmulator, sf: Salesforce) -> None:
    org = emu.emulator.org
    start = emu.emulator.clock.now() - timedelta(minutes=1)
    event = org.insert(
        "Event",
        {
            "Subject": "Quick sync",
            "WhatId": next(iter(org.rows("Opportunity")))["Id"],
            "StartDateTime": format_datetime(start + timedelta(minutes=2)),
            "DurationInMinutes": 15,
        },
    )
    emu.emulator.advance_clock(3600)  # the meeting is over
    end = emu.emulator.clock.now()
    params = {"start": soql_time(start), "end": soql_time(end)}
    assert (await rest(sf, "sobjects/Event/updated/", params=params))["ids"] == [event["Id"]]
    later = {"start": soql_time(end - timedelta(minutes=30)), "end": soql_time(end)}
    assert (await rest(sf, "sobjects/Event/updated/", params=later))["ids"] == []
    row = (
        await blocking(
            sf.query, f"SELECT SystemModstamp, EndDateTime FROM Event WHERE Id = '{event['Id']}'"
        )
    )["records"][0]
    assert row["SystemModstamp"] == format_datetime(event["SystemModstamp"])
    assert row["EndDateTime"] < format_datetime(end)


async def test_deleting_a_parent_takes_its_events_along_and_undelete_brings_them_back(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    start = emu.emulator.clock.now() - timedelta(minutes=1)
    case = next(c for c in org.rows("Case") if c["Subject"] == "Login page times out")
    events = [e["Id"] for e in org.rows("Event") if e["WhatId"] == case["Id"]]
    tasks = [t["Id"] for t in org.rows("Task") if t["WhatId"] == case["Id"]]
    assert events and tasks
    org.delete(case["Id"])
    emu.emulator.advance_clock(60)
    params = {"start": soql_time(start), "end": soql_time(emu.emulator.clock.now())}
    deleted = await rest(sf, "sobjects/Event/deleted/", params=params)
    assert [d["id"] for d in deleted["deletedRecords"]] == events
    live = await blocking(sf.query_all, f"SELECT Id FROM Event WHERE WhatId = '{case['Id']}'")
    assert live["totalSize"] == 0
    everything = await blocking(
        sf.query_all,
        f"SELECT Id, IsDeleted FROM Event WHERE WhatId = '{case['Id']}'",
        include_deleted=True,
    )
    assert [(r["Id"], r["IsDeleted"]) for r in everything["records"]] == [(events[0], True)]
    org.undelete(case["Id"])
    back = await blocking(sf.query, f"SELECT Id FROM Event WHERE WhatId = '{case['Id']}'")
    assert [r["Id"] for r in back["records"]] == events
    org.purge(case["Id"])
    assert all(org.get(i) is None for i in events + tasks)


async def test_archived_events_only_come_back_from_query_all(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    org = emu.emulator.org
    old = org.load(
        "Event",
        {
            "Subject": "Last year's review",
            "StartDateTime": emu.emulator.clock.now() - timedelta(days=400),
            "DurationInMinutes": 60,
            "IsArchived": True,
        },
    )
    live = await blocking(sf.query_all, "SELECT Id FROM Event")
    everything = await blocking(
        sf.query_all, "SELECT Id, IsArchived FROM Event", include_deleted=True
    )
    assert old["Id"] not in {r["Id"] for r in live["records"]}
    assert {"Id": old["Id"], "IsArchived": True} in [
        {k: r[k] for k in ("Id", "IsArchived")} for r in everything["records"]
    ]


async def test_the_control_api_creates_changes_and_deletes_events_and_refuses_to_close_them(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    opportunity = next(iter(emu.emulator.org.rows("Opportunity")))
    async with httpx.AsyncClient(
        base_url=emu.control_url, verify=ssl_context, trust_env=False
    ) as control:
        created = await control.post(
            "/records/Event",
            json={
                "Subject": "Demo",
                "WhatId": opportunity["Id"],
                "StartDateTime": "2027-01-05T10:00:00Z",
                "EndDateTime": "2027-01-05T11:30:00Z",
            },
        )
        assert created.status_code == 201
        event = created.json()
        assert event["Id"].startswith("00U")
        assert (event["DurationInMinutes"], event["ActivityDate"]) == (90, "2027-01-05")
        moved = await control.patch(
            f"/records/{event['Id']}", json={"StartDateTime": "2027-01-06T09:00:00Z"}
        )
        assert moved.json()["EndDateTime"] == "2027-01-06T10:30:00.000+0000"
        longer = await control.patch(f"/records/{event['Id']}", json={"DurationInMinutes": 120})
        assert longer.json()["EndDateTime"] == "2027-01-06T11:00:00.000+0000"
        for action in ("close", "reopen"):
            refused = await control.post(f"/records/{event['Id']}/{action}", json={})
            assert refused.status_code == 400
            assert "Event" in refused.json()["error"]
        no_times = await control.post("/records/Event", json={"Subject": "When?"})
        assert no_times.status_code == 400
        assert "StartDateTime" in no_times.json()["error"]
        no_status = await control.post(
            "/records/Event",
            json={"StartDateTime": "2027-01-05T10:00:00Z", "DurationInMinutes": 5, "Status": "x"},
        )
        assert no_status.status_code == 400
        deleted = await control.post(f"/records/{opportunity['Id']}/delete")
        assert deleted.status_code == 200
        assert (await control.get(f"/records/{event['Id']}")).json()["IsDeleted"] is True
        await control.post(f"/records/{opportunity['Id']}/undelete")
        assert (await control.get(f"/records/{event['Id']}")).json()["IsDeleted"] is False
        await control.post(f"/records/{event['Id']}/delete")
        undeleted = await control.post(f"/records/{event['Id']}/undelete")
        assert undeleted.json()["IsDeleted"] is False
        assert (await control.post(f"/records/{event['Id']}/purge")).status_code == 204
        assert (await control.get(f"/records/{event['Id']}")).status_code == 404
        state = (await control.get("/state")).json()
        assert state["counts"]["Event"] == {"live": 6, "stored": 6}


def test_the_demo_events_are_partly_over_and_generated_seeds_take_an_events_count() -> None:
    emulator = Emulator("demo")
    now = emulator.clock.now()
    events = list(emulator.org.rows("Event"))
    assert sum(e["EndDateTime"] < now for e in events) == 3
    assert sum(e["StartDateTime"] > now for e in events) == 3
    parents = {emulator.org.type_of(emulator.org.require(e["WhatId"])) for e in events}
    assert parents == {"Opportunity", "Case"}
    assert Emulator(SeedSpec(opportunities=5, cases=2)).org.count("Event") == 0
    generated = Emulator(SeedSpec(opportunities=5, cases=2, events=9)).org
    assert generated.count("Event") == 9
    assert all(generated.get(e["WhatId"]) is not None for e in generated.rows("Event"))
    assert parse_seed("opportunities=3,events=4") == SeedSpec(opportunities=3, events=4)


def test_event_times_follow_the_start_and_the_end_or_the_duration() -> None:
    org = Emulator("empty").org
    event = org.insert("Event", {"StartDateTime": "2027-03-01T09:00:00Z", "DurationInMinutes": 30})
    assert format_datetime(event["EndDateTime"]) == "2027-03-01T09:30:00.000+0000"
    moved = org.update(event["Id"], {"ActivityDateTime": "2027-03-02T23:45:00+00:00"})
    assert format_datetime(moved["StartDateTime"]) == "2027-03-02T23:45:00.000+0000"
    assert format_datetime(moved["EndDateTime"]) == "2027-03-03T00:15:00.000+0000"
    assert moved["ActivityDate"].isoformat() == "2027-03-02"
    with pytest.raises(RecordError):
        org.update(event["Id"], {"EndDateTime": "2027-03-01T00:00:00Z"})
    with pytest.raises(RecordError):
        org.update(event["Id"], {"IsArchived": True})
    offsite = org.insert("Event", {"IsAllDayEvent": True, "ActivityDate": "2027-04-01"})
    assert offsite["DurationInMinutes"] == 1440
    assert format_datetime(offsite["EndDateTime"]) == "2027-04-01T23:59:00.000+0000"


# --- per-user access: profiles and field-level security ---------------------------------------

OTHER_USERNAME = "sam.seller@acme-demo.example"
INVALID_TYPE_CASE = (
    "sObject type 'Case' is not supported. If you are attempting to use a custom object, be sure "
    "to append the '__c' after the entity name. Please reference your WSDL or the describe call "
    "for the appropriate names."
)
NO_SUCH_COLUMN_SUBJECT = (
    "No such column 'Subject' on entity 'Task'. If you are attempting to use a custom field, be "
    "sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)


async def test_a_user_who_cannot_read_an_object_finds_it_unknown(
    emu: RunningEmulator, sf: Salesforce, requests_session: requests.Session
) -> None:
    emu.emulator.set_object_access("case", False, "admin@acme-demo.example")
    with pytest.raises(SalesforceMalformedRequest) as invalid:
        await blocking(sf.query, "SELECT Id FROM Case")
    content: Any = invalid.value.content
    assert content == [{"message": INVALID_TYPE_CASE, "errorCode": "INVALID_TYPE"}]
    with pytest.raises(SalesforceMalformedRequest):
        await blocking(sf.query_all, "SELECT Id FROM Case", include_deleted=True)
    now = emu.emulator.clock.now()
    window = {"start": soql_time(now - timedelta(days=1)), "end": soql_time(now)}
    case_id = next(iter(emu.emulator.org.rows("Case")))["Id"]
    for path, params in (
        ("sobjects/Case/updated/", window),
        ("sobjects/Case/deleted/", window),
        ("sobjects/Case/describe/", {}),
        (f"sobjects/Case/{case_id}", {}),
    ):
        with pytest.raises(SalesforceResourceNotFound) as missing:
            await rest(sf, path, params=params)
        content = missing.value.content
        assert content == [
            {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
        ], path
    # Tasks on cases still tell their parent's type, not its name.
    on_cases = await blocking(
        sf.query, "SELECT What.Type, What.Name FROM Task WHERE What.Type = 'Case'"
    )
    assert on_cases["totalSize"] > 0
    assert {(r["What"]["Type"], r["What"]["Name"]) for r in on_cases["records"]} == {("Case", None)}
    other = connect(emu, requests_session, OTHER_USERNAME)
    assert (await blocking(other.query, "SELECT Id FROM Case"))["totalSize"] == 8


async def test_a_relationship_to_an_unreadable_object_is_an_invalid_field(
    emu: RunningEmulator, sf: Salesforce, requests_session: requests.Session
) -> None:
    emu.emulator.set_object_access("Account", False)  # every user
    for user in (sf, connect(emu, requests_session, OTHER_USERNAME)):
        with pytest.raises(SalesforceMalformedRequest) as invalid:
            await blocking(user.query, "SELECT Id, Account.Name FROM Opportunity")
        assert error_code(invalid.value) == "INVALID_FIELD"
        assert (await blocking(user.query, "SELECT Id FROM Opportunity"))["totalSize"] == 12
    emu.emulator.set_object_access("Account", True, OTHER_USERNAME)
    other = connect(emu, requests_session, OTHER_USERNAME)
    result = await blocking(other.query, "SELECT Account.Name FROM Opportunity LIMIT 1")
    assert result["records"][0]["Account"]["Name"]


async def test_a_field_hidden_by_field_level_security_is_an_unknown_column(
    emu: RunningEmulator, sf: Salesforce, requests_session: requests.Session
) -> None:
    emu.emulator.set_field_access("Task", "subject", False, "admin@acme-demo.example")
    for text in (
        "SELECT Id, Subject FROM Task",
        "SELECT Id FROM Task WHERE Subject = 'Call'",
        "SELECT Id FROM Task ORDER BY Subject",
    ):
        with pytest.raises(SalesforceMalformedRequest) as invalid:
            await blocking(sf.query, text)
        content: Any = invalid.value.content
        assert content == [{"message": NO_SUCH_COLUMN_SUBJECT, "errorCode": "INVALID_FIELD"}], text
    task_id = next(iter(emu.emulator.org.rows("Task")))["Id"]
    record = await rest(sf, f"sobjects/Task/{task_id}")
    assert "Subject" not in record and record["Status"]
    with pytest.raises(SalesforceMalformedRequest):
        await rest(sf, f"sobjects/Task/{task_id}", params={"fields": "Id,Subject"})
    described = await rest(sf, "sobjects/Task/describe/")
    names = {f["name"] for f in described["fields"]}
    assert "Subject" not in names and "Status" in names
    other = connect(emu, requests_session, OTHER_USERNAME)
    assert (await blocking(other.query, "SELECT Subject FROM Task LIMIT 1"))["records"][0][
        "Subject"
    ]
    emu.emulator.set_field_access("Task", "Subject", True, "admin@acme-demo.example")
    assert (await blocking(sf.query, "SELECT Subject FROM Task"))["totalSize"] == 30


async def test_composite_subrequests_answer_the_access_errors_each(
    emu: RunningEmulator, sf: Salesforce
) -> None:
    emu.emulator.set_object_access("Case", False)
    emu.emulator.set_field_access("Task", "Subject", False)
    base = f"/services/data/v{VERSION}"
    urls = {
        "c": "query?q=SELECT+Id+FROM+Case",
        "t": "query?q=SELECT+Subject+FROM+Task",
        "e": "query?q=SELECT+Id+FROM+Event",
        "d": "sobjects/Case/describe",
    }
    body = {
        "compositeRequest": [
            {"method": "GET", "url": f"{base}/{url}", "referenceId": ref}
            for ref, url in urls.items()
        ]
    }
    result = await rest(sf, "composite", method="POST", json=body)
    answers = {a["referenceId"]: a for a in result["compositeResponse"]}
    assert answers["c"]["httpStatusCode"] == 400
    assert answers["c"]["body"] == [{"message": INVALID_TYPE_CASE, "errorCode": "INVALID_TYPE"}]
    assert answers["t"]["httpStatusCode"] == 400
    assert answers["t"]["body"] == [
        {"message": NO_SUCH_COLUMN_SUBJECT, "errorCode": "INVALID_FIELD"}
    ]
    assert (answers["e"]["httpStatusCode"], answers["e"]["body"]["totalSize"]) == (200, 6)
    assert answers["d"]["httpStatusCode"] == 404
    assert emu.api_calls == 1


async def test_global_describe_says_what_the_user_may_read(
    emu: RunningEmulator, sf: Salesforce, ssl_context: ssl.SSLContext
) -> None:
    async with httpx.AsyncClient(
        base_url=emu.control_url, verify=ssl_context, trust_env=False
    ) as control:
        hidden = await control.put(
            "/object-access",
            json={"object": "event", "readable": False, "username": "admin@acme-demo.example"},
        )
        assert hidden.json() == {
            "object": "Event",
            "readable": False,
            "username": "admin@acme-demo.example",
        }
        field = await control.put(
            "/field-access", json={"object": "Case", "field": "subject", "readable": False}
        )
        assert field.json()["field"] == "Subject"
        unknown = await control.put(
            "/field-access", json={"object": "Case", "field": "Colour", "readable": False}
        )
        assert unknown.status_code == 400
    described = await rest(sf, "sobjects/")
    flags = {
        o["name"]: (o["queryable"], o["retrieveable"], o["replicateable"])
        for o in described["sobjects"]
    }
    assert flags["Event"] == (False, False, False)
    assert flags["Task"] == flags["Case"] == (True, True, True)
    assert {"Opportunity", "Case", "Task", "Event", "Account", "User"} <= set(flags)
    event = next(o for o in described["sobjects"] if o["name"] == "Event")
    assert event["keyPrefix"] == "00U"


# --- long URIs ------------------------------------------------------------------------------


async def test_a_uri_over_16384_bytes_answers_414_and_with_the_headers_431_in_html(
    emu: RunningEmulator, ssl_context: ssl.SSLContext
) -> None:
    def soql(length: int) -> str:
        ids = ",".join(f"'{to_18('006' + str(i).rjust(12, '0'))}'" for i in range(length // 21))
        return f"SELECT Id FROM Opportunity WHERE Id IN ({ids})"

    async with rest_client(emu, ssl_context) as http:
        fits = await http.get("/query", params={"q": soql(12_000)})
        assert len(fits.request.url.raw_path) > 8_190  # past aiohttp's own line limit
        assert fits.status_code == 200, fits.text
        too_long = await http.get("/query", params={"q": soql(17_000)})
        assert len(too_long.request.url.raw_path) > 16_384
        long_headers = await http.get(
            "/query", params={"q": soql(12_000)}, headers={"X-Padding": "p" * 5_000}
        )
    assert too_long.status_code == 414
    assert too_long.headers["Content-Type"].startswith("text/html")
    assert "Sforce-Limit-Info" not in too_long.headers
    assert long_headers.status_code == 431
    assert long_headers.headers["Content-Type"].startswith("text/html")
    assert "<html>" in long_headers.text
    assert emu.api_calls == 1


# --- the standalone emulator ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_the_standalone_emulator_serves_until_signalled(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    ca_file = tmp_path / "ca.pem"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "salesforce_emulator",
        "--seed",
        "demo",
        "--ca-file",
        str(ca_file),
        "--client-id",
        "cli-client",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while not lines or "Ctrl-C stops it." not in lines[-1]:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert line, "".join(lines)
            lines.append(line.decode())
        printed = dict(
            line.strip().split(":", 1) for line in lines if line.startswith("  ") and ":" in line
        )
        login_url = printed["login URL"].strip()
        assert login_url.startswith("https://localhost:")
        assert printed["instance URL"].strip().startswith("https://127.0.0.1:")
        assert printed["client id"].strip() == "cli-client"
        assert Path(printed["CA bundle"].strip()) == ca_file

        context = ssl.create_default_context(cafile=str(ca_file))
        async with httpx.AsyncClient(verify=context, trust_env=False) as browser:
            response = await browser.get(
                f"{login_url}/services/oauth2/authorize",
                params={
                    "response_type": "code",
                    "client_id": "cli-client",
                    "redirect_uri": REDIRECT_URI,
                    "state": "xyz",
                },
            )
        assert response.status_code == 302
        assert "code=" in response.headers["Location"]

        process.send_signal(stop_signal)
        rest = await asyncio.wait_for(process.stdout.read(), timeout=20)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        assert "stopped" in rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
