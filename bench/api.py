"""API benchmark: the real server on the embedded store against a bare aiohttp baseline.

Seeds one account, N users and N tasks (a tree of projects, tasks and subtasks with realistic
names), starts `python -m server serve` and a bare aiohttp app (one constant JSON handler) as
separate processes, and drives both with concurrent aiohttp clients from this process:

- `GET /` on the bare app (the baseline),
- `GET /api/v1/timer` (half of the users have a timer running),
- `POST /api/v1/timer/start` + `POST /api/v1/timer/stop` pairs, each client on its own users
  (bodies encoded once per client), and the very same requests against a bare handler answering
  a body of the same size: how many of them this load generator can send at all, and against
  `store_floor.py`, which does only the store's reads and writes of each (what the store costs),
- `GET /api/v1/tasks?q=` with a fixed list of queries, as the administrator and as regular users,
  with all clients and with one client (the service time of a search, without queueing),
- the bare app again at the end (the ratios use the mean of the two bare runs),
- `GET /api/v1/timer` from a few clients while 5 clients ask for reports over a year of
  50,000 entries (JSON and CSV, by task, project, user and day), and the same timer clients alone:
  one report must not stall every other request;
- one client asking for those reports back to back (a report's own latency), and one opening
  the web Reports page over the year (every table, both charts: one pass over the entries).

The data is seeded through the domain code (`Services`) in this process before the server starts
on the same data directory (the embedded store admits one process at a time).

It prints requests/s, p50/p99 latency and each scenario's throughput as a ratio of the baseline,
plus the CPU used by the server and by this load generator during each scenario (on a 2-core
machine the load generator can be the limit for the fast baseline). It never asserts on time.

Goals (from the issues): reading the timer at >= 0.35 of the bare baseline, start + stop pairs
at >= 0.45 (issue 13); search p99 < 50 ms at
20,000 tasks; `GET /timer` p99 < 50 ms while 5 reports over 50,000 entries run; a report over
50,000 entries (API or web page) answers in < 300 ms.

    python bench/api.py                                  # defaults: 20,000 tasks, 200 users
    python bench/api.py --tasks 2000 --users 20 --duration 2   # a quick smoke run
    python bench/api.py --only reports                   # the reports scenario alone
    python bench/api.py --only pairs                     # the timer pairs (and the bare runs) alone
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import processes
from argon2 import PasswordHasher
from processes import (
    ADMIN_EMAIL,
    HOST,
    PASSWORD,
    ROOT,
    Process,
    code_version,
    free_port,
    init_account,
    scratch,
)

from server import clock, security
from server.accounts import USER
from server.ids import new_id
from server.services import Services
from server.settings import Settings
from server.store import Store, open_embedded
from server.tree import REGULAR
from server.web.session import COOKIE, CSRF_FIELD

SEED = 20260701

# --- Realistic names --------------------------------------------------------------------------

COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Wonka",
    "Cyberdyne", "Soylent", "Tyrell", "Aperture", "Oscorp", "Contoso", "Fabrikam", "Northwind",
    "Litware", "Tailspin", "Wingtip", "Proseware", "Lakeshore", "Bluebird", "Redwood", "Silverline",
    "Brightwater", "Ironclad", "Summit", "Keystone", "Harbor", "Pinnacle", "Evergreen", "Atlas",
    "Meridian", "Nimbus", "Orion", "Sterling", "Vertex", "Zenith", "Halcyon",
)  # fmt: skip
INITIATIVES = (
    "Renewal", "Onboarding", "Migration", "Rollout", "Implementation", "Upgrade", "Expansion",
    "Audit", "Integration", "Pilot", "Support", "Redesign", "Consolidation", "Launch",
)  # fmt: skip
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
YEARS = ("2025", "2026", "2027")
ACTIONS = (
    "Discovery", "Design", "Build", "Test", "Review", "Deploy", "Train", "Migrate", "Configure",
    "Document", "Plan", "Estimate", "Negotiate", "Prepare", "Validate", "Clean up", "Automate",
    "Analyse", "Refine", "Sign off",
)  # fmt: skip
OBJECTS = (
    "contract", "pricing", "workshop", "dashboard", "integration", "reports", "data model",
    "permissions", "approval flow", "email templates", "user training", "go-live", "handover",
    "invoices", "forecast", "lead scoring", "case routing", "territories", "quotes", "SSO",
    "data migration", "API limits", "sandbox", "release notes", "backlog", "requirements",
)  # fmt: skip
QUALIFIERS = (
    "", "", "", "", "", "Phase 1", "Phase 2", "EMEA", "APAC", "Americas", "v2", "follow-up",
    "for finance", "for sales", "for support",
)  # fmt: skip
SUBTASKS = (
    "Call with {person}", "Meeting with {person}", "Draft {thing}", "Fix {thing}",
    "Follow up on {thing}", "Prepare {thing} demo", "Write {thing} notes", "Update {thing}",
    "Check {thing} with {person}", "Estimate {thing}",
)  # fmt: skip
PEOPLE = (
    "Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi",
    "Lena", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko",
)  # fmt: skip
SURNAMES = (
    "Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Huber", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Silva",
    "Tanaka",
)  # fmt: skip

# One or two words, whole words and prefixes, as people type them into a search box.
QUERIES = (
    "acme", "acm", "renewal", "renew q3", "acme renewal", "globex onb", "contract",
    "contract review", "migr", "data migration", "q3 2026", "workshop", "dashboard", "deploy",
    "call alice", "review", "invoices", "emea", "pricing", "sso", "go live", "train", "phase 2",
    "stark", "fix reports", "meeting", "lead sc", "sandbox",
)  # fmt: skip

BASELINE_BODY = '{"running": false, "status": "ok"}'
# What a timer start or stop answers, in size and shape (for the bare POST calibration).
TIMER_LIKE_BODY = (
    '{"entry": {"id": "6b088eb6aea19e610654f2f5", "user_id": "6b088eb6aea19e610654f2f4", '
    '"task_id": "6b088eb6aea19e610654f2f3", "task": {"id": "6b088eb6aea19e610654f2f3", '
    '"name": "Contract review", "path": ["Acme renewal", "Contracts"]}, '
    '"start": "2026-11-26T20:00:00Z", "end": null, "duration": 0, "note": "bench", '
    '"source": "api"}, "stopped": null}'
)
BASELINE_APP = f"""
import sys
from aiohttp import web

