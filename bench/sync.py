"""Sync benchmark: the Salesforce import against the emulator, full and incremental.

Starts the Salesforce emulator (`python -m salesforce_emulator`, seeded with N opportunities,
N cases and M activities) and the server (`python -m server serve` on a fresh embedded store) as
separate processes, connects the integration as an administrator's browser would (which starts
the first import), and measures from this process:

- the first full import (trigger `connect`),
- an incremental sync after 1% of each object's records changed in Salesforce (opportunities
  renamed, cases closed, activities completed, one control-API call each: there is no bulk
  endpoint),
- an incremental sync with nothing changed,

and, in a second fresh emulator + server at a tenth of the scale, the full import again, for the
peak-RSS comparison. For each it prints the records per second, wall time (the run's own start
and end), the counts the run recorded, the API calls the run recorded and the emulator counted
as Salesforce bills them (a `composite` call is one call however many subrequests it carries, a
`composite/batch` one call per subrequest; with a breakdown by endpoint from the emulator's
access log), the minimum possible (pages of 2,000 per object), the server's peak RSS (VmHWM) and
the CPU used by the server and the emulator. It never asserts on time.

Before each incremental sync it waits until a minute has passed since the previous run started
(`--settle`): the engine reads deletions (`sobjects/T/deleted`) only for windows of a whole
minute or more, as a scheduled (hourly) sync always has them.

After each run it times one search (the search index takes what the run changed in place; a
first import makes it reload). Afterwards each server is restarted on the store its import wrote
(`--no-restart` skips it): the time until healthy (the server loads every account's search index
before it serves), the RSS after one lookup by Salesforce id (the embedded engine's in-memory
indexes built: the store's own memory, plus the search index) and the first search.

Goals (from the issues): API calls within +3 of the minimum for a full import (the minimum is the
pages of 2,000 per object; every object's first page rides in Composite calls of at most 5
queries, so a full import can cost less); an incremental sync with nothing changed costs exactly
1 API call for all objects together, as the run recorded it and as the emulator counted it; peak
RSS of the full import at 140,000 records no more than 1.5 x that at 14,000 plus the store's own
growth (printed three times: the growth of the data directory on disk; the growth of the RSS of a
process that opens the store alone; and that plus the growth of the search index, which the
server builds as an import writes).

    python bench/sync.py                       # 20,000 / 20,000 / 100,000 (and the 10% reference)
    python bench/sync.py --scale 0.1 --settle 5 --no-restart   # a quick smoke run (~20 s)
    python bench/sync.py --profile /tmp/sync.prof   # the main server under cProfile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import os
import pstats
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import processes
from processes import (
    HOST,
    ROOT,
    Process,
    code_version,
    free_port,
    init_account,
    memory_kb,
    scratch,
)

INTEGRATION = "/api/v1/integrations/salesforce"
CALLBACK_PATH = "/oauth/salesforce/callback"
BENCH_CALLBACK_PATH = "/bench/ids"  # the bench's own OAuth grant (to find record ids)
API_VERSION = "66.0"
PAGE = 2000  # records per query page, Salesforce's and the emulator's

FULL_OPPORTUNITIES = 20_000
FULL_CASES = 20_000
FULL_ACTIVITIES = 100_000


# --- What is seeded ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    opportunities: int
    cases: int
    activities: int

    @classmethod
    def scaled(cls, scale: float) -> Seed:
        return cls(
            max(1, round(FULL_OPPORTUNITIES * scale)),
            max(1, round(FULL_CASES * scale)),
            max(1, round(FULL_ACTIVITIES * scale)),
        )

    @property
    def total(self) -> int:
        return self.opportunities + self.cases + self.activities

    def per_object(self) -> dict[str, int]:
        return {"Opportunity": self.opportunities, "Case": self.cases, "Task": self.activities}

    def argument(self) -> str:
        return f"opportunities={self.opportunities},cases={self.cases},activities={self.activities}"

    def describe(self) -> str:
        return (
            f"{self.opportunities:,} opportunities, {self.cases:,} cases, "
            f"{self.activities:,} activities ({self.total:,} records)"
        )


def minimum_calls(per_object: dict[str, int]) -> int:
    """Pages of 2,000 per object; an object with nothing to read still costs one query."""
    return sum(max(1, math.ceil(n / PAGE)) for n in per_object.values())


# --- Processes --------------------------------------------------------------------------------


def data_memory_kb(data_dir: Path) -> tuple[int, int]:
    """The memory the data itself takes, in a fresh process (no server) with the server
    stopped (one process at a time): the RSS once it has opened the embedded store (the engine
    builds its in-memory indexes as it opens), and the bytes the search index of every account
    holds (server/tree_index.py; counted by tracemalloc, since RSS would hide it in memory the
    engine's start freed)."""
    out = subprocess.run(
        [sys.executable, __file__, "--data-memory", str(data_dir)],
        capture_output=True, text=True, check=True, env=clean_env(),
    )  # fmt: skip
    engine, index = out.stdout.strip().splitlines()[-1].split()
    return int(engine), int(index)


def print_data_memory(data_dir: Path) -> None:
    import tracemalloc

    from server.accounts import Accounts
    from server.store import open_embedded
    from server.tree import Tree

    async def measure() -> tuple[int, int]:
        store = await open_embedded(data_dir)
        try:
            engine = memory_kb("self").get("VmRSS", 0)
            tree = Tree(store, Accounts(store))
            tracemalloc.start()
            await tree.load_indexes()
            index_bytes = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            return engine, index_bytes // 1024
        finally:
            await store.close()

    print(*asyncio.run(measure()))


def start_process(name: str, args: Sequence[str], env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(
            list(args), cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    return Process(name, popen, log)


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TIMETRAIL_", "REQUESTS_", "SSL_CERT_", "HTTP_PROXY", "HTTPS_PROXY"))
    }


@dataclass
class Emulator:
    process: Process
    login_url: str
    instance_url: str
    client_id: str
    client_secret: str
    ca_file: Path
    seeded_in: float

    @property
    def control_url(self) -> str:
        return f"{self.instance_url}/__control"


def start_emulator(seed: Seed, workdir: Path, server_port: int) -> Emulator:
    """The emulator in its own process, with its access log on (the API calls by endpoint)."""
    ca_file = workdir / "salesforce-emulator-ca.pem"
    login_port, instance_port = free_port(), free_port()
    command = [sys.executable, "-m", "salesforce_emulator", "--seed", seed.argument()]
    command += ["--login-port", str(login_port), "--instance-port", str(instance_port)]
    command += ["--ca-file", str(ca_file), "--access-log"]
    for path in (CALLBACK_PATH, BENCH_CALLBACK_PATH):
        command += ["--redirect-uri", f"http://{HOST}:{server_port}{path}"]
    started = time.perf_counter()
    process = start_process("emulator", command, {**clean_env(), "PYTHONUNBUFFERED": "1"}, workdir)
    printed: dict[str, str] = {}
    while "control API" not in printed:
        if process.popen.poll() is not None:
            raise RuntimeError(f"the emulator exited:\n{process.log_tail()}")
        if time.perf_counter() - started > 300:
            process.stop()
            raise RuntimeError(f"the emulator was not ready after 300 s:\n{process.log_tail()}")
        time.sleep(0.1)
        for line in process.log_text().splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and key in ("login URL", "instance URL", "client id", "client secret"):
                printed[key] = value.strip()
            elif line.strip().startswith("control API:"):
                printed["control API"] = line.split(":", 1)[1].strip()
    return Emulator(
        process,
        printed["login URL"],
        printed["instance URL"],
        printed["client id"],
        printed["client secret"],
        ca_file,
        time.perf_counter() - started,
    )


def server_env(data_dir: Path, emulator: Emulator | None, port: int) -> dict[str, str]:
    env = clean_env()
    env["PYTHONUNBUFFERED"] = "1"
    env["TIMETRAIL_DATA_DIR"] = str(data_dir)
    env["TIMETRAIL_PUBLIC_URL"] = f"http://{HOST}:{port}"
    if emulator is not None:
        env["TIMETRAIL_SALESFORCE_CLIENT_ID"] = emulator.client_id
        env["TIMETRAIL_SALESFORCE_CLIENT_SECRET"] = emulator.client_secret
        env["TIMETRAIL_SALESFORCE_LOGIN_URL"] = emulator.login_url
        env["TIMETRAIL_SALESFORCE_CA_BUNDLE"] = str(emulator.ca_file)
        env["TIMETRAIL_SALESFORCE_API_VERSION"] = API_VERSION
    return env


def start_server(
    data_dir: Path,
    emulator: Emulator,
    port: int,
    workdir: Path,
    profile: Path | None,
    name: str = "server",
) -> Process:
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "server", "serve", "--port", str(port)]
    return start_process(name, command, server_env(data_dir, emulator, port), workdir)


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk below `path` (what `du` counts)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


# --- Emulator access log: API calls by endpoint -------------------------------------------------

_REQUEST = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/[\d.]+"')


def rest_calls(log_text: str) -> dict[str, int]:
    """REST requests in an access log by kind: query (first pages), more (later pages),
    deleted, composite (one API call each), batch (`composite/batch`: an API call per
    subrequest, which the log does not show; the emulator's counter does), other (anything
    else under /services/data/)."""
    kinds = {"query": 0, "more": 0, "deleted": 0, "composite": 0, "batch": 0, "other": 0}
    for match in _REQUEST.finditer(log_text):
        path = urlsplit(match.group(2)).path.rstrip("/")
        if not path.startswith("/services/data/"):
            continue
        if path.endswith(("/query", "/queryAll")):
            kinds["query"] += 1
        elif "/query/" in path or "/queryAll/" in path:
            kinds["more"] += 1
        elif path.endswith("/deleted"):
            kinds["deleted"] += 1
        elif path.endswith("/composite/batch"):
            kinds["batch"] += 1
        elif path.endswith("/composite"):
            kinds["composite"] += 1
        else:
            kinds["other"] += 1
    return kinds


def describe_calls(kinds: dict[str, int]) -> str:
    names = {
        "composite": "composite",
        "batch": "composite batch",
        "query": "query",
        "more": "next page",
        "deleted": "deleted",
        "other": "other",
    }
    parts = [f"{kinds[k]} {name}" for k, name in names.items() if kinds[k]]
    return ", ".join(parts) or "none"


# --- Measuring ----------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    records: int  # records that are new or changed in Salesforce for this run
    status: str
    error: str | None
    wall: float  # the run's own start to end (server clock), seconds
    counts: dict[str, int]
    api_calls: int  # as the run recorded them
    emulator_calls: int  # as the emulator counted them in the same window
    breakdown: dict[str, int]
    minimum: int
    peak_rss_kb: int
    server_cpu: float  # CPU seconds
    emulator_cpu: float
    store_bytes: int
    search_after: float = math.nan  # one search right after the run (the index takes the changes)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.records / self.wall if self.wall > 0 else math.nan


@dataclass
class World:
    """One emulator, one server on a fresh data directory, and the clients that drive them."""

    seed: Seed
    workdir: Path
    data_dir: Path
    emulator: Emulator
    server: Process
    port: int
    token: str
    results: list[Result] = field(default_factory=list)
    start_rss_kb: int = 0
    engine_rss_kb: int = 0  # the embedded store alone, after the runs (see data_memory_kb)
    index_kb: int = 0  # what its search index holds
    last_started: float = 0.0  # the previous run's start (epoch seconds, server clock)
    restart: Restart | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Clients:
    server: httpx2.AsyncClient
    salesforce: httpx2.AsyncClient  # trusts the emulator's CA; the administrator's browser too


def open_clients(world: World) -> Clients:
    context = ssl.create_default_context(cafile=str(world.emulator.ca_file))
    return Clients(
        httpx2.AsyncClient(
            base_url=world.base,
            headers={"Authorization": f"Bearer {world.token}"},
            trust_env=False,
            timeout=120,
        ),
        httpx2.AsyncClient(verify=context, follow_redirects=True, trust_env=False, timeout=120),
    )


async def wait_healthy(world: World, clients: Clients, give_up_after: float = 120.0) -> float:
    async def answers() -> bool:
        try:
            return (await clients.server.get("/healthz")).status_code == 200
        except httpx2.HTTPError:
            return False

    return await processes.wait_healthy(world.server, answers, give_up_after)


async def emulator_calls(world: World, clients: Clients) -> int:
    r = await clients.salesforce.get(f"{world.emulator.control_url}/api-calls")
    r.raise_for_status()
    return int(r.json()["api_calls"])


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def wait_run(
    world: World, clients: Clients, run_id: str | None, trigger: str, give_up_after: float
) -> dict[str, Any] | None:
    """Poll the run (or, without an id, the newest run of `trigger`) until it ends; print progress
    every 15 s. None when it did not end within `give_up_after` seconds."""
    started = time.perf_counter()
    next_report = started + 15
    cpu0 = world.server.cpu_seconds()
    calls0 = await emulator_calls(world, clients)
    while True:
        if world.server.popen.poll() is not None:
            raise RuntimeError(f"the server exited:\n{world.server.log_tail()}")
        if run_id is None:
            r = await clients.server.get(f"{INTEGRATION}/runs", params={"limit": "1"})
            r.raise_for_status()
            items = r.json()["items"]
            run = items[0] if items and items[0]["trigger"] == trigger else None
        else:
            r = await clients.server.get(f"{INTEGRATION}/runs/{run_id}")
            r.raise_for_status()
            run = r.json()
        if run is not None and run["status"] != "running":
            world.last_started = parse_time(run["started_at"])
            return dict(run)
        now = time.perf_counter()
        if now >= next_report:
            next_report = now + 15
            calls = await emulator_calls(world, clients) - calls0
            cpu = (world.server.cpu_seconds() - cpu0) / (now - started)
            rss = world.server.memory_kb().get("VmRSS", 0) / 1024
            print(
                f"    … {now - started:.0f} s: {calls} API calls so far (about "
                f"{calls * PAGE:,} records read at most), server CPU {cpu:.0%}, RSS {rss:.0f} MB",
                flush=True,
            )
        if now - started > give_up_after:
            return None
        await asyncio.sleep(0.5)


async def measure_run(
    world: World,
    clients: Clients,
    scenario: str,
    trigger: str,
    records: int,
    minimum: int,
    give_up_after: float,
) -> Result:
    """Start a run (`connect`: the OAuth round trip, which starts the first import; otherwise a
    forced sync) and measure it."""
    log_offset = len(world.emulator.process.log_text())
    calls_before = await emulator_calls(world, clients)
    cpu_server, cpu_emulator = world.server.cpu_seconds(), world.emulator.process.cpu_seconds()
    started = time.perf_counter()
    run_id: str | None = None
    if trigger == "connect":
        r = await clients.server.post(f"{INTEGRATION}/connect")
        r.raise_for_status()
        page = await clients.salesforce.get(r.json()["authorize_url"])
        if page.status_code != 200:
            raise RuntimeError(f"connecting failed: HTTP {page.status_code}: {page.text[:500]}")
    else:
        r = await clients.server.post(f"{INTEGRATION}/sync")
        r.raise_for_status()
        run_id = r.json()["run"]["id"]
    run = await wait_run(world, clients, run_id, trigger, give_up_after)
    elapsed = time.perf_counter() - started
    calls = await emulator_calls(world, clients) - calls_before
    memory = world.server.memory_kb()
    breakdown = rest_calls(world.emulator.process.log_text()[log_offset:])
    # What every result says, finished or not.
    result = functools.partial(
        Result,
        scenario=scenario,
        emulator_calls=calls,
        breakdown=breakdown,
        minimum=minimum,
        peak_rss_kb=memory.get("VmHWM", 0),
        server_cpu=world.server.cpu_seconds() - cpu_server,
        emulator_cpu=world.emulator.process.cpu_seconds() - cpu_emulator,
        store_bytes=disk_usage(world.data_dir),
    )
    if run is None:
        # Not finished: how far it got, from what the emulator served.
        pages = breakdown["composite"] + breakdown["query"] + breakdown["more"]
        return result(
            records=min(records, pages * PAGE),
            status="unfinished",
            error=f"not done after {give_up_after:.0f} s",
            wall=elapsed,
            counts={},
            api_calls=0,
            note="records = pages served x 2,000 (an upper bound); wall = time waited",
        )
    wall = parse_time(run["finished_at"]) - parse_time(run["started_at"])
    search_after = await timed_search(clients, give_up_after)
    note = ""
    if trigger == "connect":
        note = (
            f"connect round trip + import {elapsed:.1f} s; emulator calls include the "
            "connection's API-access check"
        )
    return result(
        records=records,
        status=str(run["status"]),
        error=run.get("error"),
        wall=wall,
        counts=dict(run["counts"]),
        api_calls=int(run["api_calls"]),
        search_after=search_after,
        note=note,
    )


async def timed_search(clients: Clients, give_up_after: float) -> float:
    """Seconds one administrator's search takes (the first after a run pays for what the run
    changed in the search index)."""
    started = time.perf_counter()
    r = await clients.server.get(
        "/api/v1/tasks", params={"q": "deal", "limit": "1"}, timeout=give_up_after
    )
    r.raise_for_status()
    return time.perf_counter() - started


async def bench_token(world: World, clients: Clients) -> str:
    """An access token of the bench's own, through the emulator's OAuth flow (no PKCE), to query
    the ids of the records it changes. Its calls are made outside every measured window."""
    redirect_uri = f"http://{HOST}:{world.port}{BENCH_CALLBACK_PATH}"
    r = await clients.salesforce.get(
        f"{world.emulator.login_url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": world.emulator.client_id,
            "redirect_uri": redirect_uri,
        },
        follow_redirects=False,
    )
    location = r.headers.get("location", "")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if r.status_code != 302 or not code:
        raise RuntimeError(f"the bench's authorization failed: {r.status_code} {r.text[:300]}")
    r = await clients.salesforce.post(
        f"{world.emulator.login_url}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": world.emulator.client_id,
            "client_secret": world.emulator.client_secret,
        },
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


