"""The OpenAPI document agrees with the server: schemathesis drives the live app over HTTP.

The app runs on a real port on the embedded store, with an account, its administrator's token
and some data (a project, tasks, an imported task, a second user, an entry). Schemathesis loads
the OpenAPI document from the app's own endpoint and sends, for every operation, its coverage
cases (boundary values, missing and malformed fields, methods the path does not list) and a
bounded number of generated examples, valid and invalid, derandomized so every run sends the
same requests. Every answer must be no 5xx and must match the document: a listed status code,
a listed content type, the listed schema and headers; a method a path does not list must be 405
with `Allow`. All failures are collected and shown together, one example each.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from fuzz_support import SIGN_OUT, Contract, Known, fuzz
from support import PASSWORD, Api

from server.app import create_app
from server.appkeys import SERVICES
from server.settings import Settings
from server.tree import Source

pytestmark = pytest.mark.slow

RECORD_ID = "006000000000001AAA"


async def _seed(server: TestServer, api: Api) -> Known:
    """The data the fuzzed requests may find: their path ids are drawn from these too."""
    services = server.app[SERVICES]
    project = await api.create_task("Website relaunch")
    task = await api.create_task("Design mockups", project["id"])
    me = await api.get("/api/v1/me")
    imported = await services.tree.create_imported_task(
        me.body["account"]["id"],
        None,
        "Acme renewal",
        Source(
            "salesforce", "Opportunity", RECORD_ID, f"https://acme.my.salesforce.com/{RECORD_ID}"
        ),
    )
    bob = await api.add_user("bob@acme.test")
    await api.assign(project["id"], bob, "regular")
    entry = await api.post(
        "/api/v1/entries",
        {"task_id": task["id"], "start": "2026-01-05T09:00:00Z", "duration": 3600},
    )
    assert entry.status == 201, entry.body
    return Known(
        tasks=(project["id"], task["id"], imported["_id"]),
        users=(bob.id,),
        entries=(entry.body["id"],),
    )


async def test_every_answer_matches_the_openapi_document(
    aiohttp_server: Any, aiohttp_client: Any, settings: Settings
) -> None:
    server: TestServer = await aiohttp_server(create_app(settings))
    client = await aiohttp_client(server)
    services = server.app[SERVICES]
    _, _, token = await services.accounts.create_account(
        "Acme", "admin@acme.test", "Ada Admin", PASSWORD
    )
    known = await _seed(server, Api(client, token))
    base_url = str(server.make_url("")).rstrip("/")

    # Schemathesis sends blocking requests: it runs in a thread while this loop serves them.
    contract: Contract = await asyncio.to_thread(fuzz, base_url, token, known)

    assert not contract.failures, contract.report()
    assert contract.answered > 1000, contract.report()
    # Sign-out runs last: its one 204 shows the token lived through every other operation.
    assert contract.statuses[(SIGN_OUT, 204)] == 1, contract.report()