BODY = {BASELINE_BODY!r}
TIMER_LIKE = {TIMER_LIKE_BODY!r}


async def constant(request: web.Request) -> web.Response:
    return web.json_response(text=BODY)


async def timer_like(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(text=TIMER_LIKE, status=201 if request.path.endswith("start") else 200)


app = web.Application()
app.router.add_get("/", constant)
app.router.add_get("/healthz", constant)
app.router.add_post("/api/v1/timer/start", timer_like)
app.router.add_post("/api/v1/timer/stop", timer_like)
web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), access_log=None, print=None)
"""


def project_name(rng: random.Random) -> str:
    return (
        f"{rng.choice(COMPANIES)} {rng.choice(INITIATIVES)} "
        f"{rng.choice(QUARTERS)} {rng.choice(YEARS)}"
    )


def task_name(rng: random.Random) -> str:
    return " ".join(
        part for part in (rng.choice(ACTIONS), rng.choice(OBJECTS), rng.choice(QUALIFIERS)) if part
    )


def subtask_name(rng: random.Random) -> str:
    return rng.choice(SUBTASKS).format(person=rng.choice(PEOPLE), thing=rng.choice(OBJECTS))


# --- Seeding (through the store seam, before the server starts) ------------------------------


@dataclass
class BenchUser:
    id: str
    email: str
    token: str
    tasks: list[str]  # tasks this user can track

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Seeded:
    admin_token: str
    users: list[BenchUser]
    projects: int
    tasks: int
    entries: int
    seconds: float


def tree_shape(tasks: int) -> tuple[int, int, int]:
    """(projects, tasks, subtasks) adding up to `tasks`: ~400 per project, ~4 subtasks a task."""
    projects = max(1, round(tasks / 400))
    level1 = max(1, (tasks - projects) // 5)
    return projects, level1, max(0, tasks - projects - level1)


async def seed(
    data_dir: Path, admin_token: str, n_tasks: int, n_users: int, n_entries: int
) -> Seeded:
    started = time.perf_counter()
    rng = random.Random(SEED)
    settings = Settings(data_dir=data_dir)
    store = await open_embedded(data_dir)
    try:
        services = Services.build(settings, store)
        admin = await services.accounts.authenticate(admin_token)
        tree = services.tree
        n_projects, n_level1, n_level2 = tree_shape(n_tasks)

        # Projects, tasks below them, subtasks below those; created as the administrator.
        projects: list[str] = []
        below: dict[str, list[str]] = {}  # project id -> its tasks and subtasks
        level1: list[tuple[str, str]] = []  # (task id, project id)
        created = 0

        def progress() -> None:
            if created % 5000 == 0:
                print(f"  seeded {created:,} tasks ({time.perf_counter() - started:.1f} s)")

        for _ in range(n_projects):
            view = await tree.create_task(admin, project_name(rng), None)
            projects.append(view["id"])
            below[view["id"]] = []
            created += 1
            progress()
        for _ in range(n_level1):
            project = rng.choice(projects)
            view = await tree.create_task(admin, task_name(rng), project)
            level1.append((view["id"], project))
            below[project].append(view["id"])
            created += 1
            progress()
        for _ in range(n_level2):
            parent, project = rng.choice(level1)
            view = await tree.create_task(admin, subtask_name(rng), parent)
            below[project].append(view["id"])
            created += 1
            progress()

        # Users, through the domain code like `POST /api/v1/users` and a sign-in. Argon2 at its
        # production cost takes ~0.1 s a hash (~40 s for 200 users and their sign-ins) and
        # measures nothing here, so this seeding process uses the cheap parameters the test
        # suite uses; the server process keeps the production ones.
        security.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        users: list[BenchUser] = []
        per_user = min(len(projects), 5)
        for i in range(n_users):
            first, last = PEOPLE[i % len(PEOPLE)], SURNAMES[(i // len(PEOPLE)) % len(SURNAMES)]
            email = f"user{i:04d}@bench.test"
            doc = await services.accounts.create_user(
                admin, email, f"{first} {last}", PASSWORD, USER
            )
            token, _ = await services.accounts.login(email, PASSWORD)
            # Regular on a few projects each, so a user sees (and tracks) a tenth of the tree.
            mine = rng.sample(projects, per_user)
            for project in mine:
                await tree.set_member(admin, project, doc["_id"], REGULAR)
            trackable = [t for p in mine for t in below[p]] or mine
            sample = rng.sample(trackable, min(20, len(trackable)))
            users.append(BenchUser(doc["_id"], email, token, sample))
        await seed_entries(services.store, admin.account_id, users, n_entries, rng)
        return Seeded(
            admin_token, users, n_projects, created, n_entries, time.perf_counter() - started
        )
    finally:
        await store.close()


async def seed_entries(
    store: Store, account_id: str, users: list[BenchUser], n: int, rng: random.Random
) -> None:
    """`n` finished entries over the year before now, each on one of its user's tasks, 15 min
    to 4 h long. Written to the store straight, in the shape `Tracking` writes them: through
    the domain code (one request-sized write each) this would be most of the benchmark's time."""
    now = clock.now()
    batch: list[dict[str, Any]] = []
    for i in range(n):
        user = users[i % len(users)]
        start = now - dt.timedelta(seconds=rng.randrange(86_400, 365 * 86_400))
        end = start + dt.timedelta(minutes=rng.randrange(15, 240))
        batch.append(
            {
                "_id": new_id(),
                "account_id": account_id,
                "user_id": user.id,
                "task_id": rng.choice(user.tasks),
                "start": start,
                "end": end,
                "note": "",
                "source": "api",
                "created_at": end,
            }
        )
        if len(batch) == 5000 or i == n - 1:
            await store.entries.insert_many(batch)
            batch = []