async def record_ids(world: World, clients: Clients, token: str, soql: str) -> list[str]:
    r = await clients.salesforce.get(
        f"{world.emulator.instance_url}/services/data/v{API_VERSION}/query",
        params={"q": soql},
        headers={"Authorization": f"Bearer {token}"},
    )
    r.raise_for_status()
    return [str(record["Id"]) for record in r.json()["records"]]


@dataclass
class Change:
    what: str
    method: str
    path: str  # below the control URL, with {id}
    body: dict[str, Any]
    ids: list[str]


async def plan_changes(world: World, clients: Clients, fraction: float) -> list[Change]:
    """`fraction` of each object's records, open ones: opportunities to rename, cases to close,
    activities to complete."""
    token = await bench_token(world, clients)
    n = world.seed.per_object()

    def share(count: int) -> int:
        return min(PAGE, max(1, round(count * fraction)))

    async def open_ids(sobject: str) -> list[str]:
        soql = f"SELECT Id FROM {sobject} WHERE IsClosed = false LIMIT {share(n[sobject])}"
        return await record_ids(world, clients, token, soql)

    rename = {"Name": "Renamed deal {i}"}
    return [
        Change(
            "opportunities renamed", "PATCH", "records/{id}", rename, await open_ids("Opportunity")
        ),
        Change("cases closed", "POST", "records/{id}/close", {}, await open_ids("Case")),
        Change("activities completed", "POST", "records/{id}/close", {}, await open_ids("Task")),
    ]


