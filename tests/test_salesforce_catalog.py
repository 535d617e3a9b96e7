"""The catalog an administrator picks Salesforce items from: live, searchable, paged by keyset to
the end of any list, closed as the archive rule has it, against the emulator over real HTTPS."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sf_support import (
    INTEGRATION,
    AiohttpClient,
    Connected,
    connected_world,
)

from salesforce_emulator import Emulator
from salesforce_emulator.rest import Request, Response, RestApi
from salesforce_emulator.seeding import SeedSpec
from salesforce_emulator.soql import prepare
from server.sync.catalog import after

CATALOG = f"{INTEGRATION}/catalog"
ARCHIVING = {"Closed Won", "Closed Lost"}


async def connect(sf: Connected) -> None:
    page = await sf.authorize()
    assert page.status_code == 200, page.text
    await sf.world.services.syncs.wait()


async def select(sf: Connected, body: dict[str, Any]) -> None:
    r = await sf.admin.put(f"{INTEGRATION}/selection", body)
    assert r.status == 200, r.body
    await sf.world.services.syncs.wait()


def records(sf: Connected, sobject: str) -> list[dict[str, Any]]:
    """The org's open records of a type (neither closed nor deleted), oldest first."""
    return [
        dict(r)
        for r in sf.emu.emulator.org.rows(sobject)
        if not r.get("IsClosed") and not r.get("IsDeleted")
    ]


def live(sf: Connected, sobject: str) -> list[dict[str, Any]]:
    return [dict(r) for r in sf.emu.emulator.org.rows(sobject) if not r["IsDeleted"]]