# --- Processes ----------------------------------------------------------------------------------


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRAIL_")}
    env["TIMETRAIL_DATA_DIR"] = str(data_dir)
    return env


@dataclass
class Service(Process):
    """A server the benchmark drives, on a local port."""

    port: int

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


def start_process(name: str, args: Sequence[str], env: dict[str, str], logs: Path) -> Service:
    port = free_port()
    log = logs / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(
            [*args, *(["--port", str(port)] if name == "server" else [HOST, str(port)])],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return Service(name, popen, log, port)


async def wait_healthy(process: Service, give_up_after: float = 90.0) -> float:
    async with aiohttp.ClientSession() as session:

        async def answers() -> bool:
            try:
                async with session.get(f"{process.base}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        return await processes.wait_healthy(process, answers, give_up_after)


# --- Load generation ----------------------------------------------------------------------------


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def ok(self, label: str, seconds: float) -> None:
        self.latencies.setdefault(label, []).append(seconds)

    def error(self, label: str, what: str) -> None:
        self.errors[label] = self.errors.get(label, 0) + 1
        if len(self.samples) < 5:
            self.samples.append(f"{label}: {what}")


async def call(
    session: aiohttp.ClientSession,
    rec: Recorder,
    label: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: bytes | None = None,
    params: dict[str, str] | None = None,
    expect: int = 200,
) -> None:
    """One request; `data` is a body already encoded (its headers say what it is)."""
    started = time.perf_counter()
    try:
        async with session.request(
            method, url, headers=headers, json=json, data=data, params=params
        ) as resp:
            body = await resp.read()
            status = resp.status
    except aiohttp.ClientError as error:
        rec.error(label, repr(error))
        return
    if status != expect:
        rec.error(label, f"HTTP {status}: {body[:200]!r}")
        return
    rec.ok(label, time.perf_counter() - started)


Step = Callable[[aiohttp.ClientSession, Recorder, int, int], Awaitable[None]]


@dataclass
class Result:
    scenario: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # CPU-seconds per wall second (1.0 = one core busy)
    client_cpu: float
    other_cpu: float  # the rest of the machine: anything else running skews the figures
    parts: dict[str, tuple[int, float, float]]  # label -> (count, p50 ms, p99 ms)
    error_samples: list[str]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return math.nan, math.nan
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return (total - idle) / tick, total / tick


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


async def drive(step: Step, workers: int, seconds: float) -> tuple[Recorder, float]:
    rec = Recorder()
    connector = aiohttp.TCPConnector(limit=workers, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                await step(session, rec, w, i)
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        return rec, time.perf_counter() - started


async def scenario(
    name: str,
    step: Step,
    server: Service,
    *,
    workers: int,
    seconds: float,
    warmup: float,
) -> Result:
    if warmup > 0:
        await drive(step, workers, warmup)
    cpu_server, cpu_client, (busy, total) = (
        server.cpu_seconds(),
        time.process_time(),
        machine_busy(),
    )
    rec, elapsed = await drive(step, workers, seconds)
    server_cpu = (server.cpu_seconds() - cpu_server) / elapsed
    client_cpu = (time.process_time() - cpu_client) / elapsed
    busy_after, total_after = machine_busy()
    cores = (os.cpu_count() or 1) * (busy_after - busy) / max(total_after - total, 1e-9)
    other_cpu = max(0.0, cores - server_cpu - client_cpu)
    everything = sorted(x for values in rec.latencies.values() for x in values)
    parts = {}
    if len(rec.latencies) > 1:
        for label, values in rec.latencies.items():
            values.sort()
            parts[label] = (
                len(values),
                percentile(values, 0.5) * 1000,
                percentile(values, 0.99) * 1000,
            )
    result = Result(
        scenario=name,
        requests=len(everything),
        errors=sum(rec.errors.values()),
        seconds=elapsed,
        p50_ms=percentile(everything, 0.5) * 1000,
        p99_ms=percentile(everything, 0.99) * 1000,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        other_cpu=other_cpu,
        parts=parts,
        error_samples=rec.samples,
    )
    print(
        f"  {name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, {result.errors} errors",
        flush=True,
    )
    return result


# --- The scenarios ------------------------------------------------------------------------------


def baseline_step(base: str) -> Step:
    async def step(session: aiohttp.ClientSession, rec: Recorder, w: int, i: int) -> None:
        await call(session, rec, "GET /", "GET", f"{base}/")

    return step


def timer_get_step(base: str, users: list[BenchUser], workers: int) -> Step:
    async def step(session: aiohttp.ClientSession, rec: Recorder, w: int, i: int) -> None:
        user = users[(w + i * workers) % len(users)]
        await call(session, rec, "GET timer", "GET", f"{base}/api/v1/timer", headers=user.headers)

    return step


def timer_pair_step(base: str, users: list[BenchUser], workers: int) -> Step:
    """Worker w owns the users w, w + workers, w + 2*workers...: one user's timer, one client.
    Bodies and headers are encoded once, before measuring: encoding JSON per request made this
    load generator, not the server, the limit (`BARE_POST` measures what it can send)."""
    start_url, stop_url = f"{base}/api/v1/timer/start", f"{base}/api/v1/timer/stop"
    stop_body = b"{}"
    prepared = [
        (
            {**user.headers, "Content-Type": "application/json"},
            [orjson.dumps({"task_id": task, "note": "bench"}) for task in user.tasks],
        )
        for user in users
    ]

    async def step(session: aiohttp.ClientSession, rec: Recorder, w: int, i: int) -> None:
        own = prepared[w::workers]
        headers, starts = own[i % len(own)]
        await call(
            session, rec, "start", "POST", start_url,
            headers=headers, data=starts[i % len(starts)], expect=201,
        )  # fmt: skip
        await call(
            session, rec, "stop", "POST", stop_url, headers=headers, data=stop_body, expect=200
        )

    return step


def search_step(base: str, tokens: list[str], trackable: bool, workers: int) -> Step:
    params = [{"q": q, **({"trackable": "true"} if trackable else {})} for q in QUERIES]

    async def step(session: aiohttp.ClientSession, rec: Recorder, w: int, i: int) -> None:
        n = w + i * workers
        token = tokens[n % len(tokens)]
        await call(
            session, rec, "search", "GET", f"{base}/api/v1/tasks",
            headers={"Authorization": f"Bearer {token}"}, params=params[n % len(params)],
        )  # fmt: skip

    return step


# What the report clients ask for, in turn: every grouping, as JSON and as CSV.
REPORT_KINDS = (
    ("task", "json"),
    ("project", "json"),
    ("user", "json"),
    ("task", "csv"),
    ("user", "csv"),
    ("day", "json"),
)


def report_range() -> dict[str, str]:
    """The year the seeded entries are in, as dates: 366 days, the longest range allowed."""
    today = clock.now().date()
    return {
        "from": (today - dt.timedelta(days=365)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
    }


def timer_with_reports_step(
    base: str, admin_token: str, users: list[BenchUser], reporters: int, timer_clients: int
) -> Step:
    """Workers below `reporters` ask for reports over the whole year, back to back, as the
    administrator (every entry counts); the others read their users' timers. A report refused
    with 429 waits its Retry-After and counts as refused, not as an error."""
    url = f"{base}/api/v1/reports/summary"
    admin = {"Authorization": f"Bearer {admin_token}"}
    timer_users = users[: max(1, timer_clients)]

    async def step(session: aiohttp.ClientSession, rec: Recorder, w: int, i: int) -> None:
        if w >= reporters:
            user = timer_users[(w + i) % len(timer_users)]
            await call(
                session, rec, "GET timer", "GET", f"{base}/api/v1/timer", headers=user.headers
            )
            return
        group_by, fmt = REPORT_KINDS[(w + i) % len(REPORT_KINDS)]
        params = {**report_range(), "group_by": group_by, "format": fmt}
        started = time.perf_counter()
        async with session.get(url, headers=admin, params=params) as resp:
            await resp.read()
            if resp.status == 429:
                rec.ok("report refused (429)", time.perf_counter() - started)
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                return
            if resp.status != 200:
                rec.error("report", f"HTTP {resp.status}")
                return
        rec.ok("report", time.perf_counter() - started)

    return step


async def web_session(base: str, email: str) -> str:
    """Signs in on the web pages as a browser does (the form's CSRF token, then the form): the
    session cookie's value."""
    jar = aiohttp.CookieJar(unsafe=True)  # (cookies for an IP address host)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{base}/") as resp:
            found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', await resp.text())
        assert found, "no CSRF token on the sign-in page"
        form = {"email": email, "password": PASSWORD, CSRF_FIELD: found.group(1)}
        async with session.post(f"{base}/signin", data=form, allow_redirects=False) as resp:
            assert resp.status == 303, f"web sign-in: HTTP {resp.status}"
            return resp.cookies[COOKIE].value


def web_reports_step(base: str, cookie: str) -> Step:
    """The web Reports page over the seeded year (its tables and charts), as the administrator."""
    today = clock.now().date()
    params = {"from": (today - dt.timedelta(days=365)).isoformat(), "to": today.isoformat()}
    headers = {"Cookie": f"{COOKIE}={cookie}"}

    async def step(session: aiohttp.ClientSession, rec: Recorder, w: int, i: int) -> None:
        await call(
            session, rec, "web report", "GET", f"{base}/reports", headers=headers, params=params
        )

    return step


async def describe_queries(base: str, admin_token: str, user: BenchUser) -> None:
    """How many tasks each query matches, and what one search costs with nothing else running."""
    print(
        "\nQueries: matches as admin / as a regular user with trackable=true (one page of up to "
        "500),\nand the median of 3 sequential admin searches (default page of 50) in ms:"
    )
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with aiohttp.ClientSession() as session:

        async def get(params: dict[str, str], headers: dict[str, str]) -> Any:
            async with session.get(f"{base}/api/v1/tasks", params=params, headers=headers) as resp:
                body = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"search {params} failed: {resp.status} {body}")
                return body

        def count(body: Any) -> str:
            return f"{len(body['items'])}{'+' if body['next_cursor'] else ''}"

        cells: list[str] = []
        for q in QUERIES:
            as_admin = await get({"q": q, "limit": "500"}, admin)
            as_user = await get({"q": q, "limit": "500", "trackable": "true"}, user.headers)
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                await get({"q": q}, admin)
                timings.append((time.perf_counter() - started) * 1000)
            median = sorted(timings)[1]
            cells.append(f"{q!r:>17} {count(as_admin):>4}/{count(as_user):<4} {median:5.1f}")
        for start in range(0, len(cells), 3):
            print("  " + "   ".join(cells[start : start + 3]))
        # Not a measured scenario: the list a client shows before anything is typed.
        for who, params, headers in (
            ("admin", {}, admin),
            ("a regular user, trackable=true", {"trackable": "true"}, user.headers),
        ):
            started = time.perf_counter()
            await get(params, headers)
            took = (time.perf_counter() - started) * 1000
            print(f"  GET /api/v1/tasks without q as {who}: {took:.0f} ms (one request)")


async def start_some_timers(base: str, users: list[BenchUser]) -> None:
    """Half of the users have a running timer while the GET /timer scenario runs."""
    async with aiohttp.ClientSession() as session:
        for user in users[::2]:
            async with session.post(
                f"{base}/api/v1/timer/start",
                json={"task_id": user.tasks[0]},
                headers=user.headers,
            ) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"timer start failed: {resp.status} {await resp.text()}")


# --- Report -------------------------------------------------------------------------------------


BARE = "bare aiohttp GET / (constant JSON)"
BARE_AGAIN = "bare aiohttp GET / (again, at the end)"
TIMER_GET = "GET /api/v1/timer"
TIMER_PAIR = "POST timer/start + stop (pairs)"
BARE_POST = "bare aiohttp, the same POST pairs"
STORE_FLOOR = "the same pairs on the store alone"
SEARCH_ADMIN = "GET /api/v1/tasks?q= (admin)"
SEARCH_USERS = "GET /api/v1/tasks?q= (users, trackable)"
SEARCH_ADMIN_1 = "GET /api/v1/tasks?q= (admin, 1 client)"
SEARCH_USERS_1 = "GET /api/v1/tasks?q= (users, 1 client)"
TIMER_ALONE = "GET /api/v1/timer, few clients"
TIMER_WITH_REPORTS = "GET /api/v1/timer while reports run"
REPORT_ALONE = "GET /api/v1/reports/summary, 1 client"
WEB_REPORT_ALONE = "GET /reports (web page), 1 client"


def print_table(results: list[Result], bare_rps: float) -> None:
    header = (
        f"{'scenario':<40} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'x bare':>7} {'srv CPU':>8} {'us/req':>7} {'gen CPU':>8} {'other':>6}"
    )
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        ratio = r.rps / bare_rps if bare_rps else math.nan
        print(
            f"{r.scenario:<40} {r.requests:>9,} {r.rps:>8,.0f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
            f"{r.errors:>6} {ratio:>7.2f} {r.server_cpu:>8.0%} "
            f"{r.server_cpu / r.rps * 1e6 if r.rps else math.nan:>7.0f} {r.client_cpu:>8.0%} "
            f"{r.other_cpu:>6.0%}"
        )
        for label, (count, p50, p99) in r.parts.items():
            print(f"{'  ' + label:<40} {count:>9,} {'':>8} {p50:>8.1f} {p99:>8.1f}")
    for r in results:
        for sample in r.error_samples:
            print(f"  error in {r.scenario}: {sample}")
    print(
        f"x bare: req/s over the mean of the two bare runs ({bare_rps:,.0f} req/s). req/s counts "
        "HTTP requests\n(a start + stop pair is two). srv CPU: CPU time of the measured server "
        "process per wall second\n(100% = one core busy); us/req: its CPU per request; gen CPU: "
        "this load generator; other:\nthe rest of the machine (anything but ~0% there skews the "
        f"figures). '{BARE_POST}': the timer\nrequests answered by a bare handler, the most this "
        "load generator sends of them (a ceiling, not the\ngoal's baseline). "
        f"'{STORE_FLOOR}': bench/store_floor.py, only the store's reads and\nwrites of each "
        "request behind a bare handler."
    )


def print_goals(by_name: dict[str, Result], bare_rps: float) -> None:
    print("\nGoals (printed, not asserted):")
    for name, goal in ((TIMER_GET, 0.35), (TIMER_PAIR, 0.45)):
        if name not in by_name:
            continue
        r = by_name[name]
        ratio = r.rps / bare_rps if bare_rps else math.nan
        verdict = "met" if ratio >= goal else "NOT met"
        print(f"  {name}: {ratio:.2f} of the bare baseline (goal >= {goal:g}): {verdict}")
    if TIMER_WITH_REPORTS in by_name:
        r = by_name[TIMER_WITH_REPORTS]
        p99 = r.parts["GET timer"][2] if "GET timer" in r.parts else r.p99_ms
        verdict = "met" if p99 < 50 else "NOT met"
        print(f"  {TIMER_WITH_REPORTS}: GET timer p99 {p99:.1f} ms (goal < 50 ms): {verdict}")
    for name, label in ((REPORT_ALONE, "report"), (WEB_REPORT_ALONE, "web report")):
        if name not in by_name:
            continue
        r = by_name[name]
        _, p50, p99 = r.parts.get(label, (r.requests, r.p50_ms, r.p99_ms))
        verdict = "met" if p99 < 300 else "NOT met"
        print(f"  {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal < 300 ms): {verdict}")
    for name in (SEARCH_ADMIN, SEARCH_USERS, SEARCH_ADMIN_1, SEARCH_USERS_1):
        if name not in by_name:
            continue
        r = by_name[name]
        verdict = "met" if r.p99_ms < 50 else "NOT met"
        print(f"  {name}: p99 {r.p99_ms:.1f} ms (goal < 50 ms): {verdict}")


# --- Main ---------------------------------------------------------------------------------------


async def measure(
    args: argparse.Namespace,
    seeded: Seeded,
    server: Service,
    baseline: Service,
    floor: Service | None,
) -> None:
    workers = args.concurrency
    users = seeded.users
    # One client per user at most for the timer pairs (one user has one timer).
    timer_workers = max(1, min(workers, len(users)))
    admin = seeded.admin_token
    tokens = [u.token for u in users]
    if args.only is None:
        await describe_queries(server.base, admin, users[0])
    await start_some_timers(server.base, users)
    print(
        f"\nMeasuring: {workers} concurrent clients ({timer_workers} for timer pairs), "
        f"{args.warmup:g} s warm-up + {args.duration:g} s per scenario; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    memory_before = server.memory_kb()
    base = server.base
    reporters, timer_clients = args.reports, args.timer_clients
    with_reports = (
        timer_with_reports_step(base, admin, users, reporters, timer_clients),
        server,
        reporters + timer_clients,
    )
    cookie = await web_session(base, ADMIN_EMAIL)
    reports_plan: list[tuple[str, Step, Service, int]] = [
        # A few clients (latency, not throughput), alone and then beside the reports.
        (TIMER_ALONE, timer_get_step(base, users, timer_clients), server, timer_clients),
        (TIMER_WITH_REPORTS, *with_reports),
        # One report at a time: what one costs, without queueing.
        (REPORT_ALONE, timer_with_reports_step(base, admin, users, 1, 0), server, 1),
        (WEB_REPORT_ALONE, web_reports_step(base, cookie), server, 1),
    ]
    pairs_plan: list[tuple[str, Step, Service, int]] = [
        (TIMER_PAIR, timer_pair_step(base, users, timer_workers), server, timer_workers),
        # The same requests against a bare handler answering as much: the most this load
        # generator can send of them (not a baseline of the goal; a ceiling for the pairs).
        (
            BARE_POST,
            timer_pair_step(baseline.base, users, timer_workers),
            baseline,
            timer_workers,
        ),
    ]
    if floor is not None:
        # ...and against `store_floor.py`: only the store's reads and writes of a start or stop
        # behind a bare handler (what the store costs; the rest is the server's own layers).
        pairs_plan.append(
            (STORE_FLOOR, timer_pair_step(floor.base, users, timer_workers), floor, timer_workers)
        )
    plan: list[tuple[str, Step, Service, int]] = [
        (BARE, baseline_step(baseline.base), baseline, workers),
        (TIMER_GET, timer_get_step(base, users, workers), server, workers),
        *pairs_plan,
        (SEARCH_ADMIN, search_step(base, [admin], False, workers), server, workers),
        (SEARCH_USERS, search_step(base, tokens, True, workers), server, workers),
        # One client at a time: the service time of a search, without queueing.
        (SEARCH_ADMIN_1, search_step(base, [admin], False, 1), server, 1),
        (SEARCH_USERS_1, search_step(base, tokens, True, 1), server, 1),
        *reports_plan,
        # The baseline again: its spread shows how steady the machine was.
        (BARE_AGAIN, baseline_step(baseline.base), baseline, workers),
    ]
    if args.only == "reports":
        plan = [plan[0], *reports_plan, plan[-1]]
    elif args.only == "pairs":
        plan = [plan[0], *pairs_plan, plan[-1]]
    results = []
    for name, step, target, n in plan:
        results.append(
            await scenario(name, step, target, workers=n, seconds=args.duration, warmup=args.warmup)
        )
    memory_after = server.memory_kb()
    bare_rps = (results[0].rps + results[-1].rps) / 2
    print_table(results, bare_rps)
    print_goals({r.scenario: r for r in results}, bare_rps)
    bare_peak = baseline.memory_kb().get("VmHWM", "?")
    print(
        f"\nServer memory: RSS {memory_before.get('VmRSS', '?')} kB before measuring, "
        f"{memory_after.get('VmRSS', '?')} kB after; peak RSS (VmHWM) "
        f"{memory_after.get('VmHWM', '?')} kB. Bare app peak RSS {bare_peak} kB."
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks to seed (default 20000)")
    parser.add_argument("--users", type=int, default=200, help="users to seed (default 200)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent clients (default 32)"
    )
    parser.add_argument(
        "--duration", type=float, default=8.0, help="seconds measured per scenario (default 8)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="warm-up seconds per scenario (default 1)"
    )
    parser.add_argument(
        "--entries", type=int, default=50_000, help="time entries to seed (default 50000)"
    )
    parser.add_argument(
        "--reports", type=int, default=5, help="concurrent report clients (default 5)"
    )
    parser.add_argument(
        "--timer-clients",
        type=int,
        default=4,
        help="GET /timer clients beside the reports (default 4)",
    )
    parser.add_argument(
        "--only",
        choices=("reports", "pairs"),
        help="run only these scenarios (and the bare baseline)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directory and logs (path printed)"
    )
    args = parser.parse_args(argv)
    if min(args.tasks, args.users, args.concurrency, args.timer_clients) < 1 or args.duration <= 0:
        parser.error(
            "--tasks, --users, --concurrency, --timer-clients and --duration must be positive"
        )
    if args.entries < 0 or args.reports < 0:
        parser.error("--entries and --reports must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch("timetrail-bench-", args.keep) as workdir:
        run(args, workdir)
    return 0


def run(args: argparse.Namespace, workdir: Path) -> None:
    data_dir = workdir / "data"
    processes: list[Service] = []
    try:
        print(f"Server code: {code_version()}")
        print(
            f"Seeding 1 account, {args.users} users, {args.tasks:,} tasks, {args.entries:,} "
            f"entries in {data_dir}"
        )
        admin_token = init_account(server_env(data_dir))
        seeded = asyncio.run(seed(data_dir, admin_token, args.tasks, args.users, args.entries))
        print(
            f"  {seeded.tasks:,} tasks ({seeded.projects} projects), {len(seeded.users)} users "
            f"and {seeded.entries:,} entries in {seeded.seconds:.1f} s"
        )
        server = start_process(
            "server", [sys.executable, "-m", "server", "serve"], server_env(data_dir), workdir
        )
        processes.append(server)
        baseline = start_process(
            "baseline", [sys.executable, "-c", BASELINE_APP], server_env(data_dir), workdir
        )
        processes.append(baseline)
        floor = None
        if args.only != "reports":  # (the timer pairs' scenarios alone use it)
            # On a copy of the data: the embedded store admits one process at a time.
            shutil.copytree(data_dir, workdir / "floor-data")
            floor = start_process(
                "store-floor",
                [sys.executable, str(ROOT / "bench" / "store_floor.py")],
                server_env(workdir / "floor-data"),
                workdir,
            )
            processes.append(floor)
        ready = asyncio.run(wait_healthy(server))
        asyncio.run(wait_healthy(baseline))
        if floor is not None:
            asyncio.run(wait_healthy(floor))
        print(
            f"Server pid {server.pid} on port {server.port} healthy after {ready:.1f} s; "
            f"bare app pid {baseline.pid} on port {baseline.port}"
        )
        asyncio.run(measure(args, seeded, server, baseline, floor))
    finally:
        for process in reversed(processes):
            process.stop(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