async def apply_changes(world: World, clients: Clients, changes: list[Change]) -> float:
    """One control-API call a record (the control API has no bulk endpoint), 16 at a time."""
    started = time.perf_counter()
    limit = asyncio.Semaphore(16)
    failures: list[str] = []

    async def one(change: Change, i: int, record_id: str) -> None:
        body = {k: v.format(i=i) if isinstance(v, str) else v for k, v in change.body.items()}
        url = f"{world.emulator.control_url}/{change.path.format(id=record_id)}"
        async with limit:
            r = await clients.salesforce.request(change.method, url, json=body)
        if r.status_code >= 300 and len(failures) < 5:
            failures.append(f"{change.what} {record_id}: {r.status_code} {r.text[:200]}")

    await asyncio.gather(
        *(one(c, i, record_id) for c in changes for i, record_id in enumerate(c.ids))
    )
    if failures:
        raise RuntimeError("changing records failed:\n" + "\n".join(failures))
    return time.perf_counter() - started


async def settle(world: World, seconds: float) -> None:
    """Until `seconds` after the previous run started: its deletions cursor is at most its start,
    so the next run's window of deletions is then a whole minute, as a scheduled sync's is."""
    wait = world.last_started + seconds - time.time()
    if wait > 0:
        print(
            f"    waiting {wait:.0f} s (a minute since the last run started, as a scheduled sync)"
        )
        await asyncio.sleep(wait)