async def every_page(sf: Connected, sobject: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Each page of the catalog, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        r = await sf.admin.get(CATALOG, object=sobject, cursor=cursor, **params)
        assert r.status == 200, (len(pages), r.body)
        pages.append(r.body["items"])
        cursor = r.body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 200, "the catalog never ends"


async def test_the_catalog_lists_live_items_searchable_paged_and_marked(sf: Connected) -> None:
    await connect(sf)
    opps = records(sf, "Opportunity")
    await select(
        sf,
        {
            "objects": {
                "Opportunity": {"enabled": True, "mode": "selected", "ids": [opps[0]["Id"]]}
            },
            "activities": True,
        },
    )
    page = await sf.admin.get(CATALOG, object="Opportunity")
    assert page.status == 200
    every = list(sf.emu.emulator.org.rows("Opportunity"))
    assert len(page.body["items"]) == min(len(every), 50)
    marked = {i["id"]: i["selected"] for i in page.body["items"]}
    assert marked[opps[0]["Id"]] is True and marked[opps[1]["Id"]] is False

    word = opps[1]["Name"].split()[0]
    found = await sf.admin.get(CATALOG, object="Opportunity", q=word)
    assert found.body["items"] and all(
        word.lower() in i["name"].lower() for i in found.body["items"]
    )

    small = await sf.admin.get(CATALOG, object="Case", q="'; DROP")
    assert small.status == 200 and small.body["items"] == []


async def test_the_catalog_says_when_salesforce_is_down(sf: Connected) -> None:
    await connect(sf)
    sf.emu.emulator.inject_failures("unavailable", 1)
    r = await sf.admin.get(CATALOG, object="Case")
    assert (r.status, r.code) == (502, "salesforce_unavailable")


async def test_only_closed_won_and_closed_lost_opportunities_show_as_closed(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    async with connected_world(tmp_path, aiohttp_client, seed="demo") as sf:
        await connect(sf)
        opportunities = {r["Id"]: r for r in live(sf, "Opportunity")}
        items = (await sf.admin.get(CATALOG, object="Opportunity")).body["items"]
        assert {i["id"] for i in items} == set(opportunities)
        for item in items:
            stage = opportunities[item["id"]]["StageName"]
            assert item["closed"] is (stage in ARCHIVING), (item, stage)
        # Closed in Salesforce (IsClosed), yet active here, as its imported task is.
        duplicate = next(i for i in items if i["name"] == "Initech - office expansion")
        assert opportunities[duplicate["id"]]["IsClosed"] is True
        assert duplicate["closed"] is False
        assert sum(i["closed"] for i in items) == 3

        cases = {r["Id"]: r for r in live(sf, "Case")}
        case_items = (await sf.admin.get(CATALOG, object="Case")).body["items"]
        assert {i["id"]: i["closed"] for i in case_items} == {
            case_id: r["IsClosed"] for case_id, r in cases.items()
        }
        assert sum(i["closed"] for i in case_items) == 2


async def test_an_administrator_pages_through_4500_opportunities_to_the_end(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    spec = SeedSpec(users=1, accounts=5, opportunities=0, cases=0, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as sf:
        await connect(sf)
        # Created after the first import: the catalog reads Salesforce live, and importing
        # thousands of tasks is another test's business.
        org = sf.emu.emulator.org
        words = random.Random(4500).choices(("Renewal", "pilot", "Upgrade", "add-on"), k=4500)
        for i, word in enumerate(words):
            org.load("Opportunity", {"Name": f"{word} deal {i + 1}"})
        # 120 opportunities of one name in three spellings, with a quote and a backslash: pages
        # break inside the tie, which only the Id decides.
        for i in range(120):
            name = ("Twin's \\ deal", "TWIN'S \\ DEAL", "twin's \\ Deal")[i % 3]
            org.load("Opportunity", {"Name": name})
        org.delete(live(sf, "Opportunity")[7]["Id"])

        pages = await every_page(sf, "Opportunity")

        expected = sorted(live(sf, "Opportunity"), key=lambda r: (r["Name"].casefold(), r["Id"]))
        assert len(expected) == 4619
        shown = [item["id"] for page in pages for item in page]
        assert shown == [r["Id"] for r in expected]  # all of them, once each, in order
        assert len(pages) == 93 and all(len(page) == 50 for page in pages[:-1])
        assert len(pages[-1]) == 19


async def test_cases_are_found_by_case_number_and_listed_in_its_order(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    spec = SeedSpec(users=1, accounts=3, opportunities=0, cases=120, activities=0)
    async with connected_world(tmp_path, aiohttp_client, seed=spec, embedded=True) as sf:
        await connect(sf)
        org = sf.emu.emulator.org
        no_subject = [org.load("Case", {"Subject": None})["Id"] for _ in range(3)]

        found = (await sf.admin.get(CATALOG, object="Case", q="01026")).body["items"]
        number = org.require(found[0]["id"])["CaseNumber"] if found else None
        assert number == "00001026" and len(found) == 1
        assert found[0]["name"].startswith("00001026: ")

        outages = (await sf.admin.get(CATALOG, object="Case", q="outage")).body["items"]
        assert outages and all("Outage" in i["name"] for i in outages)

        pages = await every_page(sf, "Case")
        shown = [item for page in pages for item in page]
        cases = sorted(live(sf, "Case"), key=lambda r: r["CaseNumber"])
        assert [i["id"] for i in shown] == [r["Id"] for r in cases]
        assert [len(page) for page in pages] == [50, 50, 23]
        names = {i["id"]: i["name"] for i in shown}
        assert [names[case_id] for case_id in no_subject] == ["00001121", "00001122", "00001123"]


async def test_a_long_search_keeps_every_query_url_short(
    sf: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Salesforce refuses a URL over 16 KB; escaping, the keyset's repeated name and the case
    number's second LIKE all stay well inside it for the longest search and the longest name."""
    urls: list[int] = []
    dispatch = RestApi.dispatch

    def recording(self: RestApi, request: Request) -> Response:
        if "q" in request.params:
            urls.append(len(f"/services/data/v66.0/query/?{urlencode(request.params)}"))
        return dispatch(self, request)

    monkeypatch.setattr(RestApi, "dispatch", recording)
    name = "😀%_'\\" * 24  # the longest Opportunity Name (120), every character escaped or wide
    await connect(sf)
    for _ in range(60):
        sf.emu.emulator.org.load("Opportunity", {"Name": name})
    urls.clear()

    pages = await every_page(sf, "Opportunity", q=name)
    assert [len(page) for page in pages] == [50, 10]
    cases = await every_page(sf, "Case", q=("😀%_'\\" * 40))
    assert cases == [[]]
    assert len(urls) == 3 and max(urls) < 8_000, urls


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        base64.urlsafe_b64encode(b"o:50").decode(),  # an offset, as other lists page
        base64.urlsafe_b64encode(b'k:["Opportunity", "x"]').decode(),
        base64.urlsafe_b64encode(b'k:["Opportunity", 5, "0065g00000AbCdEAAV"]').decode(),
        base64.urlsafe_b64encode(b'k:["Opportunity", "x", "0065g00000AbCdE\' OR Id != \'"]')
        .decode()
        .rstrip("="),
        base64.urlsafe_b64encode(b'k:{"Opportunity": 1}').decode(),
        base64.urlsafe_b64encode(b"k:\xff\xfe").decode(),
    ],
)
async def test_a_malformed_cursor_is_refused(sf: Connected, cursor: str) -> None:
    await connect(sf)
    r = await sf.admin.get(CATALOG, object="Opportunity", cursor=cursor)
    assert (r.status, r.code) == (400, "invalid_request"), r.body
    assert "cursor" in r.body["error"]["message"]


async def test_a_cursor_of_one_list_is_refused_by_the_other(sf: Connected) -> None:
    await connect(sf)
    for _ in range(60):
        sf.emu.emulator.org.load("Opportunity", {"Name": "Bulk deal"})
    first = await sf.admin.get(CATALOG, object="Opportunity")
    assert first.body["next_cursor"]
    r = await sf.admin.get(CATALOG, object="Case", cursor=first.body["next_cursor"])
    assert (r.status, r.code) == (400, "invalid_request"), r.body


def test_the_keyset_condition_walks_a_nullable_field_to_the_end() -> None:
    """Ordered by a field that may be null (a Case's Subject), the condition the catalog's
    keyset uses still visits every row once, nulls first, as the org orders them."""
    org = Emulator(SeedSpec(cases=12)).org
    for subject in (None, None, "outage", "OUTAGE", None, "Outage"):
        org.load("Case", {"Subject": subject})
    now = datetime.now(UTC)
    rows = [r for r in org.rows("Case") if not r["IsDeleted"]]
    order = "ORDER BY Subject ASC NULLS FIRST, Id ASC LIMIT 4"
    seen: list[str] = []
    last: tuple[str | None, str] | None = None
    while True:
        where = "" if last is None else f" WHERE {after('Subject', *last)}"
        page = prepare(f"SELECT Id, Subject FROM Case{where} {order}", now).run(rows, org.get)
        if not page:
            break
        seen += [r["Id"] for r in page]
        last = (page[-1]["Subject"], page[-1]["Id"])
    expected = sorted(
        rows, key=lambda r: (r["Subject"] is not None, (r["Subject"] or "").casefold(), r["Id"])
    )
    assert seen == [r["Id"] for r in expected]
    assert len(seen) == 18