async def run_world(world: World, args: argparse.Namespace, full_only: bool) -> None:
    clients = open_clients(world)
    try:
        ready = await wait_healthy(world, clients)
        world.start_rss_kb = world.server.memory_kb().get("VmRSS", 0)
        print(
            f"  server pid {world.server.pid} healthy after {ready:.1f} s "
            f"(RSS {world.start_rss_kb / 1024:.0f} MB); emulator pid "
            f"{world.emulator.process.pid} seeded and ready in {world.emulator.seeded_in:.1f} s",
            flush=True,
        )
        changes = [] if full_only else await plan_changes(world, clients, args.change)
        seed = world.seed
        label = f"full import ({seed.total:,} records)"
        print(f"  {label} …", flush=True)
        full = await measure_run(
            world, clients, label, "connect", seed.total,
            minimum_calls(seed.per_object()), args.run_timeout,
        )  # fmt: skip
        world.results.append(full)
        report(full)
        if full_only or full.status != "succeeded":
            return

        changed = {"Opportunity": 0, "Case": 0, "Task": 0}
        for change, sobject in zip(changes, ("Opportunity", "Case", "Task"), strict=True):
            changed[sobject] = len(change.ids)
        print(
            f"  changing {sum(changed.values()):,} records through the control API "
            f"({', '.join(f'{len(c.ids):,} {c.what}' for c in changes)}) …",
            flush=True,
        )
        took = await apply_changes(world, clients, changes)
        print(
            f"    {sum(changed.values()):,} HTTP calls in {took:.1f} s "
            f"({sum(changed.values()) / took:,.0f}/s; the control API has no bulk endpoint)"
        )
        await settle(world, args.settle)
        label = f"incremental, {args.change:.0%} changed"
        print(f"  {label} …", flush=True)
        incremental = await measure_run(
            world, clients, label, "force", sum(changed.values()),
            minimum_calls(changed), args.run_timeout,
        )  # fmt: skip
        world.results.append(incremental)
        report(incremental)

        await settle(world, args.settle)
        label = "incremental, nothing changed"
        print(f"  {label} …", flush=True)
        nothing = await measure_run(
            world, clients, label, "force", 0,
            minimum_calls(dict.fromkeys(changed, 0)), args.run_timeout,
        )  # fmt: skip
        world.results.append(nothing)
        report(nothing)
    finally:
        await clients.server.aclose()
        await clients.salesforce.aclose()


def report(r: Result) -> None:
    error = f" ({r.error})" if r.error else ""
    print(
        f"    {r.status}{error}: {r.wall:.1f} s, {r.rate:,.0f} records/s, counts {r.counts}, "
        f"API calls {r.api_calls} (emulator {r.emulator_calls}: {describe_calls(r.breakdown)}), "
        f"minimum {r.minimum}, peak RSS {r.peak_rss_kb / 1024:.0f} MB, "
        f"first search after it {r.search_after * 1000:,.0f} ms",
        flush=True,
    )


@dataclass
class Restart:
    """A server started again on the store an import wrote."""

    ready_seconds: float = math.nan  # until healthy
    store_rss_kb: int = 0  # after one lookup of a task by source id (the engine's indexes built)
    store_seconds: float = math.nan
    search_rss_kb: int = 0  # after one search (the account's tree loaded into the search index)
    search_seconds: float = math.nan
    error: str | None = None


async def at_rest(world: World, give_up_after: float) -> Restart:
    """Healthy; then one lookup by Salesforce id, which makes the embedded engine build its
    in-memory indexes of the tasks (RSS then: the store's own memory with this data); then one
    search as the administrator, which loads the account's tree into the search index."""
    clients = open_clients(world)
    restart = Restart()
    try:
        restart.ready_seconds = await wait_healthy(world, clients)
        started = time.perf_counter()
        r = await clients.server.get(
            "/api/v1/tasks/by-source",
            params={"system": "salesforce", "id": "006000000000001"},
            timeout=give_up_after,
        )
        if r.status_code not in (200, 404):
            raise RuntimeError(f"lookup by source: HTTP {r.status_code}: {r.text[:300]}")
        restart.store_seconds = time.perf_counter() - started
        restart.store_rss_kb = world.server.memory_kb().get("VmRSS", 0)
        restart.search_seconds = await timed_search(clients, give_up_after)
        restart.search_rss_kb = world.server.memory_kb().get("VmRSS", 0)
    except (RuntimeError, httpx2.HTTPError) as error:
        restart.error = f"{type(error).__name__}: {str(error)[-300:]}"
    finally:
        await clients.server.aclose()
        await clients.salesforce.aclose()
    return restart


def describe_restart(r: Restart) -> str:
    if r.error is not None:
        return f"failed: {r.error}"
    return (
        f"healthy in {r.ready_seconds:.1f} s; one lookup by Salesforce id {r.store_seconds:.1f} s, "
        f"RSS then {mb(r.store_rss_kb)}; first search {r.search_seconds:.1f} s, "
        f"RSS then {mb(r.search_rss_kb)}"
    )


def run_scale(
    seed: Seed, args: argparse.Namespace, workdir: Path, full_only: bool, profile: Path | None
) -> World:
    workdir.mkdir(parents=True)
    data_dir = workdir / "data"
    port = free_port()
    print(f"\n{'Reference' if full_only else 'Main'} run: {seed.describe()}", flush=True)
    emulator = start_emulator(seed, workdir, port)
    server: Process | None = None
    try:
        token = init_account(server_env(data_dir, None, port))
        server = start_server(data_dir, emulator, port, workdir, profile)
        world = World(seed, workdir, data_dir, emulator, server, port, token)
        asyncio.run(run_world(world, args, full_only))
        server.stop(timeout=120 if profile else 30)
        world.engine_rss_kb, world.index_kb = data_memory_kb(data_dir)
        if args.no_restart:
            return world
        server = start_server(data_dir, emulator, port, workdir, None, "server-restarted")
        world.server = server
        print("  restarting the server on the same store …", flush=True)
        world.restart = asyncio.run(at_rest(world, args.run_timeout))
        print(f"    {describe_restart(world.restart)}", flush=True)
        if world.restart.error is not None:
            print(server.log_tail(5), flush=True)
        return world
    finally:
        if server is not None:
            server.stop(timeout=120 if profile else 30)
        emulator.process.stop()


# --- Report -----------------------------------------------------------------------------------


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def print_table(results: list[Result]) -> None:
    header = (
        f"{'scenario':<40} {'records':>8} {'wall s':>7} {'rec/s':>7} {'created':>8} "
        f"{'updated':>8} {'archived':>8} {'restored':>8} {'API':>5} {'emu':>5} {'min':>5} "
        f"{'peak RSS':>9} {'srv CPU':>8} {'emu CPU':>8}"
    )
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        c = r.counts
        rate = f"{r.rate:,.0f}" if r.records else "-"
        print(
            f"{r.scenario:<40} {r.records:>8,} {r.wall:>7.1f} {rate:>7} "
            f"{c.get('created', 0):>8,} {c.get('updated', 0):>8,} {c.get('archived', 0):>8,} "
            f"{c.get('restored', 0):>8,} {r.api_calls:>5} {r.emulator_calls:>5} {r.minimum:>5} "
            f"{mb(r.peak_rss_kb):>9} {r.server_cpu / r.wall if r.wall else 0:>8.0%} "
            f"{r.emulator_cpu / r.wall if r.wall else 0:>8.0%}"
        )
    print(
        "records: new or changed in Salesforce; wall: the run's start to end (server clock); "
        "API: calls the run\nrecorded; emu: calls the emulator counted meanwhile; min: pages of "
        "2,000 per object (one query per\nobject at least); peak RSS: the server's VmHWM after "
        "the run; CPU: per wall second (100% = one core)."
    )
    for r in results:
        line = f"  {r.scenario}: {describe_calls(r.breakdown)}"
        if r.status != "succeeded":
            line += f"; {r.status}: {r.error}"
        if r.note:
            line += f"; {r.note}"
        print(line)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_goals(main: World, reference: World | None) -> None:
    print("\nGoals (printed, not asserted):")
    full = main.results[0]
    if full.status == "succeeded":
        print(
            f"  full import: {full.api_calls} API calls recorded, {full.emulator_calls} counted by "
            f"the emulator (with the connection's API-access check), minimum {full.minimum} "
            f"(goal <= minimum + 3): {verdict(full.api_calls <= full.minimum + 3)}"
        )
    else:
        print(f"  full import: {full.status} ({full.error}); API-call goal not measured")
    nothing = next((r for r in main.results if r.scenario.endswith("nothing changed")), None)
    if nothing is not None:
        idle = nothing.api_calls == nothing.emulator_calls == 1
        print(
            f"  incremental, nothing changed: {nothing.api_calls} API calls recorded, "
            f"{nothing.emulator_calls} counted by the emulator "
            f"({describe_calls(nothing.breakdown)}) (goal = 1): {verdict(idle)}"
        )
    if reference is None or not reference.results:
        print("  peak RSS: no reference run (--no-reference)")
        return
    small = reference.results[0]
    growth = max(0, full.store_bytes - small.store_bytes)
    limit = 1.5 * small.peak_rss_kb * 1024 + growth
    peak = full.peak_rss_kb * 1024
    print(
        f"  peak RSS of the full import: {peak / 2**20:,.0f} MB at {main.seed.total:,} records vs "
        f"{small.peak_rss_kb / 1024:,.0f} MB at {reference.seed.total:,};\n"
        f"    store on disk {small.store_bytes / 2**20:,.1f} MB -> {full.store_bytes / 2**20:,.1f} "
        f"MB (growth {growth / 2**20:,.1f} MB); goal <= 1.5 x {small.peak_rss_kb / 1024:,.0f} "
        f"+ {growth / 2**20:,.1f} = {limit / 2**20:,.0f} MB: {verdict(peak <= limit)}"
    )
    print(
        f"    server RSS at start (empty store): {mb(main.start_rss_kb)} main, "
        f"{mb(reference.start_rss_kb)} reference; peak RSS above it: "
        f"{mb(full.peak_rss_kb - main.start_rss_kb)} vs "
        f"{mb(small.peak_rss_kb - reference.start_rss_kb)}"
    )
    if not (reference.engine_rss_kb and main.engine_rss_kb):
        return
    engine_kb = max(0, main.engine_rss_kb - reference.engine_rss_kb)
    index_kb = max(0, main.index_kb - reference.index_kb)
    for label, growth_kb in (
        (f"the store's growth in memory instead (a process opening the store alone: "
         f"{mb(reference.engine_rss_kb)} -> {mb(main.engine_rss_kb)} RSS, growth {mb(engine_kb)})",
         engine_kb),
        (f"counting the search index the server builds as the import writes with the store "
         f"(it holds {mb(reference.index_kb)} -> {mb(main.index_kb)}, growth {mb(index_kb)})",
         engine_kb + index_kb),
    ):  # fmt: skip
        memory_limit = 1.5 * small.peak_rss_kb * 1024 + growth_kb * 1024
        print(
            f"    {label}:\n    goal <= 1.5 x {small.peak_rss_kb / 1024:,.0f} + "
            f"{growth_kb / 1024:,.0f} = {memory_limit / 2**20:,.0f} MB: "
            f"{verdict(peak <= memory_limit)}"
        )


def print_restarts(worlds: list[World]) -> None:
    """Not a goal: what the data costs a server that starts on it."""
    rows = [w for w in worlds if w.restart is not None]
    if not rows:
        return
    print("\nA server restarted on the store the import wrote:")
    for w in rows:
        assert w.restart is not None
        print(f"  {w.seed.total:,} records: {describe_restart(w.restart)}")


def print_profile(path: Path, lines: int) -> None:
    if not path.exists():
        print(f"\nNo profile at {path} (the server did not save one)")
        return
    for order in ("tottime", "cumulative"):
        print(f"\nServer profile ({path}), top {lines} by {order}:")
        stats = pstats.Stats(str(path))
        stats.strip_dirs().sort_stats(order).print_stats(lines)


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of 20,000 opportunities / 20,000 cases / 100,000 activities (default 1)",
    )
    parser.add_argument(
        "--reference-scale",
        type=float,
        default=0.1,
        help="the peak-RSS reference run, as a fraction of --scale (default 0.1)",
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the peak-RSS reference run"
    )
    parser.add_argument(
        "--change", type=float, default=0.01, help="fraction of each object changed (default 0.01)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=61.0,
        help="seconds between a run's end and the next incremental sync (default 61)",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=900.0,
        help="give up waiting for a run after this many seconds (default 900)",
    )
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="skip restarting each server on its store (RSS at rest, first search's time)",
    )
    parser.add_argument(
        "--profile", type=Path, help="run the main server under cProfile, saving the stats here"
    )
    parser.add_argument(
        "--profile-lines", type=int, default=30, help="profile lines to print (default 30)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directories and logs (path printed)"
    )
    parser.add_argument("--data-memory", type=Path, help=argparse.SUPPRESS)  # data_memory_kb
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.reference_scale <= 0 or not 0 < args.change <= 1:
        parser.error("--scale and --reference-scale must be positive, --change in (0, 1]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data_memory is not None:
        print_data_memory(args.data_memory)
        return 0
    with scratch("timetrail-sync-bench-", args.keep) as workdir:
        reference: World | None = None
        print(
            f"Server code: {code_version()}; {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        if not args.no_reference:
            reference_seed = Seed.scaled(args.scale * args.reference_scale)
            reference = run_scale(
                reference_seed, args, workdir / "reference", full_only=True, profile=None
            )
        main_world = run_scale(
            Seed.scaled(args.scale), args, workdir / "main", full_only=False, profile=args.profile
        )
        if reference is not None and reference.results:
            reference.results[0].scenario = f"reference {reference.results[0].scenario}"
        print_table([*(reference.results if reference else []), *main_world.results])
        print_goals(main_world, reference)
        print_restarts([w for w in (reference, main_world) if w is not None])
        if args.profile is not None:
            print_profile(args.profile, args.profile_lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
